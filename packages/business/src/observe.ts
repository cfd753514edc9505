// Runs a call and reports its outcome without touching it: the same value or
// the same exception reaches the caller, `this` is the caller's, a synchronous
// call stays synchronous. Only native promises are awaited: other thenables
// (lazy query builders) are returned untouched and count as a synchronous success.
import { types } from 'node:util';
import { safely } from './labels';

export function observeCall<R>(
  what: string,
  call: () => R,
  onSuccess: (value: Awaited<R>) => void,
  onFailure: (error: unknown) => void,
): R {
  let result: R;
  try {
    result = call();
  } catch (e) {
    safely(what, () => onFailure(e));
    throw e;
  }
  if (types.isPromise(result)) {
    return (result as Promise<Awaited<R>>).then(
      (value) => {
        safely(what, () => onSuccess(value));
        return value;
      },
      (error: unknown) => {
        safely(what, () => onFailure(error));
        throw error;
      },
    ) as R;
  }
  safely(what, () => onSuccess(result as Awaited<R>));
  return result;
}

/** A label given as a value or as a function of the call; a throwing function yields the fallback. */
export function resolveOption<Args extends unknown[]>(
  option: string | ((...args: Args) => string | undefined) | undefined,
  self: unknown,
  args: Args,
): string | undefined {
  if (typeof option !== 'function') return option;
  try {
    return option.apply(self, args) ?? undefined;
  } catch {
    return undefined;
  }
}
