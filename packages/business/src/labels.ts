// Label values stay bounded (DESIGN principle 4): every value a caller hands in
// is cleaned and truncated, and each label keeps at most a fixed number of
// distinct values before new ones fold into "other".
import { logOnce } from '@vigil/catalog';

/** The value a label takes once it has too many distinct values. */
export const OTHER = 'other';

const CONTROL = /[\u0000-\u001f\u007f]+/g;

/** Cuts s to at most max UTF-16 units without splitting a surrogate pair. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = s.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut;
}

/** A free-form name given by code (service, mode, user role): control characters out, whitespace collapsed, truncated. */
export function nameValue(v: unknown, fallback: string, max = 64): string {
  if (v === undefined || v === null) return fallback;
  const s = truncate(String(v).replace(CONTROL, ' ').replace(/\s+/g, ' ').trim(), max);
  return s === '' ? fallback : s;
}

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

/** An identifier-like value that keeps its case (error class names, codes): [A-Za-z0-9_.:-] only, truncated. */
export function identValue(v: unknown, fallback: string, max = 64): string {
  if (v === undefined || v === null) return fallback;
  const s = String(v).replace(/[^A-Za-z0-9_.:-]+/g, '_').replace(/_+/g, '_').replace(/^_|_$/g, '');
  const t = truncate(s, max);
  return t === '' ? fallback : t;
}

/** Keeps at most `limit` distinct values of one label; later new values become "other" (said once). */
export class BoundedValues {
  private readonly seen = new Set<string>();
  constructor(
    private readonly label: string,
    private readonly limit: number,
  ) {}

  get(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size < this.limit) {
      this.seen.add(value);
      return value;
    }
    logOnce(
      `business:bounded:${this.label}`,
      'warn',
      `${this.label} reached ${this.limit} distinct values; further new values are recorded as "${OTHER}"`,
    );
    return OTHER;
  }
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

/** Runs a metric update; a failure inside vigil is logged once and never reaches the app. */
export function safely(what: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    logOnce(`business:failed:${what}`, 'warn', `recording ${what} failed: ${String(e)}`);
  }
}
