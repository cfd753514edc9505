import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolveConfig } from './config';
import type { Logger, RelayConfig, WebhookPayload } from './internal-types';
import { createLogger, stderrSink } from './log';
import { alertRelayNotificationsTotal, alertRelayQueueDepth, alertRelayRequestsTotal } from './metric-names';
import { Family, PROMETHEUS_CONTENT_TYPE, renderFamily } from './metrics';
import { parsePayload, PayloadError } from './payload';
import { Target, type PartOutcome } from './target';
import type { RelayAddress, RelayConfigInput, RelayOptions } from './types';

/** A running (or ready to run) alert relay. */
export interface Relay {
  /** The `node:http` request handler: mount it on your own server, or call `start()`. */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Starts an HTTP server on the configured `listen` address (or `listen` given here). */
  start(listen?: { host?: string; port?: number }): Promise<RelayAddress>;
  /**
   * Stops accepting requests, lets webhook calls in progress finish (bounded by
   * the delivery timeout), then closes connections and drops queued messages.
   */
  stop(): Promise<void>;
  /** The Prometheus text served on `/metrics`. */
  metrics(): string;
}

const SERVICE = 'vigil-alert-relay';

/**
 * Creates the relay from a configuration object (the YAML file's shape).
 * Throws RelayConfigError naming the field when the configuration is invalid;
 * after that, nothing it does throws.
 */
export function createRelay(input: RelayConfigInput, options: RelayOptions = {}): Relay {
  const config = resolveConfig(input, { ...(options.env ? { env: options.env } : {}), ...(options.baseDir ? { baseDir: options.baseDir } : {}) });
  return new RelayImpl(config, createLogger(config.logLevel, options.log ?? stderrSink));
}

class RelayImpl implements Relay {
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  private readonly targets = new Map<string, Target>();
  private readonly requests = new Family(alertRelayRequestsTotal);
  private readonly notifications = new Family(alertRelayNotificationsTotal);
  private readonly inflight = new Set<Promise<void>>();
  private server: Server | undefined;
  private stopping = false;

  constructor(
    private readonly config: RelayConfig,
    private readonly log: Logger,
  ) {
    for (const t of config.targets.values()) {
      this.targets.set(
        t.name,
        new Target(t, {
          requestTimeoutMs: config.requestTimeoutMs,
          dedupeTtlMs: config.dedupeTtlMs,
          dedupeMaxEntries: config.dedupeMaxEntries,
          language: config.language,
          timeZone: config.timeZone,
          log,
          count: (target, result, reason) => this.notifications.inc({ target: target.name, result, reason }),
        }),
      );
      this.notifications.touch({ target: t.name, result: 'sent', reason: 'ok' });
    }
    if (!config.auth) log('warn', 'no auth configured: anyone who can reach the relay can post alerts', {});
    this.handler = (req, res) => {
      const p = this.handle(req, res).catch((err: unknown) => {
        this.log('error', 'request handling failed', { error: errorText(err) });
        if (!res.headersSent) send(res, 500, { status: 'error', error: 'internal error' });
        else res.destroy();
      });
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
    };
  }

