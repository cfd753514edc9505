// Finding the two series a finished request records into. The lean families' own lookup
// interns each label value (one Map lookup per label: four for http_requests_total, two for
// http_request_duration_seconds) and probes a table per family, ~1,000 instructions a request;
// here one Map lookup on the endpoint and one on a number find both (bench/notes.md, item 21).
import type { HistogramSeries, LeanHistogramFamily, LeanValueFamily, ValueSeries } from '@vigil/catalog';
import { ANONYMOUS_ROLE, METHOD_LABELS, statusLabel, USER_ROLE } from './normalise';
import { NORMALISER_CACHE } from './settings';

/** Endpoints remembered, as many as the path normaliser keeps templates. */
const MAX_ENDPOINTS = NORMALISER_CACHE;
/** Roles given a number (anonymous and user have theirs); requests of further roles take the families' lookup. */
const MAX_ROLES = 256;
const METHODS = METHOD_LABELS.length;

/** One endpoint's series: counters by RequestSeries.requestKey(), histograms by method. */
class EndpointSeries {
  readonly requests = new Map<number, ValueSeries>();
  readonly durations: (HistogramSeries | undefined)[] = new Array<HistogramSeries | undefined>(METHODS).fill(undefined);
}

/**
 * Records finished requests into http_requests_total and http_request_duration_seconds. Only
 * series the families hold are remembered: never a family's overflow series (so what is kept is
 * bounded by the families' cardinality limit), and nothing past a family's clear().
 */
export class RequestSeries {
  private readonly endpoints = new Map<string, EndpointSeries>();
  private readonly roles = new Map<string, number>();
  private requestsGeneration: number;
  private durationGeneration: number;
  // Label scratch arrays: families copy values when they create a series.
  private readonly l4: string[] = ['', '', '', ''];
  private readonly l2: string[] = ['', ''];

  constructor(
    private readonly requests: LeanValueFamily,
    private readonly duration: LeanHistogramFamily,
  ) {
    this.requestsGeneration = requests.generation;
    this.durationGeneration = duration.generation;
  }

  /**
   * Counts a request and records its duration. `method`: its index in METHOD_LABELS; `status`:
   * a counted status (countedStatus(), 0 for none).
   */
  record(method: number, endpoint: string, status: number, role: string, seconds: number): void {
    if (this.requests.generation !== this.requestsGeneration || this.duration.generation !== this.durationGeneration) this.forget();
    const e = this.endpoints.get(endpoint);
    if (e === undefined) return this.recordNewEndpoint(method, endpoint, status, role, seconds);
    const key = this.requestKey(method, status, role);
    const counter = (key < 0 ? undefined : e.requests.get(key)) ?? this.newCounter(e, key, method, endpoint, status, role);
    counter.value++;
    (e.durations[method] ?? this.newHistogram(e, method, endpoint)).record(seconds);
  }

  /** An endpoint without remembered series: the families' lookup, remembered when it found series and there is room. */
  private recordNewEndpoint(method: number, endpoint: string, status: number, role: string, seconds: number): void {
    const counter = this.counterOf(method, endpoint, status, role);
    counter.value++;
    const histogram = this.histogramOf(method, endpoint);
    histogram.record(seconds);
    const keepCounter = !this.requests.isOverflow(counter);
    const keepHistogram = !this.duration.isOverflow(histogram);
    if ((keepCounter || keepHistogram) && this.endpoints.size < MAX_ENDPOINTS) {
      const e = new EndpointSeries();
      this.endpoints.set(endpoint, e);
      const key = this.requestKey(method, status, role);
      if (keepCounter && key >= 0) e.requests.set(key, counter);
      if (keepHistogram) e.durations[method] = histogram;
    }
  }

  private newCounter(e: EndpointSeries, key: number, method: number, endpoint: string, status: number, role: string): ValueSeries {
    const s = this.counterOf(method, endpoint, status, role);
    if (key >= 0 && !this.requests.isOverflow(s)) e.requests.set(key, s);
    return s;
  }

  private newHistogram(e: EndpointSeries, method: number, endpoint: string): HistogramSeries {
    const s = this.histogramOf(method, endpoint);
    if (!this.duration.isOverflow(s)) e.durations[method] = s;
    return s;
  }

  /** The families' lookup by label values (it creates the series). */
  private counterOf(method: number, endpoint: string, status: number, role: string): ValueSeries {
    const l4 = this.l4;
    l4[0] = METHOD_LABELS[method]!;
    l4[1] = endpoint;
    l4[2] = statusLabel(status);
    l4[3] = role;
    return this.requests.get(l4);
  }

  private histogramOf(method: number, endpoint: string): HistogramSeries {
    const l2 = this.l2;
    l2[0] = METHOD_LABELS[method]!;
    l2[1] = endpoint;
    return this.duration.get(l2);
  }

  /** Method, counted status (0..999) and role number in one small integer; -1 for a role without a number. */
  private requestKey(method: number, status: number, role: string): number {
    const n = this.roleNumber(role);
    return n < 0 ? -1 : (n * 1000 + status) * METHODS + method;
  }

  /** How many series it remembers: at most the series the families hold. */
  get remembered(): number {
    let n = 0;
    for (const e of this.endpoints.values()) {
      n += e.requests.size;
      for (const d of e.durations) if (d !== undefined) n++;
    }
    return n;
  }

  /** 0 and 1 for the built-in roles, 2 and up for others as they come, -1 past MAX_ROLES. */
  private roleNumber(role: string): number {
    if (role === ANONYMOUS_ROLE) return 0;
    if (role === USER_ROLE) return 1;
    let n = this.roles.get(role);
    if (n === undefined) {
      if (this.roles.size + 2 >= MAX_ROLES) return -1;
      this.roles.set(role, (n = this.roles.size + 2));
    }
    return n;
  }

  /** A family was cleared: its series are no longer collected. */
  private forget(): void {
    this.endpoints.clear();
    this.requestsGeneration = this.requests.generation;
    this.durationGeneration = this.duration.generation;
  }
}
