// Lean accumulators for the per-request path (DESIGN principle 3).
//
// A measurement walks a tree of Maps keyed by label values to a series object
// and bumps a number in it: no attribute object, no hashing, no allocation once
// the label set has been seen. The series are handed to OpenTelemetry's readers
// at collection time through the MetricProducer interface, so Prometheus and
// OTLP export stay OTel's.
import { diag, ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type MetricData,
  type MetricProducer,
  type ResourceMetrics,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import { emptyResource } from '@opentelemetry/resources';
import { vigilMetricOverflowTotal } from './metrics';
import type { RecordedEntry } from './types';

/** Label values in the entry's label order. Callers may reuse one array: values are copied when a series is created. */
export type LabelValues = ArrayLike<string>;

/** The instrumentation scope a family is reported under. */
export interface LeanScope {
  readonly name: string;
  readonly version?: string;
}

/** Attribute OTel uses to mark the series that collects measurements past the cardinality limit. */
export const OVERFLOW_ATTRIBUTE = 'otel_metric_overflow';

/** Series per metric before new label sets fold into the overflow series. */
export const DEFAULT_CARDINALITY_LIMIT = 2000;

function nowHrTime(): HrTime {
  const ms = performance.timeOrigin + performance.now();
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

abstract class Series {
  readonly startTime: HrTime = nowHrTime();
  constructor(readonly attributes: Attributes) {}
}

/** One counter or gauge series. */
export class ValueSeries extends Series {
  value = 0;
  add(n: number): void {
    this.value += n;
  }
  set(v: number): void {
    this.value = v;
  }
}

/** One histogram series: explicit buckets, OTel's (lower, upper] semantics, Prometheus' `le`. */
export class HistogramSeries extends Series {
  readonly counts: number[];
  sum = 0;
  count = 0;
  min = Infinity;
  max = -Infinity;
  constructor(attributes: Attributes, private readonly boundaries: readonly number[]) {
    super(attributes);
    this.counts = new Array<number>(boundaries.length + 1).fill(0);
  }
  record(v: number): void {
    if (!(v >= 0) && !(v < 0)) return; // NaN would poison sum
    const b = this.boundaries;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }
}

/**
 * Label values as small integers, shared by every family of a registry. A value is
 * interned only when a series that uses it is created, so the table is bounded by the
 * series (label values that end in the overflow series are never interned).
 */
export class LabelInterner {
  private readonly ids = new Map<string, number>();
  /** The id of a value, or -1 when no series uses it. */
  find(value: string): number {
    const id = this.ids.get(value);
    return id === undefined ? -1 : id;
  }
  /** The id of a value, interning it. */
  add(value: string): number {
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(value, id);
    }
    return id;
  }
  get size(): number {
    return this.ids.size;
  }
}

const EMPTY = -1;

/**
 * The series of one metric, found by label values: each value becomes its interned id
 * (one lookup in the registry's small, hot table of label values), and the ids find the
 * series in an open-addressing table of Int32 keys. A lookup touches a handful of cache
 * lines however many series there are, where a tree of Maps (one per label) touched one
 * Map per level, which a busy server has evicted from the cache between two requests.
 */
export abstract class LeanFamily<S extends Series> {
  private readonly depth: number;
  private readonly interner: LabelInterner;
  // slot i: label ids at keys[i * depth ..], its series at slots[i] (undefined: empty)
  private keys: Int32Array;
  private slots: (S | undefined)[];
  private mask: number;
  private readonly scratch: Int32Array;
  private single: S | undefined;
  private overflowSeries: S | undefined;
  /** Every live series, for collection. */
  readonly series: S[] = [];
  /**
   * Counts clear() calls: whoever keeps series of this family to skip its lookup (the HTTP
   * RequestSeries, pg's statements, Redis' operations) must drop them when this changes, or it
   * would record into series no longer collected; and must not keep the overflow series (isOverflow()).
   */
  generation = 0;

  constructor(
    readonly entry: RecordedEntry,
    readonly scope: LeanScope,
    private readonly registry: LeanRegistry,
    /** Whether the registry's cardinality limit applies (not to the overflow counter: see noteOverflow()). */
    private readonly limited = true,
  ) {
    this.depth = entry.labels.length;
    this.interner = registry.interner;
    this.scratch = new Int32Array(Math.max(1, this.depth));
    this.mask = 15;
    this.keys = new Int32Array(16 * Math.max(1, this.depth)).fill(EMPTY);
    this.slots = new Array<S | undefined>(16).fill(undefined);
  }

  protected abstract create(attributes: Attributes): S;

  /** The series for these label values (in the entry's label order), created on first use. */
  get(values: LabelValues): S {
    const depth = this.depth;
    if (depth === 0) return (this.single ??= this.adopt(this.create({})));
    const ids = this.scratch;
    const interner = this.interner;
    let h = 0x811c9dc5 | 0;
    for (let i = 0; i < depth; i++) {
      const id = interner.find(values[i]!);
      if (id === EMPTY) return this.miss(values);
      ids[i] = id;
      h = Math.imul(h ^ id, 0x01000193);
    }
    const keys = this.keys;
    const mask = this.mask;
    for (let slot = (h ^ (h >>> 15)) & mask; ; slot = (slot + 1) & mask) {
      const s = this.slots[slot];
      if (s === undefined) return this.miss(values);
      let k = slot * depth;
      let i = 0;
      while (i < depth && keys[k] === ids[i]) {
        i++;
        k++;
      }
      if (i === depth) return s;
    }
  }

  /** A label set without a series: create it, or the overflow series past the limit. */
  private miss(values: LabelValues): S {
    if (this.limited && this.series.length >= this.registry.cardinalityLimit) return this.overflow();
    const depth = this.depth;
    const attributes: Attributes = {};
    for (let i = 0; i < depth; i++) attributes[this.entry.labels[i]!] = String(values[i]);
    const s = this.adopt(this.create(attributes));
    const ids = this.scratch;
    for (let i = 0; i < depth; i++) ids[i] = this.interner.add(values[i]!);
    if ((this.series.length + 1) * 2 > this.slots.length) this.grow();
    this.insert(ids, s);
    return s;
  }

  private insert(ids: Int32Array, s: S): void {
    const depth = this.depth;
    let h = 0x811c9dc5 | 0;
    for (let i = 0; i < depth; i++) h = Math.imul(h ^ ids[i]!, 0x01000193);
    let slot = (h ^ (h >>> 15)) & this.mask;
    while (this.slots[slot] !== undefined) slot = (slot + 1) & this.mask;
    this.slots[slot] = s;
    this.keys.set(ids.subarray(0, depth), slot * depth);
  }

  private grow(): void {
    const depth = this.depth;
    const oldKeys = this.keys;
    const oldSlots = this.slots;
    const size = oldSlots.length * 2;
    this.mask = size - 1;
    this.keys = new Int32Array(size * depth).fill(EMPTY);
    this.slots = new Array<S | undefined>(size).fill(undefined);
    for (let slot = 0; slot < oldSlots.length; slot++) {
      const s = oldSlots[slot];
      if (s !== undefined) this.insert(oldKeys.subarray(slot * depth, slot * depth + depth), s);
    }
  }

  private adopt(s: S): S {
    this.series.push(s);
    return s;
  }

  /** Drops every series (for tests and for resets after fork). */
  clear(): void {
    this.mask = 15;
    this.keys = new Int32Array(16 * Math.max(1, this.depth)).fill(EMPTY);
    this.slots = new Array<S | undefined>(16).fill(undefined);
    this.series.length = 0;
    this.single = this.overflowSeries = undefined;
    this.generation++;
  }

  /** Whether s is the series that label sets past the cardinality limit share (see overflow()). */
  isOverflow(s: S): boolean {
    return s === this.overflowSeries;
  }

  private overflow(): S {
    this.registry.noteOverflow(this.entry.name);
    return (this.overflowSeries ??= this.adopt(this.create({ [OVERFLOW_ATTRIBUTE]: 'true' })));
  }

  /** The family as OTel MetricData, or undefined when it has no series. */
  abstract toMetricData(endTime: HrTime): MetricData | undefined;

  protected descriptor() {
    const e = this.entry;
    return { name: e.name, description: e.help, unit: e.unit, valueType: ValueType.DOUBLE };
  }
}

/** A counter (monotonic) or an up-down gauge (non-monotonic sum) or a set gauge. */
export class LeanValueFamily extends LeanFamily<ValueSeries> {
  protected create(attributes: Attributes): ValueSeries {
    return new ValueSeries(attributes);
  }
  /** Adds n to the series of these label values. */
  add(values: LabelValues, n = 1): void {
    this.get(values).value += n;
  }
  toMetricData(endTime: HrTime): MetricData | undefined {
    if (this.series.length === 0) return undefined;
    const dataPoints = this.series.map((s) => ({
      startTime: s.startTime,
      endTime,
      attributes: s.attributes,
      value: s.value,
    }));
    const descriptor = this.descriptor();
    if (this.entry.type === 'gauge' && !this.entry.upDown) {
      return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints };
    }
    return {
      descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: this.entry.type === 'counter',
      dataPoints,
    };
  }
}

