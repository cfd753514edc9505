// Public configuration and result types of @vigil/health.
import type { MeterProvider } from '@opentelemetry/api';
import type { IncomingMessage } from 'node:http';

/** One check's answer, as the seed's `check_*_health()` functions return it. */
export interface CheckResult {
  /** Whether the dependency answered correctly within the timeout. */
  healthy: boolean;
  /** A short human-readable reason (at most 256 characters; never a password or connection string). */
  message: string;
}

/** What `/health` answers: the seed's JSON shape (004, 工具1). */
export interface HealthReport {
  /** "healthy" when every check passed, else "unhealthy". */
  status: 'healthy' | 'unhealthy';
  /** When the checks started, in Unix seconds with a fraction (like Python's `time.time()`). */
  timestamp: number;
  /** Each check's result, by the name it was given in `createHealth({ checks })`. */
  checks: Record<string, CheckResult>;
}

/** A check created by `postgresCheck`, `redisCheck` or `customCheck`. */
export interface HealthCheck {
  /** Name used in the check's messages ("Database", "Redis", or the custom check's name). */
  readonly name: string;
  /** This check's own timeout in milliseconds, or undefined to use the health object's `timeoutMs`. */
  readonly timeoutMs: number | undefined;
  /**
   * Runs the check once. Never rejects: errors and timeouts become `{ healthy: false }`.
   * While an earlier attempt is still pending (a hanging dependency), a new call waits for that
   * attempt instead of starting another, so a dead dependency never accumulates health queries.
   * @param timeoutMs overrides the check's timeout for this call
   */
  run(timeoutMs?: number): Promise<CheckResult>;
}

/** What a custom check function may return. `undefined` (the function returned nothing and did not throw) counts as healthy. */
export type CustomCheckReturn = boolean | { healthy: boolean; message?: string } | undefined | void;

/** A custom check function. It gets an AbortSignal that fires when the check times out. */
export type CheckFunction = (signal: AbortSignal) => CustomCheckReturn | Promise<CustomCheckReturn>;

/** Options of every check constructor. */
export interface CheckOptions {
  /**
   * Milliseconds before the check answers unhealthy with "timed out after N ms".
   * @default the health object's `timeoutMs` (VIGIL_HEALTH_TIMEOUT_MS, else 2000); 2000 when the check runs on its own
   */
  timeoutMs?: number;
}

/** Options of `postgresCheck`. */
export interface PostgresCheckOptions extends CheckOptions {
  /**
   * Name used in messages ("<name> is accessible" / "<name> error: ...").
   * @default "Database"
   */
  name?: string;
  /**
   * The statement sent through `query()`.
   * @default "SELECT 1"
   */
  query?: string;
}

/** Options of `redisCheck`. */
export interface RedisCheckOptions extends CheckOptions {
  /**
   * Name used in messages ("<name> is accessible" / "<name> error: ...").
   * @default "Redis"
   */
  name?: string;
}

/** Options of `createHealth`. */
export interface HealthOptions {
  /**
   * The checks, by the name reported under `checks` in the JSON (for example `database`, `redis`, `ai_services`).
   * A value is a check from `postgresCheck` / `redisCheck` / `customCheck`, or a plain async function (wrapped with `customCheck`).
   * @default {} (no checks: always healthy)
   */
  checks?: Record<string, HealthCheck | CheckFunction>;
  /**
   * Checks run at most once per this many milliseconds, however often `/health` is hit; callers in between get
   * the last result, and concurrent callers share one run. Environment: VIGIL_HEALTH_MIN_INTERVAL_MS.
   * @default 1000
   */
  minIntervalMs?: number;
  /**
   * Timeout in milliseconds for checks that have no `timeoutMs` of their own. Environment: VIGIL_HEALTH_TIMEOUT_MS.
   * @default 2000
   */
  timeoutMs?: number;
  /**
   * Also runs the checks in the background every this many milliseconds, so the `health_check_status` metric
   * tells the truth when nothing polls `/health` (an alert on a stale value would fire on, or miss, an outage).
   * 0 runs them only when asked. Off when `metrics` is off. The timer never keeps the process alive.
   * Environment: VIGIL_HEALTH_REFRESH_INTERVAL_MS.
   * @default 15000
   */
  refreshIntervalMs?: number;
  /**
   * Report the results as `health_check_status{check}` (1 healthy, 0 unhealthy). Environment: VIGIL_HEALTH_METRICS.
   * @default true
   */
  metrics?: boolean;
  /**
   * Makes this the process's health object (the latest one registered wins; `close()` unregisters it), which
   * `healthRequestHandler()` without a health argument serves — that is how @vigil/node's metrics server
   * answers `/health` with the app's own checks.
   * @default true
   */
  register?: boolean;
  /**
   * The MeterProvider for `health_check_status`.
   * @default the global MeterProvider (the one @vigil/node registers), picked up even when it is registered after `createHealth`
   */
  meterProvider?: MeterProvider;
}

