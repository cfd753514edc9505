// Label values from fixed tables and the URL-path normaliser used when no
// framework supplies a route template. Everything on the per-request path here
// works on character codes and returns strings that already exist, so a known
// path costs no allocation.

/** Label for HTTP methods outside the standard set (as OpenTelemetry semantic conventions do). */
export const OTHER_METHOD = '_OTHER';
/** Status code of a request whose connection closed before its response finished (nginx's 499). */
export const ABORTED_CODE = 499;
/** Its status label. */
export const ABORTED_STATUS = String(ABORTED_CODE);
/** user_role when no user is on the request. */
export const ANONYMOUS_ROLE = 'anonymous';
/** user_role for a user without a usable role (the seed's getattr(user, 'role', 'user')). */
export const USER_ROLE = 'user';
/** Endpoint label of a request a framework handled without matching any route. */
export const UNMATCHED_ENDPOINT = 'unmatched';
/** Endpoint label of a request whose target is not a path ('*', garbage). */
export const NON_PATH_ENDPOINT = '*';
/** Replaces a path segment that looks like an identifier. */
export const ID_SEGMENT = ':id';
/** Ends a template whose path had more segments than kept. */
export const MORE_SEGMENTS = '*';

/** The method labels, by methodIndex(): the standard methods, then OTHER_METHOD. */
export const METHOD_LABELS: readonly string[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'CONNECT', 'TRACE', 'QUERY', OTHER_METHOD];

/** The index of a method's label in METHOD_LABELS. */
export function methodIndex(method: string | undefined): number {
  // Node's parser hands out its own constant strings, so these compare fast.
  switch (method) {
    case 'GET':
      return 0;
    case 'POST':
      return 1;
    case 'PUT':
      return 2;
    case 'DELETE':
      return 3;
    case 'PATCH':
      return 4;
    case 'HEAD':
      return 5;
    case 'OPTIONS':
      return 6;
    case 'CONNECT':
      return 7;
    case 'TRACE':
      return 8;
    case 'QUERY':
      return 9;
    default:
      return 10;
  }
}

/** The method label: one of the standard methods, else OTHER_METHOD. Never allocates. */
export function methodLabel(method: string | undefined): string {
  return METHOD_LABELS[methodIndex(method)]!;
}

const STATUS_LABELS: (string | undefined)[] = new Array<string | undefined>(1000);
for (let c = 100; c < 600; c++) STATUS_LABELS[c] = String(c);

/** A status code as it is counted: itself if a whole number in 100..999, else 0. */
export function countedStatus(code: number): number {
  return code >= 100 && code <= 999 && (code | 0) === code ? code : 0;
}

/** The status label for a status code ('200'); codes outside 100..999 become '0'. */
export function statusLabel(code: number): string {
  const counted = countedStatus(code);
  return counted === 0 ? '0' : (STATUS_LABELS[counted] ??= String(counted));
}

// ---------------------------------------------------------------- paths

const SLASH = 47;
const QUESTION = 63;
const HASH = 35;

const enum Seg {
  Literal = 0,
  Id = 1,
}

/**
 * Whether a path segment (url[s, s + n), with its character counts) looks like
 * an identifier rather than a route word: only digits; 4 or more digits (order
 * numbers, dates, percent-encoded text); a UUID; 16+ hex characters (hashes,
 * ObjectIds); a token of 16+ characters from [A-Za-z0-9-_.~+=] that mixes upper
 * case, lower case and digits (base64url, JWT parts, nanoid, API keys), or has
 * letters and 2+ digits and no separator; or longer than maxLength. Emails
 * ('@', '%40') are decided by the caller. Lower-case words with a digit
 * ('chat-completions-v2', 'gpt-4o', 'oauth2') stay words.
 */