export class LeanHistogramFamily extends LeanFamily<HistogramSeries> {
  /** Upper bounds without a trailing Infinity (OTel adds the +Inf bucket itself). */
  readonly boundaries: readonly number[];

  constructor(entry: RecordedEntry, scope: LeanScope, registry: LeanRegistry) {
    super(entry, scope, registry);
    this.boundaries = (entry.buckets ?? []).filter((b) => b !== Infinity);
  }
  protected create(attributes: Attributes): HistogramSeries {
    return new HistogramSeries(attributes, this.boundaries);
  }
  /** Records v in the series of these label values. */
  record(values: LabelValues, v: number): void {
    this.get(values).record(v);
  }
  toMetricData(endTime: HrTime): MetricData | undefined {
    if (this.series.length === 0) return undefined;
    const boundaries = this.boundaries.slice();
    return {
      descriptor: this.descriptor(),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: this.series.map((s) => ({
        startTime: s.startTime,
        endTime,
        attributes: s.attributes,
        value: {
          buckets: { boundaries, counts: s.counts.slice() },
          sum: s.sum,
          count: s.count,
          min: s.count > 0 ? s.min : undefined,
          max: s.count > 0 ? s.max : undefined,
        },
      })),
    };
  }
}

/**
 * Holds lean families and hands them to OpenTelemetry readers as a MetricProducer.
 * One per process by default (`leanRegistry()`), shared by every vigil instrumentation.
 */
