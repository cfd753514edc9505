// Runs a call and reports its outcome without touching it: the same value or
// the same exception reaches the caller, `this` is the caller's, a synchronous
// call stays synchronous. Only native promises are awaited: other thenables
// (lazy query builders) are returned untouched and count as a synchronous success.
import { types } from 'node:util';
import { logOnce } from '@vigil/catalog';
import { safely, shown } from './labels';

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

/**
 * What a user hook returns, or undefined when it throws (said once per option: the app's call goes on). Hooks are
 * read synchronously, so a promise one returns is never awaited; its rejection is handled here, or it would be an
 * unhandled rejection, which ends the process.
 */
export function callHook<T>(option: string, hook: () => T): T | undefined {
  try {
    const v = hook();
    if (types.isPromise(v)) v.then(undefined, () => {});
    return v;
  } catch (e) {
    logOnce(`business:hook-threw:${option}`, 'warn', `the ${option} option threw (${shown(e, 200)}); recording without it`);
    return undefined;
  }
}

/**
 * A label given as a value or as a function of the call. A function that throws, or returns anything but a string
 * (or undefined / null: "the default"), gives the default, said once per option.
 */
export function resolveOption<Args extends unknown[]>(
  name: string,
  option: string | ((...args: Args) => string | undefined) | undefined,
  self: unknown,
  args: Args,
): string | undefined {
  if (typeof option !== 'function') return option;
  const v: unknown = callHook(name, () => option.apply(self, args));
  if (v === undefined || v === null || typeof v === 'string') return v ?? undefined;
  const kind = types.isPromise(v) ? 'a Promise (options are read synchronously)' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
  logOnce(`business:hook-junk:${name}`, 'warn', `the ${name} option returned ${kind}, not a string; using the default ${name}`);
  return undefined;
}