function isIdSegment(url: string, s: number, n: number, digits: number, upper: number, lower: number, hex: number, tokenChars: number, maxLength: number): boolean {
  if (n > maxLength) return true;
  if (digits === n || digits >= 4) return true;
  if (hex === n && n >= 16) return true;
  if (n === 36 && hex === 32 && url.charCodeAt(s + 8) === 45 && url.charCodeAt(s + 13) === 45 && url.charCodeAt(s + 18) === 45 && url.charCodeAt(s + 23) === 45) return true;
  if (n < 16 || digits === 0 || digits + upper + lower + tokenChars !== n) return false;
  if (upper > 0 && lower > 0) return true;
  return tokenChars === 0 && digits >= 2;
}

/** Options of the normaliser. */
export interface NormaliserOptions {
  /** Segments kept; a longer path ends in '/*'. */
  maxSegments: number;
  /** Longest literal segment; a longer one becomes ':id'. */
  maxSegmentLength: number;
  /** Path prefixes under which everything collapses to the prefix plus one segment. */
  prefixRules: readonly string[];
  /** Distinct templates remembered for allocation-free lookups. */
  cacheSize: number;
}

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

function mix(h: number, c: number): number {
  return Math.imul(h ^ c, FNV_PRIME);
}

function mixId(h: number): number {
  // ':id'
  return mix(mix(mix(h, 58), 105), 100);
}

/**
 * Turns a request target into a bounded route template:
 * drops the query and fragment, collapses repeated and trailing slashes,
 * replaces identifier-like segments with ':id', keeps at most maxSegments
 * segments, and applies the prefix rules.
 *
 * Templates it has produced are kept in an open-addressing table keyed by a
 * hash of the template computed while scanning, and checked character by
 * character, so a path whose template is known is normalised without
 * allocating anything.
 */
export class PathNormaliser {
  private readonly maxSegments: number;
  private readonly maxSegmentLength: number;
  private readonly scanLimit: number;
  /** Prefix rules as segment lists. */
  private readonly rules: string[][];
  private readonly slots: number;
  private readonly keys: (string | undefined)[];
  private readonly hashes: Int32Array;
  private readonly capacity: number;
  private size = 0;
  // Scratch: segment bounds and kinds of the path being normalised.
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  private readonly kinds: Uint8Array;
  private readonly segHashes: Int32Array;
  /** Paths that are their own template, for a one-lookup fast path. */
  private readonly verbatim = new Map<string, string>();

  constructor(options: NormaliserOptions) {
    this.maxSegments = Math.max(1, Math.floor(options.maxSegments));
    this.maxSegmentLength = Math.max(1, Math.floor(options.maxSegmentLength));
    this.rules = options.prefixRules.map((r) => r.split('/').filter(Boolean)).filter((r) => r.length > 0);
    this.capacity = Math.max(16, Math.floor(options.cacheSize));
    let slots = 16;
    while (slots < this.capacity * 2) slots *= 2;
    this.slots = slots;
    this.keys = new Array<string | undefined>(slots).fill(undefined);
    this.hashes = new Int32Array(slots);
    // Scan far enough to see one segment past the longest prefix rule.
    this.scanLimit = Math.max(this.maxSegments, ...this.rules.map((r) => r.length + 1));
    const n = this.scanLimit + 1;
    this.starts = new Int32Array(n);
    this.ends = new Int32Array(n);
    this.kinds = new Uint8Array(n);
    this.segHashes = new Int32Array(n);
  }

  /** Number of templates remembered. */
  get cached(): number {
    return this.size;
  }

