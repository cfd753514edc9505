// Label values stay bounded (DESIGN principle 4): every value a caller hands in
// is cleaned and truncated, and a label keeps at most a fixed number of distinct
// values before new ones fold into "other".
import { logOnce } from './log';

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

/** A free-form name given by code (service, channel, model): control characters out, whitespace collapsed, truncated. */
export function nameValue(v: unknown, fallback: string, max = 64): string {
  if (v === undefined || v === null) return fallback;
  const s = truncate(String(v).replace(CONTROL, ' ').replace(/\s+/g, ' ').trim(), max);
  return s === '' ? fallback : s;
}

/** An identifier-like value that keeps its case (error class names, codes): [A-Za-z0-9_.:-] only, truncated. */
export function identValue(v: unknown, fallback: string, max = 64): string {
  if (v === undefined || v === null) return fallback;
  const s = String(v).replace(/[^A-Za-z0-9_.:-]+/g, '_').replace(/_+/g, '_').replace(/^_|_$/g, '');
  const t = truncate(s, max);
  return t === '' ? fallback : t;
}

/**
 * Keeps at most `limit` distinct values of one label, per key (e.g. per channel);
 * later new values become "other", said once. At most `maxKeys` keys are tracked.
 */
export class BoundedValues {
  private readonly sets = new Map<string, Set<string>>();
  constructor(
    private readonly label: string,
    private readonly limit: number,
    private readonly maxKeys = 10_000,
  ) {}

  get(value: string, key = ''): string {
    let set = this.sets.get(key);
    if (set === undefined) {
      if (this.sets.size >= this.maxKeys) return OTHER;
      this.sets.set(key, (set = new Set()));
    }
    if (set.has(value)) return value;
    if (set.size < this.limit) {
      set.add(value);
      return value;
    }
    logOnce(`bounded:${this.label}`, 'warn', `${this.label} reached ${this.limit} distinct values${key ? ' for one key' : ''}; further new values are recorded as "${OTHER}"`);
    return OTHER;
  }
}