export class LeanRegistry implements MetricProducer {
  /** Series per metric before new label sets fold into the overflow series. */
  cardinalityLimit = DEFAULT_CARDINALITY_LIMIT;
  /** Label values of every family's series, as small integers. */
  readonly interner = new LabelInterner();
  private readonly families = new Map<string, LeanFamily<Series>>();
  private readonly overflows: LeanValueFamily;

  constructor() {
    // Not limited: its series are one per family name, and past a limit it would count its own overflow.
    this.overflows = new LeanValueFamily(vigilMetricOverflowTotal, { name: '@vigil/catalog' }, this, false);
  }

  /** The counter or gauge family for entry, created once (a second call returns the same family). */
  values(entry: RecordedEntry, scope: LeanScope): LeanValueFamily {
    if (entry.type === 'histogram') throw new TypeError(`${entry.name} is a histogram`);
    return this.family(entry, () => new LeanValueFamily(entry, scope, this)) as LeanValueFamily;
  }

  /** The histogram family for entry, created once. */
  histogram(entry: RecordedEntry, scope: LeanScope): LeanHistogramFamily {
    if (entry.type !== 'histogram') throw new TypeError(`${entry.name} is not a histogram`);
    return this.family(entry, () => new LeanHistogramFamily(entry, scope, this)) as LeanHistogramFamily;
  }