  /** The template for a request target (req.url). */
  normalise(url: string | undefined): string {
    if (url === undefined || url.length === 0) return '/';
    // Paths that are their own template ('/', '/api/v1/chat/completions') repeat
    // verbatim: one Map lookup on the string, whose hash V8 computes natively.
    const verbatim = this.verbatim.get(url);
    if (verbatim !== undefined) return verbatim;
    let pos = 0;
    if (url.charCodeAt(0) !== SLASH) {
      // absolute-form (a proxy request): skip scheme and authority
      const scheme = url.indexOf('://');
      if (scheme <= 0) return NON_PATH_ENDPOINT;
      pos = url.indexOf('/', scheme + 3);
      if (pos < 0) return '/';
    }
    // One pass: split into segments (skipping empty ones, stopping at '?' or
    // '#'), classify each, and hash the template as it would be written.
    const limit = this.scanLimit;
    const maxLength = this.maxSegmentLength;
    let end = url.length;
    let count = 0;
    let more = false;
    let h = FNV_OFFSET;
    let i = pos;
    while (i < end) {
      let c = url.charCodeAt(i);
      if (c === SLASH) {
        i++;
        continue;
      }
      if (c === QUESTION || c === HASH) break;
      if (count === limit) {
        more = true;
        break;
      }
      const s = i;
      const before = mix(h, SLASH);
      let lit = before;
      let digits = 0;
      let upper = 0;
      let lower = 0;
      let hex = 0;
      let tokenChars = 0;
      let email = false;
      while (i < end) {
        c = url.charCodeAt(i);
        if (c === SLASH) break;
        if (c === QUESTION || c === HASH) {
          end = i;
          break;
        }
        lit = mix(lit, c);
        if (c >= 48 && c <= 57) {
          digits++;
          hex++;
        } else if (c >= 97 && c <= 122) {
          lower++;
          if (c <= 102) hex++;
        } else if (c >= 65 && c <= 90) {
          upper++;
          if (c <= 70) hex++;
        } else if (c === 64 /* @ */) email = true;
        else if (c === 37 /* % */) {
          if (url.charCodeAt(i + 1) === 52 && url.charCodeAt(i + 2) === 48) email = true; // %40
        } else if (c === 45 || c === 95 || c === 46 || c === 126 || c === 43 || c === 61) tokenChars++; // - _ . ~ + =
        i++;
      }
      const id = email || isIdSegment(url, s, i - s, digits, upper, lower, hex, tokenChars, maxLength);
      this.starts[count] = s;
      this.ends[count] = i;
      this.kinds[count] = id ? Seg.Id : Seg.Literal;
      h = id ? mixId(before) : lit;
      this.segHashes[count] = h;
      count++;
    }
    // A prefix rule keeps the prefix and one more segment; otherwise at most maxSegments.
    const keep = this.rules.length > 0 ? this.prefixKeep(url, count) : -1;
    if (keep >= 0) {
      if (count > keep) count = keep;
      more = false;
    } else if (count > this.maxSegments) {
      count = this.maxSegments;
      more = true;
    }
    if (count === 0) return '/';
    h = this.segHashes[count - 1]!;
    if (more) h = mix(mix(h, SLASH), 42);
    const mask = this.slots - 1;
    let slot = h & mask;
    for (;;) {
      const key = this.keys[slot];
      if (key === undefined) break;
      if (this.hashes[slot] === h && this.same(key, url, count, more)) return key;
      slot = (slot + 1) & mask;
    }
    const template = this.build(url, count, more);
    if (this.size < this.capacity) {
      this.keys[slot] = template;
      this.hashes[slot] = h;
      this.size++;
      if (template === url) this.verbatim.set(url, template);
    }
    return template;
  }

  /** Segments to keep when a prefix rule matches the scanned path (-1: no rule matches). */
  private prefixKeep(url: string, count: number): number {
    for (const rule of this.rules) {
      if (rule.length > count) {
        // the path may equal the prefix exactly, or be shorter than it: no match
        continue;
      }
      let ok = true;
      for (let k = 0; k < rule.length && ok; k++) {
        const seg = rule[k]!;
        const s = this.starts[k]!;
        if (this.ends[k]! - s !== seg.length) ok = false;
        else for (let j = 0; j < seg.length; j++) if (url.charCodeAt(s + j) !== seg.charCodeAt(j)) { ok = false; break; }
      }
      if (ok) return rule.length + 1;
    }
    return -1;
  }

