// Serving the health object: node:http (also vigil's own metrics server),
// Express, Fastify and Koa. The frameworks are duck-typed: this package has no
// runtime dependency on any of them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { logOnce } from '@vigil/catalog';
import { json, writeAnswer, type Answer } from './answer';
import { createHealth, processHealth, statusCodeOf } from './health';
import { resolveStats, type StatsEndpoint } from './stats';
import type { HandlerOptions, Health } from './types';

/** Default readiness paths (the seed serves `/health`). */
export const DEFAULT_READY_PATHS: readonly string[] = ['/health', '/health/ready'];
/** Default liveness paths. */
export const DEFAULT_LIVE_PATHS: readonly string[] = ['/health/live'];

type Kind = 'ready' | 'live' | 'stats';

/** Served when no health object exists: liveness, and readiness with no checks. */
let noChecks: Health | undefined;

function pathList(value: unknown, fallback: readonly string[], what: string): string[] {
  if (value === undefined) return [...fallback];
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value : undefined;
  const ok = list?.filter((p): p is string => typeof p === 'string' && p.startsWith('/'));
  if (!ok || ok.length !== list!.length) {
    logOnce(`health:paths:${what}`, 'warn', `${what} must be a list of paths starting with "/"; using ${fallback.join(', ')}`);
    return [...fallback];
  }
  return ok;
}

