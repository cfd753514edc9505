// Commands that are not the application's cache operations: the ones vigil itself sends
// through the application's clients (@vigil/business counts distinct users with PFADD /
// PFCOUNT / EXPIRE on the application's own Redis client). vigil's code issues them
// inside a call that marks them, and a command is left out when, at the moment the
// client library takes it:
// - the marker's depth is raised: the caller raises it around the synchronous call that
//   issues its commands, and ioredis and node-redis take a command inside that call. The
//   few places where a client library waits before taking it (node-redis cluster, pool and
//   sentinel clients) carry the raised marker over (wrapCarryMarker, node-redis.ts).
// - or, while such commands are pending, the active OpenTelemetry context carries vigil's
//   key: where a context manager is registered (@vigil/node registers one only when traces
//   are on), the context follows the command through any await. The context is only read
//   while vigil has commands pending: reading it costs about as much as the rest of the
//   per-command bookkeeping.
// The application's commands always count, OpenTelemetry's suppressTracing() included:
// suppressing traces is not suppressing metrics.
//
// The marker and the key are registered globally (Symbol.for), so that separate copies of
// vigil's packages agree; @vigil/business raises them (its redis.ts).
import { context, createContextKey } from '@opentelemetry/api';

/** Where the marker lives. */
export const INTERNAL_COMMANDS = Symbol.for('vigil.internal-redis-commands');

/** The context key of vigil's own commands (createContextKey is Symbol.for of the description). */
export const INTERNAL_CONTEXT = createContextKey('vigil: internal Redis commands');

interface Marker {
  /** Callers inside the synchronous call that issues vigil's own commands. */
  depth: number;
  /** vigil's own commands issued and not yet settled. */
  pending: number;
}

const registry = globalThis as { [INTERNAL_COMMANDS]?: Partial<Marker> };
const shared = (registry[INTERNAL_COMMANDS] ??= {});
shared.depth ??= 0;
shared.pending ??= 0;
export const marker = shared as Marker;

/** Whether a command taken now is vigil's own. */
export function isInternal(): boolean {
  return marker.depth > 0 || (marker.pending > 0 && context.active().getValue(INTERNAL_CONTEXT) === true);
}

/** Runs fn with the marker raised. */
export function asInternal<A extends unknown[], R>(fn: (...args: A) => R, self: unknown, args: A): R {
  marker.depth++;
  try {
    return fn.apply(self, args);
  } finally {
    marker.depth--;
  }
}
