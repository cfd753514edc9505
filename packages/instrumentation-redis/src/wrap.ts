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
// through.

interface Entry {
  readonly original: (...args: unknown[]) => unknown;
  impl: (...args: unknown[]) => unknown;
  wrapper: ((...args: unknown[]) => unknown) | undefined;
  active: boolean;
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

/** Wraps target[name] with make(original). Wrapping again (after unwrapMethod) switches the same wrapper back on. */
export function wrapMethod<T extends object, K extends keyof T>(target: T, name: K, make: (original: T[K]) => T[K]): void {
  const current = target[name];
  if (typeof current !== 'function') throw new TypeError(`${String(name)} is not a function`);
  let byName = entries.get(target);
  if (byName === undefined) entries.set(target, (byName = new Map()));
  const existing = byName.get(name);
  if (existing !== undefined && inChain(current, existing.wrapper)) {
    existing.impl = make(existing.original as T[K]) as Entry['impl'];
    existing.active = true;
    return;
  }
  const original = current as Entry['original'];
  const entry: Entry = { original, impl: make(current) as Entry['impl'], wrapper: undefined, active: true };
  const wrapper = function vigilWrapped(this: unknown): unknown {
    // eslint-disable-next-line prefer-rest-params
    return entry.active ? entry.impl.apply(this, arguments as unknown as unknown[]) : original.apply(this, arguments as unknown as unknown[]);
  };
  entry.wrapper = wrapper;
  target[name] = wrapper as T[K];
  byName.set(name, entry);
}

/** Undoes wrapMethod: restores the original, or, under another instrumentation's wrapper, passes calls through. */
export function unwrapMethod<T extends object>(target: T | undefined, name: keyof T): void {
  if (target === undefined || target === null) return;
  const byName = entries.get(target);
  const entry = byName?.get(name);
  if (entry === undefined) return;
  if (target[name] === (entry.wrapper as unknown)) {
    target[name] = entry.original as T[keyof T];
    byName!.delete(name);
  } else {
    entry.active = false;
  }
}