  private family(entry: RecordedEntry, make: () => LeanFamily<Series>): LeanFamily<Series> {
    let f = this.families.get(entry.name);
    if (!f) {
      f = make();
      this.families.set(entry.name, f);
      // A metric without labels shows its zero from the start, as prom-client's do.
      if (entry.labels.length === 0) f.get([]);
    }
    return f;
  }

  /** Counts a measurement that went to an overflow series (vigil_metric_overflow_total). */
  noteOverflow(metric: string): void {
    // One series per family name, however low the limit (the family is not limited).
    this.overflows.get([metric]).value++;
  }

  /** Number of series held, over all families. */
  seriesCount(): number {
    let n = 0;
    for (const f of this.families.values()) n += f.series.length;
    return n;
  }

  async collect(): Promise<CollectionResult> {
    return { resourceMetrics: { resource: emptyResource(), scopeMetrics: this.snapshot() }, errors: [] };
  }

  /** Every family with data, grouped by scope. */
  snapshot(): ScopeMetrics[] {
    const endTime = nowHrTime();
    const byScope = new Map<string, ScopeMetrics>();
    for (const f of [...this.families.values(), this.overflows]) {
      const data = f.toMetricData(endTime);
      if (!data) continue;
      const key = `${f.scope.name}@${f.scope.version ?? ''}`;
      let sm = byScope.get(key);
      if (!sm) {
        sm = { scope: { name: f.scope.name, version: f.scope.version }, metrics: [] };
        byScope.set(key, sm);
      }
      sm.metrics.push(data);
    }
    return [...byScope.values()];
  }
}

const GLOBAL_KEY = Symbol.for('vigil.lean-registry');

/** Where @vigil/node puts the metric source that sees every vigil metric (meters and lean registry); @vigil/health reads it. */
export const METRIC_SOURCE_KEY = Symbol.for('vigil.metric-source');

/**
 * The process-wide registry. Kept on globalThis so that two copies of this package
 * (a hoisting accident) still share one registry and one /metrics.
 */
export function leanRegistry(): LeanRegistry {
  const g = globalThis as { [GLOBAL_KEY]?: LeanRegistry };
  return (g[GLOBAL_KEY] ??= new LeanRegistry());
}

// ---------------------------------------------------------------- Prometheus text

const INVALID_NAME_CHARS = /[^a-z0-9_]/gi;
const REPEATED_UNDERSCORES = /_{2,}/g;

