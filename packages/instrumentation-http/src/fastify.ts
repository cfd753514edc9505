// Fastify: no module patching. Fastify publishes every new instance on the
// 'fastify.initialization' diagnostics channel (so this works for require and
// import alike); vigil adds one onRequest hook there, before any plugin or user
// hook exists, so it runs first for every request, 404s included. The hook copies
// the route template (the route's `url` with its plugin prefixes) onto the
// request state; the response finish reads it.
import { logOnce } from '@vigil/catalog';
import { boundEndpoint, Framework, kFastifyServer, stateOf } from './internal-types';

export const FASTIFY_INIT_CHANNEL = 'fastify.initialization';

const kHooked = Symbol('vigil.http.fastify-hooked');

interface FastifyRequestLike {
  raw: unknown;
  routeOptions?: { url?: unknown };
  [k: symbol]: unknown;
}

interface FastifyInstanceLike {
  addHook(name: string, fn: (request: FastifyRequestLike, reply: unknown, done: () => void) => void): unknown;
  server?: object;
  [k: symbol]: unknown;
}

// Fastify keeps the route's context (whose config.url is the template) under a
// symbol; reading it avoids the object `request.routeOptions` builds on each call.
// Found once on the first request; routeOptions is the fallback.
let routeContextKey: symbol | null | undefined;

function findRouteContextKey(request: object): symbol | null {
  for (const s of Object.getOwnPropertySymbols(request)) if (s.description === 'fastify.context') return s;
  return null;
}

/** The route template of a Fastify request; undefined for 404s. */
export function fastifyRoute(request: FastifyRequestLike): string | undefined {
  let url: unknown;
  if (routeContextKey === undefined) routeContextKey = findRouteContextKey(request);
  const ctx = routeContextKey !== null ? (request[routeContextKey] as { config?: { url?: unknown } } | undefined) : undefined;
  if (ctx !== undefined) url = ctx.config?.url;
  else url = request.routeOptions?.url;
  return typeof url === 'string' && url.length > 0 ? boundEndpoint(url) : undefined;
}

function vigilOnRequest(request: FastifyRequestLike, _reply: unknown, done: () => void): void {
  try {
    const st = stateOf(request.raw);
    if (st !== undefined) {
      st.framework = Framework.Fastify;
      st.holder = request;
      st.route = fastifyRoute(request);
    }
  } catch {
    // never in the way of the request
  }
  done();
}

/** Subscriber of 'fastify.initialization': hooks a new Fastify instance. */
export function onFastifyInit(message: unknown): void {
  try {
    const fastify = (message as { fastify?: FastifyInstanceLike } | null)?.fastify;
    if (fastify == null || typeof fastify.addHook !== 'function' || fastify[kHooked] === true) return;
    fastify[kHooked] = true;
    fastify.addHook('onRequest', vigilOnRequest);
    const server = fastify.server as { [k: symbol]: unknown } | undefined;
    if (server != null) server[kFastifyServer] = true;
  } catch (err) {
    logOnce('http:fastify-init', 'warn', `could not hook a Fastify instance (${err instanceof Error ? err.message : String(err)}); its requests get normalised paths instead of route templates`);
  }
}
