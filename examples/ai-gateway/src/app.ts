// The demo AI gateway: an Express 5 service over PostgreSQL and Redis.
//
// There is no vigil code here for HTTP, PostgreSQL or Redis: started with
// `node --require @vigil/node/register`, vigil measures every request (by route
// template), every statement and every Redis command. Business and gateway
// metrics are one line each, through @vigil/business and @vigil/gateway, and
// /health is @vigil/health.
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Redis } from 'ioredis';
import {
  businessMetrics,
  configureBusinessMetrics,
  loginFailed,
  markRegistered,
  paymentFailed,
  recordError,
  suspiciousAccess,
  uploadFailed,
} from '@vigil/business';
import { createGatewayMetrics, type GatewayMetrics } from '@vigil/gateway';
import { createHealth, customCheck, expressHealth, postgresCheck, redisCheck, type Health } from '@vigil/health';
import { Auth } from './auth';
import { ChannelRegistry } from './channels';
import type { DemoConfig, FaultRates } from './config';
import { CreditLedger, Database, hashPassword, InsufficientCreditsError, newApiKey, UnknownRecipientError, verifyPassword } from './db';
import { chatCompletions, testChannel } from './relay';
import { IMAGE_MODES, IMAGE_SERVICES, MODEL_PRICES } from './products';
import { ImageTasks } from './tasks';
import type { ForcedFault } from './upstreams';

export interface RunningGateway {
  port: number;
  server: Server;
  registry: ChannelRegistry;
  /** Stops serving and closes every connection, timer and upstream. */
  close(): Promise<void>;
}

const VERSION = (require('../../package.json') as { version: string }).version;

