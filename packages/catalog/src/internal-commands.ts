// Commands vigil sends through the application's own clients (@vigil/business counts
// distinct users with PFADD / PFCOUNT / EXPIRE on the application's Redis client). They
// are not the application's cache operations: @vigil/instrumentation-redis leaves them out
// of cache_operations_total and cache_operation_duration_seconds. A command is vigil's own
// when, at the moment the client library takes it:
// - the marker's depth is raised: sendInternal raises it around the synchronous call that
//   issues the command, and ioredis and node-redis take a command inside that call. The few
//   places where a client library waits before taking it (node-redis cluster, pool and
//   sentinel clients) carry the raised marker over (instrumentation-redis' node-redis.ts).
// - or, while such commands are pending, the active OpenTelemetry context carries vigil's
//   key: where a context manager is registered (@vigil/node registers one only when traces
//   are on), the context follows the command through any await. The context is only read
//   while vigil has commands pending: reading it costs about as much as the rest of the
//   per-command bookkeeping.
// The application's commands always count, OpenTelemetry's suppressTracing() included:
// suppressing traces is not suppressing metrics.
//
// The marker is registered globally (Symbol.for), and createContextKey is Symbol.for of its
// description, so that separate copies of vigil's packages agree.
//
// Imported as '@vigil/catalog/internal-commands': isInternalCommand runs for every command,
// and calls through the package index cost more than it does (clock.ts says why).
import { context, createContextKey } from '@opentelemetry/api';

/** The context key of vigil's own commands. */
export const INTERNAL_CONTEXT = createContextKey('vigil: internal Redis commands');

/** The key @opentelemetry/core's suppressTracing() sets: vigil's own commands make no span. */
const SUPPRESS_TRACING = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

interface Marker {
  /** Callers inside the synchronous call that issues vigil's own commands. */
  depth: number;
  /** vigil's own commands issued and not yet settled. */
  pending: number;
}

const INTERNAL_COMMANDS = Symbol.for('vigil.internal-redis-commands');
const registry = globalThis as { [INTERNAL_COMMANDS]?: Partial<Marker> };
const shared = (registry[INTERNAL_COMMANDS] ??= {});
shared.depth ??= 0;
shared.pending ??= 0;
export const internalMarker = shared as Marker;

/** Whether a command taken now is vigil's own. */
export function isInternalCommand(): boolean {
  return internalMarker.depth > 0 || (internalMarker.pending > 0 && context.active().getValue(INTERNAL_CONTEXT) === true);
}

/** Runs fn with the marker raised. */
export function asInternal<A extends unknown[], R>(fn: (...args: A) => R, self: unknown, args: A): R {
  internalMarker.depth++;
  try {
    return fn.apply(self, args);
  } finally {
    internalMarker.depth--;
  }
}

const settled = (): void => {
  internalMarker.pending--;
};

/** Issues vigil's own commands: send() calls the client and returns its reply or promise. */
export function sendInternal<T>(send: () => T | Promise<T>): Promise<T> {
  const ctx = context.active().setValue(SUPPRESS_TRACING, true).setValue(INTERNAL_CONTEXT, true);
  let reply: T | Promise<T>;
  internalMarker.depth++;
  internalMarker.pending++;
  try {
    reply = context.with(ctx, send);
  } catch (err) {
    internalMarker.pending--;
    return Promise.reject(err);
  } finally {
    internalMarker.depth--;
  }
  const p = Promise.resolve(reply);
  p.then(settled, settled);
  return p;
}
