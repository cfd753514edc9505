// Reading an exposition the way the reliability tests judge it: the label sets
// of each metric family, and every label value that looks like an id, a token,
// an email or a query (issue 9: "no label value ever carries a query text,
// parameter, key, token, email or user id").
import { parseMetrics } from '@vigil/testing';

/** What an identifier, secret or piece of data looks like in a label value. */
export const ID_LIKE: ReadonlyArray<readonly [string, RegExp]> = [
  ['digits-only id', /^\d+$/],
  ['4+ digits', /\d{4,}/],
  ['UUID', /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i],
  ['email', /@|%40/],
  ['long hex', /[0-9a-f]{16,}/i],
  ['token', /sk-|token=|(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{20,}/],
  ['query or fragment', /[?#]/],
  ['SQL text', /\b(?:select|insert|update|delete|from|where|values)\b.*\s/i],
];

/**
 * Labels that describe the process, its configured connections or a bucket, not a request: versions, instance ids,
 * the pool's and the Redis server's address (user@host:port/db, from the app's configuration), bucket bounds.
 */
const NOT_DATA = new Set(['le', 'quantile', 'version', 'service_version', 'host_name', 'service_instance_id', 'node_version', 'vigil_version', 'pool', 'server']);

/**
 * Labels whose values are numbers by design: an HTTP status, an upstream error code (429), New API's numeric
 * channel id and channel type. A number there is the value, not a leak, so only their non-numeric values are judged.
 */
const NUMERIC_BY_DESIGN = new Set(['status_code', 'error_code', 'channel_id', 'channel_type']);

/** Every label value of the exposition, as name → values. */
export function labelValues(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const s of parseMetrics(text)) {
    for (const [name, value] of Object.entries(s.labels)) {
      let set = out.get(name);
      if (!set) out.set(name, (set = new Set()));
      set.add(value);
    }
  }
  return out;
}

/**
 * The label values that carry an id, a token, an email or a query, or contain one of `secrets`
 * (values the test put into the app as data), each described as `name="value": why`. Empty when clean.
 */
export function leakingLabels(text: string, secrets: readonly string[] = []): string[] {
  const problems: string[] = [];
  for (const [name, values] of labelValues(text)) {
    if (NOT_DATA.has(name)) continue;
    for (const value of values) {
      if (NUMERIC_BY_DESIGN.has(name) && /^\d+$/.test(value)) continue;
      const why = ID_LIKE.filter(([, re]) => re.test(value)).map(([what]) => what);
      const secret = secrets.find((s) => value.includes(s));
      if (secret !== undefined) why.push(`contains the input ${JSON.stringify(secret)}`);
      if (why.length > 0) problems.push(`${name}=${JSON.stringify(value.slice(0, 200))}: ${why.join(', ')}`);
    }
  }
  return problems;
}

/**
 * Label sets per metric family (a histogram's buckets, sum and count are one label set), from the # TYPE lines.
 * Families declared without samples count 0.
 */
export function seriesPerFamily(text: string): Map<string, number> {
  const families = new Map<string, Set<string>>();
  for (const m of text.matchAll(/^# TYPE (\S+) \S+$/gm)) families.set(m[1]!, new Set());
  for (const s of parseMetrics(text)) {
    const family = families.has(s.name) ? s.name : s.name.replace(/_(?:bucket|sum|count)$/, '');
    const sets = families.get(family);
    if (!sets) throw new Error(`sample ${s.name} has no # TYPE line`);
    const { le: _bucket, ...labels } = s.labels;
    sets.add(JSON.stringify(labels));
  }
  return new Map([...families].map(([name, sets]) => [name, sets.size]));
}