/** The object `createHealth` returns. */
export interface Health {
  /** The check names, in the order given. */
  readonly checkNames: readonly string[];
  /**
   * Readiness: the checks' report. Runs the checks unless they ran less than `minIntervalMs` ago
   * (then the last report) or are running now (then the same pending run). Never rejects.
   */
  run(): Promise<HealthReport>;
  /** Liveness: `{ status: "healthy", timestamp, checks: {} }` while the process can answer. Runs no check. */
  live(): HealthReport;
  /** The last readiness report, without running anything. */
  last(): HealthReport | undefined;
  /** Stops the background refresh and the metric callback. */
  close(): void;
}

/** A request authorizer for the stats endpoint. `context` is the framework's object (Express req, Fastify request, Koa ctx), or the req itself for node:http. */
export type Authorize = (req: IncomingMessage, context: unknown) => boolean | Promise<boolean>;

/** A source of current metric values: vigil's lean registry, any OTel MetricProducer, or a cumulative OTel MetricReader. */
export interface MetricSource {
  collect(): Promise<{ resourceMetrics: { scopeMetrics: ReadonlyArray<{ metrics: ReadonlyArray<SourceMetric> }> } }>;
}

/** The part of OTel's MetricData the stats endpoint reads. */
export interface SourceMetric {
  readonly descriptor: { readonly name: string };
  readonly dataPoints: ReadonlyArray<{ readonly attributes: Readonly<Record<string, unknown>>; readonly value: unknown }>;
}

/** Options of the admin-only stats endpoint (the seed's `/monitoring/stats`). Authentication is required. */
export interface StatsOptions {
  /**
   * Path of the endpoint.
   * @default "/monitoring/stats"
   */
  path?: string;
  /**
   * Bearer token: requests must send `Authorization: Bearer <token>`. Environment: VIGIL_HEALTH_STATS_TOKEN.
   * @default undefined (no token)
   */
  token?: string;
  /**
   * Basic auth credentials: requests must send `Authorization: Basic base64(username:password)`.
   * @default undefined (no basic auth)
   */
  basic?: { username: string; password: string };
  /**
   * Custom authorization (an admin session, an API key table...). A request is let in when any configured method accepts it.
   * A hook that throws or rejects denies the request.
   * @default undefined
   */
  authorize?: Authorize;
  /**
   * Computes the whole JSON answer yourself. When absent, the seed's stats are computed from the current metric values.
   * @default undefined
   */
  stats?: () => unknown;
  /**
   * Where the metric values come from.
   * @default the source @vigil/node registers (globalThis[Symbol.for('vigil.metric-source')]), else vigil's lean registry
   */
  sources?: MetricSource[];
  /**
   * The AI services always listed in `ai_tasks_stats` (others seen in `ai_tasks_total` are added).
   * @default ["midjourney", "flux", "dreamwork", "jimeng", "kling"] (the seed's)
   */
  aiServices?: string[];
  /**
   * Computes `cache_stats` (the seed's `cache_manager.get_stats()`).
   * @default hits, misses, hit_rate and operations from `cache_operations_total`, or {} when there are none
   */
  cacheStats?: () => unknown;
}

/** Options of the request handlers (node:http, Express, Fastify, Koa). */
export interface HandlerOptions {
  /**
   * Readiness paths: run the checks, 200 or 503 with the report.
   * @default ["/health", "/health/ready"]
   */
  readyPaths?: string[];
  /**
   * Liveness paths: 200 while the process serves; no dependency is checked.
   * @default ["/health/live"]
   */
  livePaths?: string[];
  /**
   * The admin-only stats endpoint. `false` never serves it. When undefined, it is served only if
   * VIGIL_HEALTH_STATS_TOKEN is set. When given without any authentication, its path answers 404 and vigil logs once why.
   * @default undefined
   */
  stats?: StatsOptions | false;
}