  async start(listen?: { host?: string; port?: number }): Promise<RelayAddress> {
    if (this.server) throw new Error('relay already started');
    const host = listen?.host ?? this.config.listen.host;
    const port = listen?.port ?? this.config.listen.port;
    const server = createServer(this.handler);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log('error', 'server error', { error: errorText(err) }));
    const addr = server.address() as AddressInfo;
    const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const address = { host: addr.address, port: addr.port, url: `http://${shown}:${addr.port}` };
    this.log('info', 'listening', {
      address: `${shown}:${addr.port}`,
      routes: [...this.config.routes.keys()],
      targets: [...this.config.targets.values()].map((t) => `${t.name} (${t.type})`),
    });
    return address;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const server = this.server;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    server?.closeIdleConnections();
    await Promise.allSettled([...this.inflight]);
    server?.closeAllConnections();
    await closed;
    for (const t of this.targets.values()) t.queue.close();
    this.server = undefined;
    this.log('info', 'stopped', {});
  }

  metrics(): string {
    const depth = [...this.targets.values()].map((t) => ({ labels: { target: t.config.name }, value: t.queue.depth }));
    return this.notifications.render() + renderFamily(alertRelayQueueDepth, depth) + this.requests.render();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://relay').pathname;
    if (path === '/health' || path === '/-/healthy' || path === '/-/ready') return this.health(req, res);
    if (path === '/metrics') {
      if (!isGet(req)) return methodNotAllowed(res, 'GET, HEAD');
      res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : this.metrics());
      return;
    }
    if (path === '/alerts' || path.startsWith('/alerts/')) return this.webhook(req, res, path);
    send(res, 404, { status: 'error', error: `not found: POST /alerts/<route> (routes: ${[...this.config.routes.keys()].join(', ')})` });
  }

  private health(req: IncomingMessage, res: ServerResponse): void {
    if (!isGet(req)) return methodNotAllowed(res, 'GET, HEAD');
    const targets = Object.fromEntries([...this.targets.values()].map((t) => [t.config.name, { type: t.config.type, queue_depth: t.queue.depth, sending: t.queue.busy }]));
    send(res, this.stopping ? 503 : 200, { status: this.stopping ? 'stopping' : 'ok', targets }, req.method === 'HEAD');
  }

  private async webhook(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const started = Date.now();
    let routeName = '';
    const answer = (code: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void => {
      this.requests.inc({ route: routeName, code: String(code) });
      send(res, code, body, false, headers);
    };
    if (req.method !== 'POST') {
      this.requests.inc({ route: '', code: '405' });
      return methodNotAllowed(res, 'POST');
    }
    const name = path === '/alerts' ? 'default' : safeDecode(path.slice('/alerts/'.length));
    const route = name === undefined ? undefined : this.config.routes.get(name);
    // The metric label is a configured route name or empty: bounded whatever the path.
    routeName = route?.name ?? '';
    const auth = this.authorize(req);
    if (auth !== true) {
      this.log('warn', 'webhook refused: unauthorized', { route: routeName, remote: req.socket.remoteAddress, why: auth });
      return answer(401, { status: 'error', error: 'unauthorized' }, { 'www-authenticate': this.challenge() });
    }
    if (!route) return answer(404, { status: 'error', error: `no route named ${JSON.stringify(name ?? path)}` });
    if (this.stopping) return answer(503, { status: 'error', error: 'relay is shutting down' });

    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== '' && type !== 'application/json') {
      return answer(415, { status: 'error', error: `content-type must be application/json, got ${type}` });
    }
    const body = await readBody(req, this.config.maxBodyBytes);
    if (body === 'too_large') {
      res.setHeader('connection', 'close');
      this.log('warn', 'webhook refused: payload too large', { route: route.name, limit: this.config.maxBodyBytes });
      return answer(413, { status: 'error', error: `payload larger than max_body_bytes (${this.config.maxBodyBytes} bytes); set max_alerts on the Alertmanager webhook_config` });
    }
    if (body === 'aborted') return;
    let payload: WebhookPayload;
    try {
      payload = parsePayload(JSON.parse(body.toString('utf8')));
    } catch (err) {
      const reason = err instanceof PayloadError ? `invalid payload: ${err.message}` : `invalid JSON: ${errorText(err)}`;
      this.log('warn', 'webhook refused: bad request', { route: route.name, reason });
      return answer(400, { status: 'error', error: reason });
    }

    const deadline = AbortSignal.timeout(this.config.deliveryTimeoutMs);
    const results = await Promise.all(
      route.targets.map(async (name) => {
        const target = this.targets.get(name)!;
        try {
          return { target: name, outcomes: await target.deliver(payload, deadline) };
        } catch (err) {
          this.log('error', 'rendering failed', { target: name, error: errorText(err) });
          const failed: PartOutcome = { outcome: 'failed', part: 0, total: 0, reason: 'internal', detail: errorText(err) };
          return { target: name, outcomes: [failed] };
        }
      }),
    );
    const failures = results.flatMap((r) =>
      r.outcomes.filter((o): o is Extract<PartOutcome, { outcome: 'failed' }> => o.outcome === 'failed').map((o) => ({ target: r.target, part: o.part, parts: o.total, reason: o.reason, detail: o.detail })),
    );
    const sent = results.reduce((n, r) => n + r.outcomes.filter((o) => o.outcome === 'sent').length, 0);
    const skipped = results.reduce((n, r) => n + r.outcomes.filter((o) => o.outcome === 'skipped').length, 0);
    const fields = {
      route: route.name,
      receiver: payload.receiver,
      status: payload.status,
      alerts: payload.alerts.length,
      group_labels: payload.groupLabels,
      sent,
      skipped,
      failed: failures.length,
      duration_ms: Date.now() - started,
    };
    if (failures.length === 0) {
      this.log('info', 'notification delivered', fields);
      return answer(200, { status: 'success', sent, skipped });
    }
    // Waiting for capacity is worth a retry soon (503); a refusal or error of the service is a bad gateway (502).
    const overloaded = failures.every((f) => f.reason === 'timeout' || f.reason === 'queue_full' || f.reason === 'rate_limited');
    const code = overloaded ? 503 : 502;
    this.log('warn', 'notification not delivered, Alertmanager will retry', { ...fields, code, failures });
    return answer(code, { status: 'error', error: 'not every message was delivered; retry', sent, skipped, failures });
  }

  /** true, or why not. Compares digests with timingSafeEqual so timing reveals nothing. */
  private authorize(req: IncomingMessage): true | string {
    const auth = this.config.auth;
    if (!auth) return true;
    const header = req.headers['authorization'];
    if (!header) return 'no Authorization header';
    const space = header.indexOf(' ');
    const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
    const value = space < 0 ? '' : header.slice(space + 1).trim();
    if (scheme === 'bearer' && auth.bearerToken !== undefined) {
      return same(value, auth.bearerToken) ? true : 'wrong bearer token';
    }
    if (scheme === 'basic' && auth.basic) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return 'malformed basic credentials';
      const userOk = same(decoded.slice(0, colon), auth.basic.username);
      const passOk = same(decoded.slice(colon + 1), auth.basic.password);
      return userOk && passOk ? true : 'wrong basic credentials';
    }
    return `scheme ${scheme} not accepted`;
  }

  private challenge(): string {
    const auth = this.config.auth!;
    const list: string[] = [];
    if (auth.bearerToken !== undefined) list.push(`Bearer realm="${SERVICE}"`);
    if (auth.basic) list.push(`Basic realm="${SERVICE}", charset="UTF-8"`);
    return list.join(', ');
  }
}

function same(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too_large' | 'aborted'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve('too_large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (v: Buffer | 'too_large' | 'aborted'): void => {
      if (done) return;
      done = true;
      resolve(v);
    };
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        req.pause();
        return finish('too_large');
      }
      chunks.push(chunk);
    });
    req.on('end', () => finish(Buffer.concat(chunks)));
    req.on('error', () => finish('aborted'));
    req.on('close', () => finish(size > limit ? 'too_large' : req.complete ? Buffer.concat(chunks) : 'aborted'));
  });
}

function send(res: ServerResponse, code: number, body: Record<string, unknown>, headOnly = false, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(headOnly ? undefined : text);
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  send(res, 405, { status: 'error', error: `method not allowed; use ${allow}` }, false, { allow });
}

function isGet(req: IncomingMessage): boolean {
  return req.method === 'GET' || req.method === 'HEAD';
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
