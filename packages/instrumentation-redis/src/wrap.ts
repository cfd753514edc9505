// Method wrapping that leaves other instrumentations of the same method alone.
//
// InstrumentationBase#_wrap (shimmer) first unwraps a method that is already
// shimmer-wrapped, whoever wrapped it. @vigil/node runs the upstream OpenTelemetry
// ioredis and redis instrumentations for traces next to this one, and they wrap
// some of the same methods (Redis#sendCommand, RedisClient#sendCommand and
// #connect): with shimmer, whichever of the two patched last would silently remove
// the other. vigil's wrapper carries no shimmer marks, so theirs wrap it instead of
// replacing it, and it never removes theirs: when vigil is switched off while
// another wrapper sits on top of it, it stays in the chain and passes calls straight
// through (each wrapper begins with `if (!sw.on) return original.apply(...)`).

/** Whether a wrapper does its work (on) or only calls the original (off). */
export interface Switch {
  on: boolean;
}

interface Entry {
  readonly original: unknown;
  readonly sw: Switch;
  wrapper: unknown;
}

const entries = new WeakMap<object, Map<PropertyKey, Entry>>();

/** Whether vigil's wrapper is target[name] itself or below other wrappers that name their original (shimmer's __original). */
function inChain(fn: unknown, wrapper: unknown): boolean {
  for (let f = fn, depth = 0; typeof f === 'function' && depth < 20; depth++) {
    if (f === wrapper) return true;
    f = (f as { __original?: unknown }).__original;
  }
  return false;
}

/**
 * Replaces target[name] with make(original, sw); the wrapper must call the original alone while
 * sw.on is false. Wrapping again, after unwrapMethod left vigil's wrapper under another one,
 * switches that wrapper back on.
 */
export function wrapMethod<T extends object, K extends keyof T>(target: T, name: K, make: (original: T[K], sw: Switch) => T[K]): void {
  const current = target[name];
  if (typeof current !== 'function') throw new TypeError(`${String(name)} is not a function`);
  let byName = entries.get(target);
  if (byName === undefined) entries.set(target, (byName = new Map()));
  const existing = byName.get(name);
  if (existing !== undefined && inChain(current, existing.wrapper)) {
    existing.sw.on = true;
    return;
  }
  const sw: Switch = { on: true };
  const wrapper = make(current, sw);
  byName.set(name, { original: current, sw, wrapper });
  target[name] = wrapper;
}

/** Undoes wrapMethod: restores the original, or, under another instrumentation's wrapper, switches vigil's off. */
export function unwrapMethod<T extends object>(target: T | undefined, name: keyof T): void {
  if (target === undefined || target === null) return;
  const byName = entries.get(target);
  const entry = byName?.get(name);
  if (entry === undefined) return;
  entry.sw.on = false;
  if (target[name] === entry.wrapper) {
    target[name] = entry.original as T[keyof T];
    byName!.delete(name);
  }
}
