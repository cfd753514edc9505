import type { CatalogEntry, LabelsOf } from '@vigil/catalog';

// PromQL building blocks. Metric names come from catalog entries and label keys
// are typed by the entry, so renaming a metric or a label in @vigil/catalog
// breaks the dashboards at compile time instead of silently emptying a panel.

/** Labels Prometheus attaches to every scraped series (the scrape target). */
export type TargetLabel = 'job' | 'instance';

/** The labels a selector of `E` may match on: its own, plus the target's for recorded metrics. */
export type SelectorLabel<E> = E extends { readonly kind: 'recorded' } ? LabelsOf<E> | TargetLabel : LabelsOf<E>;

/** A label matcher: an operator and a value (Grafana variables such as `$site_id` allowed). */
export interface Matcher {
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}

/** `label="value"` */
export function eq(value: string): Matcher {
  return { op: '=', value };
}
/** `label!="value"` */
export function neq(value: string): Matcher {
  return { op: '!=', value };
}
/** `label=~"regex"` (Grafana multi-value variables expand to a regex). */
export function re(value: string): Matcher {
  return { op: '=~', value };
}
/** `label!~"regex"` */
export function nre(value: string): Matcher {
  return { op: '!~', value };
}

/** Matchers keyed by label; a plain string is an equality matcher. */
export type Matchers<E> = { readonly [K in SelectorLabel<E> & string]?: Matcher | string };

/**
 * The range of every rate()/increase() in the dashboards: Grafana's
 * `$__rate_interval` (at least four scrape intervals, grows with the zoom).
 */
export const RATE_INTERVAL = '$__rate_interval';

/** The dashboard's whole time range: for "top N over the picked range" tables only. */
export const RANGE = '$__range';

function quote(s: string): string {
  // A PromQL double-quoted string: escape backslashes and double quotes.
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function matcherText(matchers: Record<string, Matcher | string | undefined>): string {
  const parts: string[] = [];
  for (const [label, m] of Object.entries(matchers)) {
    if (m === undefined) continue;
    const { op, value } = typeof m === 'string' ? eq(m) : m;
    parts.push(`${label}${op}${quote(value)}`);
  }
  return parts.length ? `{${parts.join(', ')}}` : '';
}

/** An instant vector selector of a counter, gauge or recording rule: `name{matchers}`. */
export function sel<E extends CatalogEntry>(e: E, matchers: Matchers<E> = {}): string {
  if (e.kind === 'recorded' && e.type === 'histogram') {
    throw new Error(`${e.name} is a histogram: select ${e.name}_bucket, _sum or _count with bucket(), hsum() or hcount()`);
  }
  return `${e.name}${matcherText(matchers)}`;
}

function histogramPart<E extends CatalogEntry>(e: E, part: 'bucket' | 'sum' | 'count', matchers: Matchers<E>): string {
  if (e.kind !== 'recorded' || e.type !== 'histogram') throw new Error(`${e.name} is not a histogram`);
  return `${e.name}_${part}${matcherText(matchers)}`;
}

/** `name_bucket{matchers}` of a histogram. */
export function bucket<E extends CatalogEntry>(e: E, matchers: Matchers<E> = {}): string {
  return histogramPart(e, 'bucket', matchers);
}
/** `name_sum{matchers}` of a histogram. */
export function hsum<E extends CatalogEntry>(e: E, matchers: Matchers<E> = {}): string {
  return histogramPart(e, 'sum', matchers);
}
/** `name_count{matchers}` of a histogram. */
export function hcount<E extends CatalogEntry>(e: E, matchers: Matchers<E> = {}): string {
  return histogramPart(e, 'count', matchers);
}

/** `rate(selector[$__rate_interval])` */
export function rate(selector: string, range: string = RATE_INTERVAL): string {
  return `rate(${selector}[${range}])`;
}
/** `increase(selector[$__rate_interval])` */
export function increase(selector: string, range: string = RATE_INTERVAL): string {
  return `increase(${selector}[${range}])`;
}

/** The grouping labels available on `E`'s series (plus `le` for histogram buckets). */
export type GroupLabel<E> = SelectorLabel<E> | 'le';

/** `op by (labels) (inner)`, or `op(inner)` without labels; labels typed by the entry the inner expression reads. */
export function aggregate<E extends CatalogEntry>(op: 'sum' | 'max' | 'min' | 'avg' | 'count', _entry: E, labels: readonly GroupLabel<E>[], inner: string): string {
  return labels.length ? `${op} by (${labels.join(', ')}) (${inner})` : `${op}(${inner})`;
}

/** `sum by (labels) (inner)` */
export function sumBy<E extends CatalogEntry>(entry: E, labels: readonly GroupLabel<E>[], inner: string): string {
  return aggregate('sum', entry, labels, inner);
}

/**
 * `histogram_quantile(q, sum by (le, labels) (rate(name_bucket{matchers}[$__rate_interval])))`:
 * the quantile across every instance, per `labels`.
 */
export function quantile<E extends CatalogEntry>(q: number, e: E, labels: readonly GroupLabel<E>[], matchers: Matchers<E> = {}): string {
  return `histogram_quantile(${q}, ${sumBy(e, ['le', ...labels], rate(bucket(e, matchers)))})`;
}

/**
 * `sum by (labels) (rate(num[..])) / sum by (labels) (rate(den[..]))`: a ratio of
 * summed rates (0..1). Summing both sides first is what makes a ratio right
 * across series and instances (the seed's un-aggregated `rate(a) / rate(b)` is 1.0
 * for every series with any error).
 */
export function ratio<E extends CatalogEntry>(e: E, labels: readonly GroupLabel<E>[], numerator: Matchers<E>, denominator: Matchers<E>): string {
  return `${sumBy(e, labels, rate(sel(e, numerator)))} / ${sumBy(e, labels, rate(sel(e, denominator)))}`;
}