function escapeText(s: string): string {
  return s.indexOf('\\') < 0 && s.indexOf('\n') < 0 ? s : s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(v: unknown): string {
  const s = typeof v === 'string' ? v : v === undefined ? '' : String(JSON.stringify(v));
  const e = escapeText(s);
  return e.indexOf('"') < 0 ? e : e.replace(/"/g, '\\"');
}

function sanitizeName(name: string): string {
  return name.replace(INVALID_NAME_CHARS, '_').replace(REPEATED_UNDERSCORES, '_');
}

function valueText(v: number): string {
  return v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : `${v}`;
}

function prometheusType(m: MetricData): string {
  switch (m.dataPointType) {
    case DataPointType.SUM:
      return m.isMonotonic ? 'counter' : 'gauge';
    case DataPointType.GAUGE:
      return 'gauge';
    case DataPointType.HISTOGRAM:
      return 'histogram';
    default:
      return 'untyped';
  }
}

interface TextFamily {
  type: string;
  help: string;
  unit: string;
  dropped: boolean;
  metrics: MetricData[];
}

/**
 * The Prometheus text exposition (format 0.0.4) of OpenTelemetry ResourceMetrics:
 * the same bytes as OpenTelemetry's `PrometheusSerializer` with vigil's settings
 * (no prefix, no timestamps, no target_info, no otel_scope_* labels), written for
 * big scrapes. OTel's serializer escapes and sanitises every label of every sample
 * line with regular expressions (a histogram series: 12 lines); this one renders the
 * label text of an attributes object once and keeps it in a WeakMap. Data point
 * attributes are immutable in OpenTelemetry, and the lean registry's series keep
 * theirs for life, so from the second scrape on a series costs only its numbers.
 * Metadata conflicts are resolved as OTel does (a family whose instruments disagree
 * on the type is dropped; the first HELP and UNIT win), each told once through diag.
 */
const NO_METRICS = '# no registered metrics';
/** Data points rendered between two looks at the clock by serializeAsync. */
const CHUNK_POINTS = 256;

export class PrometheusTextSerializer {
  private readonly labels = new WeakMap<Attributes, string>();
  private readonly names = new Map<string, string | null>();
  private readonly keys = new Map<string, string>();
  private warned = new Set<string>();

  serialize(resourceMetrics: ResourceMetrics): string {
    let out = '';
    for (const chunk of this.chunks(resourceMetrics)) out += chunk;
    return out === '' ? NO_METRICS : out;
  }

  /**
   * The same text, built in slices of at most `sliceMs` of CPU with the event loop let
   * through between them: a scrape of 100 000 series must not stall the app's requests for
   * the whole rendering. The data points are a snapshot, so the text stays consistent.
   */
  async serializeAsync(resourceMetrics: ResourceMetrics, sliceMs = 5): Promise<string> {
    let out = '';
    let sliceStart = performance.now();
    for (const chunk of this.chunks(resourceMetrics)) {
      out += chunk;
      if (performance.now() - sliceStart >= sliceMs) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
    return out === '' ? NO_METRICS : out;
  }

  /** The exposition in pieces of at most CHUNK_POINTS data points each. */
  private *chunks(resourceMetrics: ResourceMetrics): Generator<string> {
    for (const [name, f] of this.families(resourceMetrics)) {
      if (f.dropped) continue;
      let header = `# HELP ${name} ${escapeText(f.help || 'description missing')}\n`;
      if (f.unit) header += `# UNIT ${name} ${escapeText(f.unit)}\n`;
      header += `# TYPE ${name} ${f.type}\n`;
      for (const m of f.metrics) {
        for (let from = 0; from < m.dataPoints.length || from === 0; from += CHUNK_POINTS) {
          const samples = this.samples(name, m, from, Math.min(from + CHUNK_POINTS, m.dataPoints.length));
          if (header !== '') {
            yield header + samples;
            header = '';
          } else if (samples !== '') {
            yield samples;
          }
        }
      }
    }
  }

  /** Families by Prometheus name, in first-seen order, with OTel's metadata rules. */
  private families(rm: ResourceMetrics): Map<string, TextFamily> {
    const families = new Map<string, TextFamily>();
    const warned = new Set<string>();
    const warn = (kind: string, name: string, first: string, second: string, kept?: string) => {
      const key = `${kind}:${name}:${kept ?? ''}`;
      if (warned.has(key)) return;
      warned.add(key);
      if (this.warned.has(key)) return;
      const values = `${JSON.stringify(first)}, ${JSON.stringify(second)}`;
      diag.warn(
        kept === undefined
          ? `Conflicting ${kind} comments for metric "${name}": ${values}; dropping the metric.`
          : `Conflicting ${kind} comments for metric "${name}": ${values}; exporting ${JSON.stringify(kept)}.`,
      );
    };
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        const name = this.name(m);
        if (name === null) continue;
        const type = prometheusType(m);
        const f = families.get(name);
        if (f === undefined) {
          families.set(name, { type, help: m.descriptor.description, unit: m.descriptor.unit, dropped: false, metrics: [m] });
        } else if (!f.dropped) {
          if (f.type === type) {
            f.metrics.push(m);
          } else {
            warn('TYPE', name, f.type, type);
            f.dropped = true;
            f.metrics = [];
          }
        }
      }
    }
    for (const [name, f] of families) {
      for (const m of f.metrics) {
        const { description, unit } = m.descriptor;
        if (description) {
          if (!f.help) f.help = description;
          else if (f.help !== description) warn('HELP', name, f.help, description, f.help);
        }
        if (unit) {
          if (!f.unit) f.unit = unit;
          else if (f.unit !== unit) warn('UNIT', name, f.unit, unit, f.unit);
        }
      }
    }
    this.warned = warned;
    return families;
  }

  /** The Prometheus name of a metric (sanitised, `_total` for counters), or null when it has none. */
  private name(m: MetricData): string | null {
    const counter = m.dataPointType === DataPointType.SUM && m.isMonotonic;
    const key = counter ? `c:${m.descriptor.name}` : m.descriptor.name;
    let name = this.names.get(key);
    if (name !== undefined) return name;
    name = sanitizeName(escapeText(m.descriptor.name));
    if (name === '' || name === '_') {
      diag.error(`Normalization for metric "${m.descriptor.name}" resulted in ${name === '' ? 'empty name' : 'an invalid name: "_"'}`);
      name = null;
    } else {
      if (name[0]! >= '0' && name[0]! <= '9') name = `_${name}`;
      if (counter && !name.endsWith('_total')) name += '_total';
    }
    this.names.set(key, name);
    return name;
  }

  /** `k="v",k2="v2"` of an attributes object ('' without attributes), rendered once per object. */
  private labelText(attributes: Attributes): string {
    let text = this.labels.get(attributes);
    if (text !== undefined) return text;
    text = '';
    for (const key in attributes) {
      if (!Object.prototype.hasOwnProperty.call(attributes, key)) continue;
      let k = this.keys.get(key);
      if (k === undefined) {
        k = sanitizeName(key);
        if (this.keys.size < 10_000) this.keys.set(key, k);
      }
      text += `${text === '' ? '' : ','}${k}="${escapeLabelValue(attributes[key])}"`;
    }
    this.labels.set(attributes, text);
    return text;
  }

  /** The sample lines of data points [from, to) of a metric. */
  private samples(name: string, m: MetricData, from: number, to: number): string {
    let out = '';
    switch (m.dataPointType) {
      case DataPointType.SUM:
      case DataPointType.GAUGE:
        for (let i = from; i < to; i++) {
          const p = m.dataPoints[i]!;
          const labels = this.labelText(p.attributes);
          out += labels === '' ? `${name} ${valueText(p.value)}\n` : `${name}{${labels}} ${valueText(p.value)}\n`;
        }
        return out;
      case DataPointType.HISTOGRAM: {
        const count = `${name}_count`;
        const sum = `${name}_sum`;
        const bucket = `${name}_bucket{`;
        let bounds: readonly number[] | undefined;
        let les: string[] = [];
        for (let j = from; j < to; j++) {
          const p = m.dataPoints[j]!;
          const labels = this.labelText(p.attributes);
          const h = p.value;
          const braced = labels === '' ? '' : `{${labels}}`;
          if (h.count != null) out += `${count}${braced} ${valueText(h.count)}\n`;
          if (h.sum != null) out += `${sum}${braced} ${valueText(h.sum)}\n`;
          if (h.buckets.boundaries !== bounds) {
            bounds = h.buckets.boundaries;
            les = bounds.map((b) => (b === Infinity ? '+Inf' : escapeLabelValue(String(b))));
          }
          const open = labels === '' ? `${bucket}le="` : `${bucket}${labels},le="`;
          const counts = h.buckets.counts;
          let cumulative = 0;
          let infinite = false;
          for (let i = 0; i < counts.length; i++) {
            cumulative += counts[i]!;
            const b = bounds[i];
            if (b === undefined && infinite) break;
            if (b === Infinity) infinite = true;
            out += `${open}${b === undefined ? '+Inf' : les[i]}"} ${valueText(cumulative)}\n`;
          }
        }
        return out;
      }
      default:
        diag.error(`Unrecognizable DataPointType: ${(m as MetricData).dataPointType} for metric "${name}"`);
        return '';
    }
  }
}
