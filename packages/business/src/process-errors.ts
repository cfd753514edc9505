// Counts uncaught exceptions and unhandled rejections without changing what
// the process does with them (exit code, stderr, whether it keeps running).
//
// - 'uncaughtExceptionMonitor' observes every uncaught exception without
//   handling it. Under the default --unhandled-rejections=throw (and strict),
//   an unhandled rejection with no 'unhandledRejection' listener is raised as
//   an uncaught exception, so the monitor sees it too (origin
//   'unhandledRejection').
// - An 'unhandledRejection' listener of our own would change behaviour in
//   the throw and warn-with-error-code modes (a listener marks the rejection
//   handled: no crash, no warning, no exit code). So there vigil listens only
//   while the application has a listener of its own (tracked through
//   'newListener' / 'removeListener'): then the rejection is handled anyway,
//   and ours merely counts it. In warn and none modes a listener changes
//   nothing, so vigil listens always; in strict mode the monitor sees it first.
// - warn-with-error-code without an application listener prints two
//   'UnhandledPromiseRejectionWarning's; a 'warning' listener (which does not
//   replace Node's printing) counts the second, which carries the rejection id.
import { identValue } from './labels';

export type UnhandledRejectionsMode = 'throw' | 'strict' | 'warn' | 'warn-with-error-code' | 'none';
const MODES: readonly string[] = ['throw', 'strict', 'warn', 'warn-with-error-code', 'none'];

/** The process' --unhandled-rejections mode (NODE_OPTIONS, then the command line, which wins). */
export function unhandledRejectionsMode(): UnhandledRejectionsMode {
  let mode: UnhandledRejectionsMode = 'throw';
  const scan = (args: readonly string[]) => {
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      let v: string | undefined;
      if (a.startsWith('--unhandled-rejections=')) v = a.slice('--unhandled-rejections='.length);
      else if (a === '--unhandled-rejections') v = args[i + 1];
      if (v !== undefined && MODES.includes(v)) mode = v as UnhandledRejectionsMode;
    }
  };
  scan((process.env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean));
  scan(process.execArgv);
  return mode;
}

/** Node's isErrorLike: an object with an own `stack`. */
function isErrorLike(v: unknown): boolean {
  return typeof v === 'object' && v !== null && Object.prototype.hasOwnProperty.call(v, 'stack');
}

/** The error type named on the first line of a printed stack ("TypeError: bad\n    at ..."). */
function typeFromStack(text: string): string | undefined {
  if (!/\n\s+at /.test(text)) return undefined;
  const m = /^([A-Za-z_$][\w$]*)(?::|\n)/.exec(text);
  return m ? identValue(m[1], 'Error') : undefined;
}

/** What a rejection reason is counted as: the reason itself when error-like, else Node's UnhandledPromiseRejection. */
export function rejectionError(reason: unknown): unknown {
  return isErrorLike(reason) ? reason : 'UnhandledPromiseRejection';
}

/**
 * The 'unhandledRejection' listeners of every vigil capture in the process (shared through globalThis, so
 * two captures, or two copies of this package, never take each other for an application listener).
 */
const OURS_KEY = Symbol.for('vigil.process-error-listeners');
function ours(): WeakSet<object> {
  const g = globalThis as { [OURS_KEY]?: WeakSet<object> };
  return (g[OURS_KEY] ??= new WeakSet());
}

/**
 * Installs the listeners; `record` gets the error (or a type name) of each uncaught exception and unhandled
 * rejection, once. Returns the function that removes them.
 */
export function installProcessErrorCapture(record: (error: unknown) => void): () => void {
  const mode = unhandledRejectionsMode();
  const count = (e: unknown) => {
    try {
      record(e);
    } catch {
      // Never throw from a process listener.
    }
  };

  const onUncaught = (err: unknown) => count(err);
  process.on('uncaughtExceptionMonitor', onUncaught);

  const onRejection = (reason: unknown) => count(rejectionError(reason));
  const vigils = ours();
  vigils.add(onRejection);
  // The application's own listeners (not vigil's).
  const others = () => process.listeners('unhandledRejection').filter((l) => !vigils.has(l)).length;
  const attach = () => {
    if (!process.listeners('unhandledRejection').includes(onRejection)) process.on('unhandledRejection', onRejection);
  };
  const detach = () => {
    process.off('unhandledRejection', onRejection);
  };

  const onNewListener = (event: string | symbol, listener: unknown) => {
    if (event === 'unhandledRejection' && !vigils.has(listener as object)) attach();
  };
  const onRemoveListener = (event: string | symbol, listener: unknown) => {
    if (event === 'unhandledRejection' && !vigils.has(listener as object) && others() === 0) detach();
  };
  let lastType: string | undefined;
  const onWarning = (w: Error) => {
    if (w?.name !== 'UnhandledPromiseRejectionWarning' || others() > 0) return;
    const message = String(w.message);
    if (message.startsWith('Unhandled promise rejection') && /\(rejection id: \d+\)/.test(message)) {
      count(lastType ?? 'UnhandledPromiseRejection');
      lastType = undefined;
    } else {
      lastType = typeFromStack(message);
    }
  };

  const tracking = mode === 'throw' || mode === 'warn-with-error-code';
  if (mode === 'warn' || mode === 'none') attach();
  if (tracking) {
    process.on('newListener', onNewListener);
    process.on('removeListener', onRemoveListener);
    if (others() > 0) attach();
  }
  if (mode === 'warn-with-error-code') process.on('warning', onWarning);

  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    process.off('uncaughtExceptionMonitor', onUncaught);
    if (tracking) {
      process.off('newListener', onNewListener);
      process.off('removeListener', onRemoveListener);
    }
    if (mode === 'warn-with-error-code') process.off('warning', onWarning);
    detach();
  };
}
