// Finding the two series a finished request records into. The lean families' own lookup
// interns each label value (one Map lookup per label: four for http_requests_total, two for
// http_request_duration_seconds) and probes a table per family, ~1,000 instructions a request;
// here one Map lookup on the endpoint and one on a number find both (bench/notes.md, item 21).
import type { HistogramSeries, LeanHistogramFamily, LeanValueFamily, ValueSeries } from '@vigil/catalog';
import { ANONYMOUS_ROLE, METHOD_LABELS, statusLabel, USER_ROLE } from './normalise';

/** Endpoints remembered, as many as the path normaliser keeps templates. */
const MAX_ENDPOINTS = 4096;
/** Roles given a number (anonymous and user have theirs); requests of further roles take the families' lookup. */
const MAX_ROLES = 256;
const METHODS = METHOD_LABELS.length;

/** One endpoint's series: counters by requestKey(), histograms by method. */
class EndpointSeries {
  readonly requests = new Map<number, ValueSeries>();
  readonly durations: (HistogramSeries | undefined)[] = new Array<HistogramSeries | undefined>(METHODS).fill(undefined);
}

/** Method, counted status (0..999) and role number in one small integer. */
function requestKey(method: number, status: number, role: number): number {
  return (role * 1000 + status) * METHODS + method;
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
    const roleNumber = this.roleNumber(role);
    const key = roleNumber < 0 ? -1 : requestKey(method, status, roleNumber);
    const counter = (key < 0 ? undefined : e?.requests.get(key)) ?? this.newCounter(method, endpoint, status, role, key);
    counter.value++;
    (e?.durations[method] ?? this.newHistogram(method, endpoint)).record(seconds);
  }

  /** The families' lookup (it creates the series), remembered unless it is the overflow series. */
  private newCounter(method: number, endpoint: string, status: number, role: string, key: number): ValueSeries {
    const l4 = this.l4;
    l4[0] = METHOD_LABELS[method]!;
    l4[1] = endpoint;
    l4[2] = statusLabel(status);
    l4[3] = role;
    const s = this.requests.get(l4);
    if (key >= 0 && !this.requests.isOverflow(s)) this.entry(endpoint)?.requests.set(key, s);
    return s;
  }

  private newHistogram(method: number, endpoint: string): HistogramSeries {
    const l2 = this.l2;
    l2[0] = METHOD_LABELS[method]!;
    l2[1] = endpoint;
    const s = this.duration.get(l2);
    if (!this.duration.isOverflow(s)) {
      const e = this.entry(endpoint);
      if (e !== undefined) e.durations[method] = s;
    }
    return s;
  }

  private entry(endpoint: string): EndpointSeries | undefined {
    let e = this.endpoints.get(endpoint);
    if (e === undefined && this.endpoints.size < MAX_ENDPOINTS) this.endpoints.set(endpoint, (e = new EndpointSeries()));
    return e;
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
