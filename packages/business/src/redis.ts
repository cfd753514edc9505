// The few Redis commands the distinct-user counts need, over whatever client
// the application already has (duck-typed; vigil depends on no Redis library).
//
// They are vigil's commands, not the application's cache operations: each is issued
// marked, so that @vigil/instrumentation-redis leaves it out of cache_operations_total
// and cache_operation_duration_seconds, and OpenTelemetry's tracing is suppressed for it,
// so that the trace instrumentations of ioredis and node-redis make no span of it. The
// marker is the one instrumentation-redis reads (its internal.ts): a depth counter raised
// around the synchronous call that issues a command (the clients take a command inside
// that call), a count of the commands still pending, and a key in the OpenTelemetry
// context (which follows a command through awaits where a context manager is registered).
import { context, createContextKey } from '@opentelemetry/api';

export interface HllCommands {
  pfadd(key: string, members: string[]): Promise<unknown>;
  pfcount(keys: string[]): Promise<number>;
  expire(key: string, seconds: number): Promise<unknown>;
}

/** The key @opentelemetry/core's suppressTracing() sets (createContextKey is Symbol.for of the description). */
const SUPPRESS_TRACING = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');
/** @vigil/instrumentation-redis: the context key of vigil's own commands. */
const INTERNAL_CONTEXT = createContextKey('vigil: internal Redis commands');
/** @vigil/instrumentation-redis: where the marker lives (registered, so that separate copies agree). */
const INTERNAL_COMMANDS = Symbol.for('vigil.internal-redis-commands');

interface Marker {
  depth: number;
  pending: number;
}

const registry = globalThis as { [INTERNAL_COMMANDS]?: Partial<Marker> };
const shared = (registry[INTERNAL_COMMANDS] ??= {});
shared.depth ??= 0;
shared.pending ??= 0;
const marker = shared as Marker;

const settled = (): void => {
  marker.pending--;
};

/** Issues one of vigil's own commands: send() calls the client and returns its promise. */
async function internal<T>(send: () => T | Promise<T>): Promise<T> {
  const ctx = context.active().setValue(SUPPRESS_TRACING, true).setValue(INTERNAL_CONTEXT, true);
  let reply: T | Promise<T>;
  marker.depth++;
  marker.pending++;
  try {
    reply = context.with(ctx, send);
  } catch (err) {
    marker.pending--;
    throw err;
  } finally {
    marker.depth--;
  }
  const p = Promise.resolve(reply);
  p.then(settled, settled);
  return p;
}

type Fn = (...args: unknown[]) => unknown;
const isFn = (v: unknown): v is Fn => typeof v === 'function';

function num(v: unknown): number {
  const n = typeof v === 'bigint' ? Number(v) : Number(v);
  if (!Number.isFinite(n)) throw new Error(`PFCOUNT answered ${String(v).slice(0, 40)}`);
  return n;
}

/** Adapts an ioredis / node-redis / compatible client; undefined when the object has none of the known shapes. */
export function hllCommands(client: unknown): HllCommands | undefined {
  if (client === null || (typeof client !== 'object' && typeof client !== 'function')) return undefined;
  const c = client as Record<string, unknown>;
  // ioredis (Redis, Cluster) and clients with the same lower-case methods.
  if (isFn(c.pfadd) && isFn(c.pfcount) && isFn(c.expire)) {
    return {
      pfadd: (key, members) => internal(() => (c.pfadd as Fn).call(c, key, ...members)),
      pfcount: async (keys) => num(await internal(() => (c.pfcount as Fn).call(c, ...keys))),
      expire: (key, seconds) => internal(() => (c.expire as Fn).call(c, key, seconds)),
    };
  }
  // node-redis v4+ (client and cluster).
  if (isFn(c.pfAdd) && isFn(c.pfCount) && isFn(c.expire)) {
    return {
      pfadd: (key, members) => internal(() => (c.pfAdd as Fn).call(c, key, members)),
      pfcount: async (keys) => num(await internal(() => (c.pfCount as Fn).call(c, keys))),
      expire: (key, seconds) => internal(() => (c.expire as Fn).call(c, key, seconds)),
    };
  }
  // Anything with node-redis' sendCommand(string[]).
  if (isFn(c.sendCommand)) {
    const send = (args: string[]) => internal(() => (c.sendCommand as Fn).call(c, args));
    return {
      pfadd: (key, members) => send(['PFADD', key, ...members]),
      pfcount: async (keys) => num(await send(['PFCOUNT', ...keys])),
      expire: (key, seconds) => send(['EXPIRE', key, String(seconds)]),
    };
  }
  return undefined;
}