  private same(key: string, url: string, count: number, more: boolean): boolean {
    let p = 0;
    for (let k = 0; k < count; k++) {
      if (key.charCodeAt(p++) !== SLASH) return false;
      if (this.kinds[k] === Seg.Id) {
        if (key.charCodeAt(p) !== 58 || key.charCodeAt(p + 1) !== 105 || key.charCodeAt(p + 2) !== 100) return false;
        p += 3;
      } else {
        const s = this.starts[k]!;
        const e = this.ends[k]!;
        for (let j = s; j < e; j++) if (key.charCodeAt(p++) !== url.charCodeAt(j)) return false;
      }
    }
    if (more) {
      if (key.charCodeAt(p) !== SLASH || key.charCodeAt(p + 1) !== 42) return false;
      p += 2;
    }
    return p === key.length;
  }

  private build(url: string, count: number, more: boolean): string {
    let t = '';
    for (let k = 0; k < count; k++) {
      t += '/';
      t += this.kinds[k] === Seg.Id ? ID_SEGMENT : url.slice(this.starts[k], this.ends[k]);
    }
    if (more) t += '/' + MORE_SEGMENTS;
    return t;
  }
}

/**
 * Applies prefix rules to a template a framework reported ('/api/v1/users/:id'
 * with rule '/api/v1' -> '/api/v1/users'). Results are remembered: templates
 * come from code, so there are few of them.
 */
export class TemplatePrefixer {
  private readonly rules: string[][];
  private readonly memo = new Map<string, string>();

  constructor(prefixRules: readonly string[]) {
    this.rules = prefixRules.map((r) => r.split('/').filter(Boolean)).filter((r) => r.length > 0);
  }

  get active(): boolean {
    return this.rules.length > 0;
  }

  apply(template: string): string {
    let r = this.memo.get(template);
    if (r !== undefined) return r;
    r = template;
    const segs = template.split('/').filter(Boolean);
    for (const rule of this.rules) {
      if (segs.length > rule.length && rule.every((s, i) => segs[i] === s)) {
        r = '/' + segs.slice(0, rule.length + 1).join('/');
        break;
      }
    }
    if (this.memo.size < 10_000) this.memo.set(template, r);
    return r;
  }
}

/**
 * Matches request targets against ignore rules: '/metrics' matches that path
 * exactly (any query string), '/internal/*' matches everything under /internal/.
 * Compares characters in place; never allocates.
 */
export class PathMatcher {
  private readonly exact: string[];
  private readonly prefixes: string[];

  constructor(patterns: readonly string[]) {
    const exact: string[] = [];
    const prefixes: string[] = [];
    for (const raw of patterns) {
      const p = raw.trim();
      if (p === '') continue;
      if (p.endsWith('/*')) prefixes.push(p.slice(0, -1)); // keep the slash: '/internal/'
      else if (p.endsWith('*')) prefixes.push(p.slice(0, -1));
      else exact.push(p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p);
    }
    this.exact = exact;
    this.prefixes = prefixes;
  }

  get empty(): boolean {
    return this.exact.length === 0 && this.prefixes.length === 0;
  }

  matches(url: string | undefined): boolean {
    if (url === undefined) return false;
    for (let k = 0; k < this.exact.length; k++) {
      const p = this.exact[k]!;
      if (url.startsWith(p)) {
        const n = p.length;
        if (url.length === n) return true;
        const c = url.charCodeAt(n);
        if (c === QUESTION || c === HASH) return true;
        if (c === SLASH && (url.length === n + 1 || url.charCodeAt(n + 1) === QUESTION)) return true; // '/metrics/'
      }
    }
    for (let k = 0; k < this.prefixes.length; k++) if (url.startsWith(this.prefixes[k]!)) return true;
    return false;
  }
}