/** Paths of the usual vulnerability scans: a hit is a suspicious access pattern. */
const SCAN_PATHS = /^\/(?:\.env|\.git\/|wp-login\.php|wp-admin|phpmyadmin|admin\.php|\.aws\/|server-status|actuator|cgi-bin\/)/i;
/** Query strings and paths of injection attempts. */
const INJECTION = /(?:'\s*or\s*'?\d*'?\s*=|union\s+select|<script|\.\.\/\.\.\/|;\s*drop\s+table)/i;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}\.[a-z]{2,}$/i;
/** Test card numbers the mock payment provider declines (as Stripe's test cards do). */
const DECLINED_CARDS = new Set(['4000000000000002', '4000000000009995']);
const MAX_PURCHASE = 100_000;
const UPLOAD_TYPES = new Set(['image/png', 'image/jpeg', 'image/webp', 'application/pdf', 'text/plain']);

/** Starts the gateway: schema, seeds, mock upstream channels, HTTP server. */
export async function startGateway(config: DemoConfig): Promise<RunningGateway> {
  const db = new Database(config.pg);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2, connectionName: 'ai-gateway' });
  redis.on('error', (err) => console.error(`ai-gateway: Redis: ${err.message}`));
  try {
    await db.migrate();
    await db.seed();
    await redis.ping();
  } catch (e) {
    redis.disconnect();
    await db.close().catch(() => undefined);
    throw e;
  }

  // Distinct users across instances: HyperLogLogs in the same Redis.
  configureBusinessMetrics({
    redis,
    redisKeyPrefix: `${config.redisPrefix}{users}:`,
    // system_info's service_name: OTEL_SERVICE_NAME or service.name when set, else this service's name.
    serviceName: process.env.OTEL_SERVICE_NAME || (/(?:^|,)\s*service\.name\s*=/.test(process.env.OTEL_RESOURCE_ATTRIBUTES ?? '') ? undefined : 'ai-gateway'),
    serviceVersion: VERSION,
  });
  const gateway: GatewayMetrics = createGatewayMetrics();
  const ledger = new CreditLedger(db);
  const auth = new Auth(db, redis, config.redisPrefix, config.rateLimitPerSecond);
  const registry = new ChannelRegistry(config, gateway, (channel) => testChannel(channel, gateway, config.upstreamTimeoutMs));
  await registry.start();
  const tasks = new ImageTasks(config, db, ledger);

  const health: Health = createHealth({
    checks: {
      database: postgresCheck(db.pool),
      redis: redisCheck(redis),
      upstream_channels: customCheck('Upstream channels', async (signal) => {
        const enabled = registry.channels.filter((c) => c.status === 'enabled');
        const answering = await Promise.all(
          enabled.map((c) =>
            fetch(`${c.upstream.baseUrl}/health`, { signal }).then(
              (r) => (r.ok ? c : undefined),
              () => undefined,
            ),
          ),
        );
        // Ready while some channel answers: one model without a channel must not take the whole
        // gateway out of the load balancer (its requests fail on their own, with 503).
        const up = answering.filter((c) => c !== undefined);
        const unroutable = registry.models().filter((m) => !up.some((c) => c.def.models.includes(m)));
        return {
          healthy: up.length > 0,
          message:
            `${up.length} of ${registry.channels.length} channels enabled and answering` +
            (unroutable.length > 0 ? `; no channel for ${unroutable.join(', ')}` : ''),
        };
      }),
    },
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  // Injection attempts in the URL: refused before anything reads them.
  app.use((req: Request, res: Response, next: NextFunction) => {
    let url = req.originalUrl;
    try {
      url = decodeURIComponent(url);
    } catch {
      // keep the raw text
    }
    if (INJECTION.test(url)) {
      suspiciousAccess('injection_attempt', 'high');
      res.status(400).json({ error: 'bad request' });
      return;
    }
    next();
  });

  // /health (the seed's), /health/live, /health/ready and the admin-only /monitoring/stats,
  // as routes so that each has its own endpoint label.
  const healthEndpoints = expressHealth(health, { stats: { token: config.adminToken } });
  for (const path of ['/health', '/health/live', '/health/ready', '/monitoring/stats']) app.all(path, healthEndpoints);
  app.use(express.json({ limit: '1mb' }));

  // ---------------------------------------------------------------- OpenAI-style API
  const requireUser = auth.required();
  const limited = auth.rateLimited();

  app.get('/v1/models', requireUser, limited, (_req, res) => {
    const created = 1_700_000_000;
    res.json({ object: 'list', data: registry.models().map((id) => ({ id, object: 'model', created, owned_by: 'ai-gateway' })) });
  });
  app.post('/v1/chat/completions', requireUser, limited, chatCompletions(config, registry, gateway, ledger));

  // ---------------------------------------------------------------- users
  app.post('/api/register', async (req, res) => {
    const { email, password } = (req.body ?? {}) as { email?: unknown; password?: unknown };
    if (typeof email !== 'string' || !EMAIL.test(email) || typeof password !== 'string' || password.length < 8 || password.length > 200) {
      res.status(400).json({ error: 'a valid email and a password of at least 8 characters are required' });
      return;
    }
    const apiKey = newApiKey();
    const user = await db.createUser(email.toLowerCase(), await hashPassword(password), apiKey);
    if (!user) {
      res.status(409).json({ error: 'this email is already registered' });
      return;
    }
    markRegistered(user.id);
    res.status(201).json({ id: user.id, role: user.role, api_key: apiKey, credits: await db.balance(user.id) });
  });

  app.post('/api/login', async (req, res) => {
    const { email, password } = (req.body ?? {}) as { email?: unknown; password?: unknown };
    if (typeof email !== 'string' || typeof password !== 'string' || email.length > 254 || password.length > 200) {
      res.status(400).json({ error: 'email and password are required' });
      return;
    }
    const user = await db.userByEmail(email.toLowerCase());
    const ok = user ? await verifyPassword(password, user.passwordHash) : false;
    if (!user || !ok) {
      loginFailed(user ? 'wrong_password' : 'unknown_user');
      await auth.loginFailedFor(email);
      res.status(401).json({ error: 'wrong email or password' });
      return;
    }
    await auth.loginSucceededFor(email);
    await db.touchLogin(user.id);
    const session = await auth.createSession({ id: user.id, role: user.role });
    res.json({ token: session, role: user.role, expires_in: 3600 });
  });

  app.get('/api/me', requireUser, async (req, res) => {
    res.json({ role: req.user!.role, credits: await db.balance(req.user!.id) });
  });

  // ---------------------------------------------------------------- credits
  app.post('/api/credits/purchase', requireUser, limited, async (req, res) => {
    const { amount, card } = (req.body ?? {}) as { amount?: unknown; card?: unknown };
    if (typeof amount !== 'number' || !Number.isInteger(amount) || amount <= 0) {
      res.status(400).json({ error: 'amount must be a positive whole number of credits' });
      return;
    }
    if (amount > MAX_PURCHASE) {
      paymentFailed('amount_over_limit');
      res.status(402).json({ error: `at most ${MAX_PURCHASE} credits per purchase` });
      return;
    }
    if (typeof card !== 'string' || !/^\d{12,19}$/.test(card)) {
      paymentFailed('invalid_card');
      res.status(402).json({ error: 'invalid card number' });
      return;
    }
    if (DECLINED_CARDS.has(card)) {
      paymentFailed('card_declined');
      res.status(402).json({ error: 'your card was declined' });
      return;
    }
    const { credit } = await ledger.purchase(req.user!, amount, `payment:${createHash('sha256').update(card).digest('hex').slice(0, 12)}`);
    res.json({ credits: credit });
  });

  app.post('/api/credits/transfer', requireUser, limited, async (req, res) => {
    const { to_email: toEmail, amount } = (req.body ?? {}) as { to_email?: unknown; amount?: unknown };
    if (typeof toEmail !== 'string' || typeof amount !== 'number' || !Number.isInteger(amount) || amount <= 0) {
      res.status(400).json({ error: 'to_email and a positive whole amount are required' });
      return;
    }
    const to = await db.userByEmail(toEmail.toLowerCase());
    if (!to || to.id === req.user!.id) {
      res.status(404).json({ error: 'no such recipient' });
      return;
    }
    try {
      res.json({ credits: await ledger.transfer(req.user!, to.id, amount) });
    } catch (e) {
      if (e instanceof InsufficientCreditsError) res.status(402).json({ error: 'insufficient credits' });
      else if (e instanceof UnknownRecipientError) res.status(404).json({ error: 'no such recipient' });
      else throw e;
    }
  });

  // ---------------------------------------------------------------- image tasks
  app.post('/api/images/generations', requireUser, limited, async (req, res) => {
    const { service = 'midjourney', mode = 'fast', prompt } = (req.body ?? {}) as { service?: unknown; mode?: unknown; prompt?: unknown };
    if (typeof service !== 'string' || !(service in IMAGE_SERVICES)) {
      res.status(400).json({ error: `service must be one of ${Object.keys(IMAGE_SERVICES).join(', ')}` });
      return;
    }
    if (typeof mode !== 'string' || !(IMAGE_MODES as readonly string[]).includes(mode)) {
      res.status(400).json({ error: `mode must be one of ${IMAGE_MODES.join(', ')}` });
      return;
    }
    if (typeof prompt !== 'string' || prompt.length === 0 || prompt.length > 2000) {
      res.status(400).json({ error: 'a prompt of 1 to 2000 characters is required' });
      return;
    }
    try {
      res.status(202).json(await tasks.submit(req.user!, service, mode, prompt));
    } catch (e) {
      if (e instanceof InsufficientCreditsError) res.status(402).json({ error: 'insufficient credits' });
      else throw e;
    }
  });

  app.get('/api/tasks/:id', requireUser, async (req, res) => {
    const id = String(req.params.id);
    const task = /^[0-9a-f-]{36}$/i.test(id) ? await db.task(id, req.user!.id) : undefined;
    if (!task) {
      res.status(404).json({ error: 'no such task' });
      return;
    }
    res.json(task);
  });

  // ---------------------------------------------------------------- uploads
  app.post('/api/files', requireUser, limited, express.raw({ type: () => true, limit: config.maxUploadBytes }), async (req, res) => {
    const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (!UPLOAD_TYPES.has(type)) {
      uploadFailed('unsupported_type');
      res.status(415).json({ error: `unsupported file type; allowed: ${[...UPLOAD_TYPES].join(', ')}` });
      return;
    }
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (body.length === 0) {
      uploadFailed('empty_file');
      res.status(400).json({ error: 'empty file' });
      return;
    }
    const digest = createHash('sha256').update(body).digest('hex');
    const id = await db.insertFile(req.user!.id, type, body.length, digest);
    res.status(201).json({ id, bytes: body.length, sha256: digest });
  });

  // ---------------------------------------------------------------- admin
  // The admin check runs inside each route, so a refused request still has its route as endpoint.
  const admin = express.Router();
  const adminOnly = Auth.admin(config.adminToken);
  admin.get('/channels', adminOnly, (_req, res) => {
    res.json(
      registry.channels.map((c) => ({
        id: c.id,
        name: c.def.name,
        type: c.def.type,
        models: c.def.models,
        status: c.status,
        window: c.window(),
        fault: c.upstream.forced,
        rates: c.upstream.profile.rates,
        served: c.upstream.served,
        prices: Object.fromEntries(c.def.models.map((m) => [m, MODEL_PRICES[m]])),
      })),
    );
  });
  admin.post('/channels/:id/fault', adminOnly, (req, res) => {
    const channel = registry.get(String(req.params.id));
    if (!channel) {
      res.status(404).json({ error: 'no such channel' });
      return;
    }
    const { mode = 'none', rates } = (req.body ?? {}) as { mode?: unknown; rates?: unknown };
    if (!['none', 'error', 'rate_limit', 'timeout'].includes(String(mode))) {
      res.status(400).json({ error: 'mode must be none, error, rate_limit or timeout' });
      return;
    }
    const parsed: Partial<FaultRates> = {};
    if (rates && typeof rates === 'object') {
      for (const k of ['rateLimit', 'serverError', 'timeout', 'streamCut'] as const) {
        const v = (rates as Record<string, unknown>)[k];
        if (typeof v === 'number' && v >= 0 && v <= 1) parsed[k] = v;
      }
    }
    registry.setFault(channel, mode as ForcedFault, parsed);
    res.json({ id: channel.id, fault: channel.upstream.forced, rates: channel.upstream.profile.rates });
  });
  admin.post('/channels/:id/disable', adminOnly, (req, res) => {
    const channel = registry.get(String(req.params.id));
    if (!channel) {
      res.status(404).json({ error: 'no such channel' });
      return;
    }
    registry.setStatus(channel, 'manually_disabled');
    res.json({ id: channel.id, status: channel.status });
  });
  admin.post('/channels/:id/enable', adminOnly, (req, res) => {
    const channel = registry.get(String(req.params.id));
    if (!channel) {
      res.status(404).json({ error: 'no such channel' });
      return;
    }
    registry.setStatus(channel, 'enabled');
    res.json({ id: channel.id, status: channel.status });
  });
  app.use('/admin', admin);

  // ---------------------------------------------------------------- the rest
  app.use((req: Request, res: Response) => {
    if (SCAN_PATHS.test(req.path)) suspiciousAccess('path_scan');
    res.status(404).json({ error: 'not found' });
  });

  app.use((err: Error & { type?: string; status?: number }, req: Request, res: Response, _next: NextFunction) => {
    if (err.type === 'entity.too.large') {
      if (req.path === '/api/files') uploadFailed('file_too_large');
      if (!res.headersSent) res.status(413).json({ error: 'request body too large' });
      return;
    }
    if (err.type === 'entity.parse.failed') {
      if (!res.headersSent) res.status(400).json({ error: 'malformed JSON' });
      return;
    }
    recordError(err, 'api');
    console.error(`ai-gateway: ${req.method} ${req.path}: ${err.stack ?? err.message}`);
    if (!res.headersSent) res.status(500).json({ error: 'internal error' });
    else res.end();
  });

  const server = app.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  server.keepAliveTimeout = 10_000;
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  return {
    port,
    server,
    registry,
    close() {
      return (closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          setTimeout(() => server.closeAllConnections(), 2000).unref();
        });
        await tasks.shutdown();
        await registry.stop();
        health.close();
        await businessMetrics().shutdown();
        gateway.shutdown();
        await redis.quit().catch(() => redis.disconnect());
        await db.close();
      })());
    },
  };
}
