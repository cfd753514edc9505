/** Which source document names a metric. */
export type Seed =
  /** ../shared/seeds/000_281042f9eaa8cf0f.txt — the AI gateway's Prometheus guide (new_api_*). */
  | 'gateway-guide'
  /** ../shared/seeds/004_f8326245cb63a885.txt — the business monitoring system. */
  | 'business-monitoring'
  /** Not in a seed: vigil's own (runtime, self-observability, extensions the issues ask for). */
  | 'vigil';

/** The Prometheus metric type a user scrapes. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

interface EntryBase<L extends string> {
  /** Prometheus metric name, exactly as exposed. */
  readonly name: string;
  /** English help text. */
  readonly help: string;
  /** Label keys, in exposition order. */
  readonly labels: readonly L[];
  /** Documents that name this metric. */
  readonly seeds: readonly Seed[];
  /** How this entry relates to another name in the seeds, where they differ. */
  readonly note?: string;
}

/** A metric recorded in-process by vigil and exposed on /metrics. */
export interface RecordedEntry<L extends string = string> extends EntryBase<L> {
  readonly kind: 'recorded';
  readonly type: MetricType;
  /** UCUM unit given to OpenTelemetry ('s', 'By', '1', or '' for counts). */
  readonly unit: string;
  /** Histogram bucket upper bounds as the seed gives them (a trailing Infinity is kept as documented). */
  readonly buckets?: readonly number[];
  /** Counts that only go up and down (in-flight requests): exposed as a gauge, exported over OTLP as a non-monotonic sum. */
  readonly upDown?: boolean;
}

/** A derived indicator: a Prometheus recording rule over recorded metrics. */
export interface DerivedEntry<L extends string = string> extends EntryBase<L> {
  readonly kind: 'derived';
  /** The PromQL expression of the recording rule whose name is `name`. */
  readonly expr: string;
  /** The unit of the result, for dashboards ('percentunit', 's', 'short', ...). */
  readonly unit: string;
}

export type CatalogEntry<L extends string = string> = RecordedEntry<L> | DerivedEntry<L>;

/** Label keys of an entry. */
export type LabelsOf<E> = E extends { readonly labels: readonly (infer L)[] } ? L : never;

/** The attributes object for an entry: every label key, a string each. */
export type AttributesOf<E> = { [K in LabelsOf<E> & string]: string };
