// Label values stay bounded (DESIGN principle 4): every value a caller hands in
// is cleaned and truncated, and each label keeps at most a fixed number of
// distinct values before new ones fold into "other".
import { identValue, logOnce, truncate } from '@vigil/catalog';

// The shared bounded-value helpers live in @vigil/catalog; re-exported for this package's modules.
export { BoundedValues, identValue, nameValue, OTHER } from '@vigil/catalog';

/** A word-like value (reason, rule, event type): lower snake_case, [a-z0-9_.:-] only, truncated. */
export function wordValue(v: unknown, fallback: string, max = 64): string {
  if (v === undefined || v === null) return fallback;
  const s = String(v)
    .toLowerCase()
    .replace(/[^a-z0-9_.:-]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
  const t = truncate(s, max);
  return t === '' ? fallback : t;
}

/** The error_type of a thrown value: the class name, or the code of a plain Error (ECONNREFUSED), bounded. */
export function errorTypeOf(err: unknown): string {
  if (err === undefined || err === null) return 'unknown';
  if (typeof err === 'string') return identValue(err, 'unknown');
  if (typeof err !== 'object' && typeof err !== 'function') return typeof err;
  const e = err as { constructor?: { name?: unknown }; name?: unknown; code?: unknown };
  let cls: string | undefined;
  try {
    const c = e.constructor?.name;
    cls = typeof c === 'string' && c !== '' ? c : undefined;
    if (cls === 'DOMException' && typeof e.name === 'string') cls = e.name;
    if (cls === undefined && typeof e.name === 'string') cls = e.name;
    const code = e.code;
    if ((cls === undefined || cls === 'Error') && typeof code === 'string' && /^[A-Za-z][A-Za-z0-9_]{1,47}$/.test(code)) {
      return code;
    }
  } catch {
    // A hostile getter: fall through to a generic type.
  }
  return identValue(cls ?? 'Object', 'Object');
}

/** A value for a log line: its text cut to max characters on one line, or its type when it has none. Never throws. */
export function shown(v: unknown, max = 40): string {
  try {
    return truncate(String(v), max).replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ');
  } catch {
    return v === null ? 'null' : `an unprintable ${typeof v}`;
  }
}

/** Runs a metric update; a failure inside vigil (or in a user hook it calls) is logged once and never reaches the app. */
export function safely(what: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    logOnce(`business:failed:${what}`, 'warn', `recording ${what} failed: ${shown(e, 200)}`);
  }
}
