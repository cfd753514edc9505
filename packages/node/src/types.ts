import type { HttpServerInstrumentationConfig } from '@vigil/instrumentation-http';
import type { PgInstrumentationConfig } from '@vigil/instrumentation-pg';
import type { RedisInstrumentationConfig } from '@vigil/instrumentation-redis';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Where metrics go. */
export type MetricsExporterName = 'prometheus' | 'otlp' | 'console' | 'none';

/** OTLP wire protocol. */
export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';

/** Where traces go; anything but 'none' switches on the upstream OpenTelemetry trace instrumentations. */
export type TracesExporterName = 'none' | 'otlp' | 'console' | 'zipkin';

/** Credentials required on vigil's /metrics endpoint. */
export interface MetricsAuth {
  /**
   * Required `Authorization: Bearer <token>`. Env: VIGIL_METRICS_BEARER_TOKEN.
   * @default undefined (no token)
   */
  bearerToken?: string;
  /**
   * Required HTTP basic credentials as "user:password". Env: VIGIL_METRICS_BASIC_AUTH.
   * @default undefined (no basic auth)
   */
  basicAuth?: string;
}

/** An extra route on vigil's metrics server, such as /health from @vigil/health. */
export type MetricsServerRoute = (req: IncomingMessage, res: ServerResponse) => void;

/** Options of `start()`. Each falls back to its environment variable, then to its default. */
export interface VigilOptions {
  /**
   * Turn vigil off entirely: no port is opened, nothing is patched. Env: OTEL_SDK_DISABLED.
   * @default false
   */
  disabled?: boolean;
  /**
   * service.name of the resource. Env: OTEL_SERVICE_NAME.
   * @default "unknown_service:node"
   */
  serviceName?: string;
  /**
   * Extra resource attributes. Env: OTEL_RESOURCE_ATTRIBUTES (key=value,key=value).
   * @default {}
   */
  resourceAttributes?: Record<string, string>;
  /**
   * Resource detectors: any of env, host, os, process, serviceinstance, all, none. No cloud-metadata detector is
   * ever enabled by default: those call hosts off the machine. Env: OTEL_NODE_RESOURCE_DETECTORS.
   * @default ["env", "host", "os", "process", "serviceinstance"]
   */
  resourceDetectors?: string[];
  /**
   * Metric exporters. Env: OTEL_METRICS_EXPORTER (a comma list).
   * @default ["prometheus"]
   */
  metricsExporters?: MetricsExporterName[];
  /**
   * The seed's switch for the Prometheus endpoint: false drops "prometheus" from the exporters, true adds it.
   * Env: PROMETHEUS_ENABLED.
   * @default undefined (the exporter list decides)
   */
  prometheusEnabled?: boolean;
  /**
   * Interface of vigil's metrics server. Env: OTEL_EXPORTER_PROMETHEUS_HOST.
   * @default "127.0.0.1" (localhost only; set 0.0.0.0 in containers)
   */
  prometheusHost?: string;
  /**
   * Port of vigil's metrics server. Env: OTEL_EXPORTER_PROMETHEUS_PORT.
   * @default 9464
   */
  prometheusPort?: number;
  /**
   * Credentials required on /metrics.
   * @default no authentication
   */
  metricsAuth?: MetricsAuth;
  /**
   * Extra GET routes on the metrics server, by path (e.g. { '/health': handler }).
   * @default {}
   */
  metricsServerRoutes?: Record<string, MetricsServerRoute>;
  /**
   * OTLP metrics endpoint (full URL for HTTP, host:port URL for gRPC).
   * Env: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT plus /v1/metrics.
   * @default "http://localhost:4318/v1/metrics" (http), "http://localhost:4317" (grpc)
   */
  otlpEndpoint?: string;
  /**
   * OTLP protocol. Env: OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL.
   * @default "http/protobuf"
   */
  otlpProtocol?: OtlpProtocol;
  /**
   * OTLP request headers. Env: OTEL_EXPORTER_OTLP_METRICS_HEADERS, else OTEL_EXPORTER_OTLP_HEADERS (key=value,...).
   * @default {}
   */
  otlpHeaders?: Record<string, string>;
  /**
   * Milliseconds between OTLP exports. Env: OTEL_METRIC_EXPORT_INTERVAL.
   * @default 60000
   */
  exportIntervalMs?: number;
  /**
   * Milliseconds one OTLP export may take. Env: OTEL_METRIC_EXPORT_TIMEOUT.
   * @default 30000
   */
  exportTimeoutMs?: number;
  /**
   * Milliseconds one OTLP request, retries included, may take (at most 90% of exportTimeoutMs).
   * Env: OTEL_EXPORTER_OTLP_METRICS_TIMEOUT, OTEL_EXPORTER_OTLP_TIMEOUT.
   * @default 10000
   */
  otlpTimeoutMs?: number;
  /**
   * Trace exporter. Env: OTEL_TRACES_EXPORTER.
   * @default "none"
   */
  tracesExporter?: TracesExporterName;
  /**
   * Node.js runtime metrics (CPU, memory, heap, event loop delay, GC). Env: VIGIL_RUNTIME_METRICS.
   * @default true
   */
  runtimeMetrics?: boolean;
  /**
   * Serve /health, /health/live and /health/ready on the metrics server, answering with the checks the app
   * registered through @vigil/health (liveness alone when it registered none). Env: VIGIL_HEALTH_ENDPOINT.
   * @default true
   */
  healthEndpoint?: boolean;
  /**
   * Instrumentations to leave off: any of http, pg, redis. Env: VIGIL_DISABLED_INSTRUMENTATIONS.
   * @default []
   */
  disabledInstrumentations?: Array<'http' | 'pg' | 'redis'>;
  /**
   * Series per metric before new label sets fold into one overflow series. Env: VIGIL_METRIC_CARDINALITY_LIMIT.
   * @default 2000
   */
  cardinalityLimit?: number;
  /**
   * Milliseconds that shutdown (SIGTERM, SIGINT, shutdown()) may spend flushing. Env: VIGIL_SHUTDOWN_TIMEOUT_MS.
   * @default 5000
   */
  shutdownTimeoutMs?: number;
  /**
   * Log level of vigil and OpenTelemetry: none, error, warn, info, debug. Env: OTEL_LOG_LEVEL.
   * @default "info"
   */
  logLevel?: 'none' | 'error' | 'warn' | 'info' | 'debug';
  /** HTTP server instrumentation options. */
  http?: HttpServerInstrumentationConfig;
  /** PostgreSQL instrumentation options. */
  pg?: PgInstrumentationConfig;
  /** Redis instrumentation options. */
  redis?: RedisInstrumentationConfig;
}

/** What `start()` returns. */
export interface VigilHandle {
  /** Flushes pending exports (bounded by shutdownTimeoutMs) and stops vigil. Never rejects. */
  shutdown(): Promise<void>;
  /** Exports now (OTLP). Never rejects. */
  forceFlush(): Promise<void>;
  /** The port vigil's metrics server listens on, once listening; undefined when it is off or could not bind. */
  readonly metricsPort: number | undefined;
}