function trimSlash(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/** Routes requests to readiness, liveness or stats and computes the answer. */
class Router {
  private readonly routes = new Map<string, Kind>();
  private readonly stats: StatsEndpoint | undefined;

  constructor(
    private readonly health: Health | undefined,
    options: HandlerOptions | undefined,
  ) {
    const o = options !== null && typeof options === 'object' ? options : {};
    this.stats = resolveStats(o.stats);
    if (this.stats) this.routes.set(trimSlash(this.stats.path), 'stats');
    for (const p of pathList(o.livePaths, DEFAULT_LIVE_PATHS, 'livePaths')) this.routes.set(trimSlash(p), 'live');
    for (const p of pathList(o.readyPaths, DEFAULT_READY_PATHS, 'readyPaths')) this.routes.set(trimSlash(p), 'ready');
    if (health !== undefined && (health === null || typeof health.run !== 'function' || typeof health.live !== 'function')) {
      logOnce('health:handler:not-health', 'warn', 'a health handler was given something that is not a health object (from createHealth); its readiness path answers 503');
    }
  }

  /** The health object given, else the process's (looked up per request), else one without checks. */
  private current(): Health | undefined {
    if (this.health !== undefined) return this.health;
    return processHealth() ?? (noChecks ??= createHealth({ register: false, metrics: false }));
  }

  /** Every served path and what it serves. */
  paths(): Array<[string, Kind]> {
    return [...this.routes];
  }

  /** What a request path (with or without query string) serves, if anything. */
  match(url: string | undefined): Kind | undefined {
    if (!url) return undefined;
    const q = url.indexOf('?');
    return this.routes.get(trimSlash(q >= 0 ? url.slice(0, q) : url));
  }

  /** The answer; never rejects. */
  async answer(kind: Kind, method: string | undefined, req: IncomingMessage, context: unknown): Promise<Answer> {
    if (method !== 'GET' && method !== 'HEAD') return json(405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
    try {
      if (kind === 'stats') return await this.stats!.answer(req, context);
      const h = this.current();
      if (!h || typeof h.run !== 'function' || typeof h.live !== 'function') return json(503, { status: 'unhealthy', timestamp: Date.now() / 1000, checks: {} });
      if (kind === 'live') return json(200, h.live());
      const report = await h.run();
      return json(statusCodeOf(report), report);
    } catch (err) {
      logOnce('health:handler:failed', 'error', `the health handler failed: ${String(err).slice(0, 200)}`);
      return json(500, { error: 'internal error' });
    }
  }
}

/**
 * A node:http handler. Returns true when the request's path is a health (or stats) path, which it answers;
 * otherwise returns false and calls `next()` when given, or answers 404 when not
 * (so `http.createServer(healthRequestHandler(health))` is a complete server).
 */
export type HealthRequestHandler = (req: IncomingMessage, res: ServerResponse, next?: () => void) => boolean;

/**
 * Serves readiness (`/health`, `/health/ready`), liveness (`/health/live`) and, when configured, the
 * stats endpoint on node:http — including vigil's own metrics server:
 * `handler(req, res, () => serveMetrics(req, res))`.
 * Without a health argument it serves the process's health object (`processHealth()`, looked up on each
 * request), or, when the app created none, liveness and a readiness report with no checks.
 */
export function healthRequestHandler(health?: Health, options?: HandlerOptions): HealthRequestHandler {
  const router = new Router(health, options);
  return (req, res, next) => {
    const kind = router.match(req.url);
    if (!kind) {
      if (typeof next === 'function') next();
      else writeAnswer(res, json(404, { error: 'not found' }), req.method === 'HEAD');
      return false;
    }
    void router.answer(kind, req.method, req, req).then((answer) => writeAnswer(res, answer, req.method === 'HEAD'));
    return true;
  };
}

/** An Express (4 or 5) middleware; assignable to Express's RequestHandler. */
export type ExpressHealthMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * Express middleware: `app.use(expressHealth(health))`. Paths are matched against `req.url`, so under
 * `app.use('/monitoring', expressHealth(health))` the readiness path is `/monitoring/health`.
 * Requests for other paths go on to `next()`.
 */
export function expressHealth(health?: Health, options?: HandlerOptions): ExpressHealthMiddleware {
  const handler = healthRequestHandler(health, options);
  return (req, res, next) => {
    handler(req, res, () => next());
  };
}

/** The part of a Koa context the middleware uses. */
export interface KoaContextLike {
  readonly path: string;
  readonly method: string;
  readonly req: IncomingMessage;
  status: number;
  body: unknown;
  set(field: string, value: string | string[]): void;
}

/** A Koa middleware. */
export type KoaHealthMiddleware = (ctx: KoaContextLike, next: () => Promise<unknown>) => Promise<void>;

/** Koa middleware: `app.use(koaHealth(health))`. Requests for other paths go on to `next()`. */
export function koaHealth(health?: Health, options?: HandlerOptions): KoaHealthMiddleware {
  const router = new Router(health, options);
  return async (ctx, next) => {
    const kind = router.match(ctx.path);
    if (!kind) {
      await next();
      return;
    }
    const answer = await router.answer(kind, ctx.method, ctx.req, ctx);
    ctx.status = answer.status;
    // The content type is set before the body, so Koa keeps it (and answers HEAD without a body itself).
    for (const [k, v] of Object.entries(answer.headers)) ctx.set(k, v);
    ctx.body = answer.body;
  };
}

/** The part of a Fastify request the routes use. */
export interface FastifyRequestLike {
  readonly raw: IncomingMessage;
  readonly method: string;
}

/** The part of a Fastify reply the routes use. */
export interface FastifyReplyLike {
  code(statusCode: number): unknown;
  header(key: string, value: string | string[]): unknown;
}

/** The part of a Fastify instance the plugin uses. */
export interface FastifyInstanceLike {
  get(path: string, handler: (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<string>): unknown;
}

/** A Fastify plugin. */
export type FastifyHealthPlugin = (instance: FastifyInstanceLike) => Promise<void>;

/**
 * Fastify plugin: `await app.register(fastifyHealth(health))` (a `prefix` register option prefixes the paths).
 * Registers GET routes (Fastify adds HEAD) for readiness, liveness and, when configured, stats.
 */
export function fastifyHealth(health?: Health, options?: HandlerOptions): FastifyHealthPlugin {
  const router = new Router(health, options);
  return async (instance) => {
    for (const [path, kind] of router.paths()) {
      instance.get(path, async (request, reply) => {
        const answer = await router.answer(kind, request.method, request.raw, request);
        reply.code(answer.status);
        for (const [k, v] of Object.entries(answer.headers)) reply.header(k, v);
        // A string with a JSON content type is sent as it is.
        return answer.body;
      });
    }
  };
}
