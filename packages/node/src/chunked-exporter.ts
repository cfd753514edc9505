// OTLP pushes in pieces. Upstream's exporters turn a whole export into one request in one
// synchronous block, ~3 ms per 1,000 data points here: at 100,000 Prometheus series (31,000
// points) the app's event loop stood still ~90 ms per export (bench/notes.md, item 30).
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { MetricData, PushMetricExporter, ResourceMetrics, ScopeMetrics } from '@opentelemetry/sdk-metrics';

/** Data points per OTLP request: ~6 ms of encoding; 2 requests per export at 10,000 Prometheus series. */
export const MAX_POINTS_PER_REQUEST = 2000;

/**
 * The export as pieces of at most `maxPoints` data points each, in order, every piece with the
 * resource, and each metric's descriptor with its points. Totals are cumulative, so a point is
 * whole in any request. An export without points is one piece, itself.
 */
export function splitExport(metrics: ResourceMetrics, maxPoints: number): ResourceMetrics[] {
  const pieces: ResourceMetrics[] = [];
  let scopes: ScopeMetrics[] = [];
  let points = 0;
  const close = () => {
    if (scopes.length > 0) pieces.push({ resource: metrics.resource, scopeMetrics: scopes });
    scopes = [];
    points = 0;
  };
  for (const scope of metrics.scopeMetrics) {
    let open: MetricData[] | undefined;
    const add = (m: MetricData) => {
      if (open === undefined) scopes.push({ scope: scope.scope, metrics: (open = []) });
      open.push(m);
    };
    for (const metric of scope.metrics) {
      const n = metric.dataPoints.length;
      if (points + n <= maxPoints) {
        add(metric);
        points += n;
        continue;
      }
      for (let from = 0; from < n; ) {
        if (points >= maxPoints) {
          close();
          open = undefined;
        }
        const take = Math.min(n - from, maxPoints - points);
        add({ ...metric, dataPoints: metric.dataPoints.slice(from, from + take) } as MetricData);
        points += take;
        from += take;
      }
    }
  }
  close();
  return pieces.length > 0 ? pieces : [metrics];
}

/**
 * Sends each export as splitExport's pieces, one request after another with the event loop let
 * through between them. The first failure fails the export (the next one carries every total
 * again), and so does running past `budgetMs`: a slow collector's pieces never overlap the next
 * export's. At most one request is in flight, within upstream's concurrency limit.
 */
export class ChunkedExporter implements PushMetricExporter {
  readonly selectAggregationTemporality: PushMetricExporter['selectAggregationTemporality'];
  readonly selectAggregation: PushMetricExporter['selectAggregation'];

  constructor(
    private readonly inner: PushMetricExporter,
    private readonly budgetMs = Infinity,
    private readonly maxPoints = MAX_POINTS_PER_REQUEST,
  ) {
    this.selectAggregationTemporality = inner.selectAggregationTemporality?.bind(inner);
    this.selectAggregation = inner.selectAggregation?.bind(inner);
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    const pieces = splitExport(metrics, this.maxPoints);
    const started = performance.now();
    const send = (i: number): void => {
      try {
        this.inner.export(pieces[i]!, (result) => {
          if (result.code !== ExportResultCode.SUCCESS || i + 1 === pieces.length) resultCallback(result);
          else if (performance.now() - started > this.budgetMs) {
            const error = new Error(`${i + 1} of ${pieces.length} requests took more than ${this.budgetMs} ms; the next export carries every total`);
            resultCallback({ code: ExportResultCode.FAILED, error });
          } else setImmediate(send, i + 1);
        });
      } catch (err) {
        resultCallback({ code: ExportResultCode.FAILED, error: err as Error });
      }
    };
    send(0);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}
