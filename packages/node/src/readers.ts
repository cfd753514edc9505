// The metric readers vigil hands to the MeterProvider: a Prometheus pull
// reader served by vigil's own server, and periodic push readers (OTLP,
// console). Exporter modules load only when configured, to keep start-up short.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import {
  AggregationTemporality,
  AggregationType,
  MetricReader,
  PeriodicExportingMetricReader,
  type MetricProducer,
  type PeriodicExportingMetricReaderOptions,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { log, logOnce, PrometheusTextSerializer } from '@vigil/catalog';
import { ChunkedExporter } from './chunked-exporter';
import type { ResolvedConfig } from './config';
import { MetricsServer, type MetricsServerOptions } from './server';
import type { MetricsServerRoute } from './types';

/**
 * The pull reader of @opentelemetry/exporter-prometheus' PrometheusExporter (cumulative, default
 * aggregations, the same component type) without its HTTP server and serializer, which vigil does
 * not use: vigil serves /metrics itself, with its own serializer. That package is not loaded.
 */
class PullReader extends MetricReader {
  constructor(producers: MetricProducer[]) {
    super({
      aggregationSelector: () => ({ type: AggregationType.DEFAULT }),
      aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
      otelComponentType: 'prometheus_http_text_metric_exporter',
      metricProducers: producers,
    });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** A pull reader plus the server that serves it. */
export function prometheusReader(
  config: ResolvedConfig,
  producers: MetricProducer[],
  routes: Record<string, MetricsServerRoute> | undefined,
): { reader: MetricReader; server: MetricsServer } {
  const reader = new PullReader(producers);
  // OTel's exposition, byte for byte, with each series' label text rendered once (bench/: 4x faster at 10k series).
  const serializer = new PrometheusTextSerializer();
  const server = new MetricsServer({
    ...config.prometheus,
    routes,
    // The app's @vigil/health checks (or liveness alone) on /health, /health/live, /health/ready.
    health: config.healthEndpoint ? healthHandler() : undefined,
    async collect() {
      const { resourceMetrics, errors } = await reader.collect();
      // Once per distinct error: a failing callback fails every scrape the same way.
      for (const e of errors) logOnce(`collect:${String(e).slice(0, 200)}`, 'warn', `metric collection: ${String(e).slice(0, 500)}`);
      return serializer.serializeAsync(resourceMetrics); // in slices: a big scrape never holds the app for long
    },
  });
  return { reader, server };
}

/**
 * @vigil/health's handler with liveness and the process's checks, made at the first request it
 * sees: its module loads then, not at start-up. (The handler looks the health object up per
 * request anyway.)
 */
function healthHandler(): NonNullable<MetricsServerOptions['health']> {
  let handler: NonNullable<MetricsServerOptions['health']> | undefined;
  return (req, res, next) => {
    handler ??= (require('@vigil/health') as typeof import('@vigil/health')).healthRequestHandler(undefined, { stats: false });
    return handler(req, res, next);
  };
}

/**
 * Wraps a push exporter so its failures are told once per change of state
 * ("failing" once, "recovered" once), not once per export. An export that has not
 * answered within `timeoutMillis` fails then: before the reader's own, later timeout,
 * whose error would otherwise be a second line for the same failure.
 */
export class StateLoggingExporter implements PushMetricExporter {
  private failing = false;
  readonly selectAggregationTemporality: PushMetricExporter['selectAggregationTemporality'];
  readonly selectAggregation: PushMetricExporter['selectAggregation'];

  constructor(
    private readonly inner: PushMetricExporter,
    private readonly what: string,
    private readonly timeoutMillis?: number,
  ) {
    // The reader asks the exporter for temporality and aggregation: answer as the wrapped one does.
    this.selectAggregationTemporality = inner.selectAggregationTemporality?.bind(inner);
    this.selectAggregation = inner.selectAggregation?.bind(inner);
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    let called = false;
    let timer: NodeJS.Timeout | undefined;
    const done = (result: ExportResult) => {
      if (called) return;
      called = true;
      clearTimeout(timer);
      if (result.code === ExportResultCode.FAILED && !this.failing) {
        this.failing = true;
        log('warn', `${this.what}: export failing (${result.error?.message ?? 'unknown error'}); metrics are kept and retried, and this is said once until it recovers`);
      } else if (result.code === ExportResultCode.SUCCESS && this.failing) {
        this.failing = false;
        log('info', `${this.what}: export recovered`);
      }
      resultCallback(result);
    };
    if (this.timeoutMillis !== undefined) {
      const ms = this.timeoutMillis;
      timer = setTimeout(() => done({ code: ExportResultCode.FAILED, error: new Error(`no answer within ${ms} ms`) }), ms).unref();
    }
    try {
      this.inner.export(metrics, done);
    } catch (err) {
      done({ code: ExportResultCode.FAILED, error: err as Error });
    }
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

/**
 * At most this many OTLP pushes in flight. Totals are cumulative, so a newer push carries
 * everything an older failed one had: nothing needs queueing while the collector is away.
 */
const MAX_PUSHES_IN_FLIGHT = 2;

function otlpExporter(config: ResolvedConfig, timeoutMillis: number): PushMetricExporter {
  const { endpoint, protocol, headers } = config.otlp;
  const common = { url: endpoint, timeoutMillis, concurrencyLimit: MAX_PUSHES_IN_FLIGHT };
  switch (protocol) {
    case 'grpc': {
      const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-grpc') as typeof import('@opentelemetry/exporter-metrics-otlp-grpc');
      // gRPC metadata comes from OTEL_EXPORTER_OTLP_(METRICS_)HEADERS, read by the exporter itself.
      return new OTLPMetricExporter(common);
    }
    case 'http/json': {
      const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-http') as typeof import('@opentelemetry/exporter-metrics-otlp-http');
      return new OTLPMetricExporter({ ...common, headers });
    }
    default: {
      const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-proto') as typeof import('@opentelemetry/exporter-metrics-otlp-proto');
      return new OTLPMetricExporter({ ...common, headers });
    }
  }
}

// The parts of upstream's OTLP transports (otlp-exporter-base, otlp-grpc-exporter-base 0.301)
// that letGoOf uses. They are not public API: the exit-time tests in
// test/reliability/faults-otlp.test.ts fail when an upgrade changes them.
type ExportResponse = { status: string; error?: Error };
interface HttpTransport {
  send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse>;
  _utils?: { agent?: { destroy(): void } } | null;
}
interface Transport {
  shutdown?(): void;
  /** RetryingTransport (HTTP): its backoff wait, and the transport it retries. */
  retry?(data: Uint8Array, timeoutMillis: number, inMillis: number): Promise<ExportResponse>;
  _transport?: HttpTransport;
}

/**
 * Upstream's OTLP exporters hold a finished process open long after vigil's shutdown
 * bound: the HTTP exporter's retry timers and request sockets (13 s to a refused port,
 * the whole export timeout to a collector that never answers), the gRPC client's pending
 * call (the export timeout). Returns what lets go of that pending work: retries stop and
 * sockets close (HTTP), the client closes and so ends its call (gRPC).
 */
function letGoOf(exporter: PushMetricExporter): () => void {
  const transport = (exporter as { _delegate?: { _transport?: Transport } })._delegate?._transport;
  if (!transport) return () => {};
  const inner = transport._transport;
  if (typeof transport.retry === 'function' && typeof inner?.send === 'function') {
    let released = false;
    const waiting = new Set<() => void>();
    const abandoned = (): ExportResponse => ({ status: 'failure', error: new Error('export abandoned at shutdown') });
    // Upstream's retry (wait, then send again), except that letting go ends the wait at
    // once: until the export settles, the reader's timeout timer holds the process open.
    transport.retry = (data, timeoutMillis, inMillis) =>
      new Promise((resolve, reject) => {
        if (released) return resolve(abandoned());
        const timer = setTimeout(() => {
          waiting.delete(abandon);
          inner.send(data, timeoutMillis).then(resolve, reject);
        }, inMillis);
        const abandon = () => {
          clearTimeout(timer);
          resolve(abandoned());
        };
        waiting.add(abandon);
      });
    return () => {
      released = true;
      for (const abandon of waiting) abandon();
      waiting.clear();
      inner._utils?.agent?.destroy(); // fails the requests still waiting for an answer
    };
  }
  return () => transport.shutdown?.();
}

/** A periodic reader that lets go of its exporter's pending work once shutdown has had its time. */
class PushReader extends PeriodicExportingMetricReader {
  constructor(
    options: PeriodicExportingMetricReaderOptions,
    private readonly letGo: () => void,
    private readonly shutdownTimeoutMs: number,
  ) {
    super(options);
  }

  protected override async onShutdown(): Promise<void> {
    // vigil's shutdown gives up at this bound (start.ts); the exporter must not outlive it.
    const timer = setTimeout(this.letGo, this.shutdownTimeoutMs).unref();
    try {
      await super.onShutdown();
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The periodic push readers for the configured exporters (otlp, console). */
export function pushReaders(config: ResolvedConfig, producers: MetricProducer[]): MetricReader[] {
  const readers: MetricReader[] = [];
  // The exporter's attempts (retries included) end a little before the reader stops waiting,
  // and so before the next export starts: attempts never pile up behind a slow collector.
  const exportTimeoutMillis = Math.min(config.otlp.timeoutMs, config.otlp.intervalMs);
  const attemptsTimeoutMillis = Math.max(1, Math.min(config.otlp.requestTimeoutMs, Math.floor(exportTimeoutMillis * 0.9)));
  const options = (exporter: PushMetricExporter): PeriodicExportingMetricReaderOptions => ({
    exporter,
    exportIntervalMillis: config.otlp.intervalMs,
    exportTimeoutMillis,
    metricProducers: producers,
  });
  if (config.exporters.has('otlp')) {
    const otlp = otlpExporter(config, attemptsTimeoutMillis);
    // An export may be several requests (ChunkedExporter): together they too end before the reader stops waiting.
    const exportBudgetMillis = Math.max(1, Math.floor(exportTimeoutMillis * 0.9));
    const exporter = new StateLoggingExporter(
      new ChunkedExporter(otlp, exportBudgetMillis),
      `OTLP ${config.otlp.protocol} ${config.otlp.endpoint}`,
      exportBudgetMillis,
    );
    readers.push(new PushReader(options(exporter), letGoOf(otlp), config.shutdownTimeoutMs));
  }
  if (config.exporters.has('console')) {
    const { ConsoleMetricExporter } = require('@opentelemetry/sdk-metrics') as typeof import('@opentelemetry/sdk-metrics');
    readers.push(new PeriodicExportingMetricReader(options(new ConsoleMetricExporter())));
  }
  return readers;
}
