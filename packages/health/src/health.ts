// createHealth: the seed's /health report (004, 工具1) with a minimum interval
// between runs, one shared run for concurrent callers, liveness apart from
// readiness, and the results as the health_check_status metric.
import { booleanSetting, logOnce, numberSetting } from '@vigil/catalog';
import { customCheck, DEFAULT_TIMEOUT_MS, isHealthCheck, MAX_TIMEOUT_MS } from './checks';
import { HealthMetric } from './metric';
import type { CheckResult, Health, HealthCheck, HealthOptions, HealthReport } from './types';

/** Default of `minIntervalMs`. */
export const DEFAULT_MIN_INTERVAL_MS = 1000;
/** Default of `refreshIntervalMs`: Prometheus' default scrape interval. */
export const DEFAULT_REFRESH_INTERVAL_MS = 15_000;

/** Where the process's health object lives (on globalThis, so two copies of this package share it). */
export const PROCESS_HEALTH_KEY = Symbol.for('vigil.health');

type Global = { [PROCESS_HEALTH_KEY]?: Health };

/** The process's health object: the latest one created with `register` on (the default) and not closed. */
export function processHealth(): Health | undefined {
  return (globalThis as Global)[PROCESS_HEALTH_KEY];
}

/** Unix seconds with a fraction, like Python's time.time(). */
function unixSeconds(): number {
  return Date.now() / 1000;
}

function invalidCheck(name: string): HealthCheck {
  const message = `${name} error: not a health check (expected a function or a check from postgresCheck / redisCheck / customCheck)`;
  return { name, timeoutMs: undefined, run: async () => ({ healthy: false, message }) };
}

function normaliseChecks(checks: unknown): Array<[string, HealthCheck]> {
  if (checks === undefined || checks === null) return [];
  if (typeof checks !== 'object' || Array.isArray(checks)) {
    logOnce('health:checks:not-object', 'warn', 'createHealth: `checks` must be an object { name: check }; no checks are run');
    return [];
  }
  const out: Array<[string, HealthCheck]> = [];
  for (const [name, value] of Object.entries(checks as Record<string, unknown>)) {
    if (isHealthCheck(value)) out.push([name, value]);
    else if (typeof value === 'function') out.push([name, customCheck(name, value as never)]);
    else {
      logOnce(`health:checks:invalid:${name}`, 'warn', `createHealth: check "${name}" is not a function or a check from postgresCheck / redisCheck / customCheck; it reports unhealthy`);
      out.push([name, invalidCheck(name)]);
    }
  }
  return out;
}

class HealthImpl implements Health {
  readonly checkNames: readonly string[];
  private readonly checks: Array<[string, HealthCheck]>;
  private readonly minIntervalMs: number;
  private readonly timeoutMs: number;
  private readonly metric: HealthMetric | undefined;
  private readonly timer: NodeJS.Timeout | undefined;
  private report: HealthReport | undefined;
  /** performance.now() when the last run started. */
  private lastStart = -Infinity;
  private inflight: Promise<HealthReport> | undefined;

  constructor(options: HealthOptions) {
    const o = options !== null && typeof options === 'object' ? options : {};
    this.checks = normaliseChecks(o.checks);
    this.checkNames = this.checks.map(([name]) => name);
    this.minIntervalMs = numberSetting('VIGIL_HEALTH_MIN_INTERVAL_MS', o.minIntervalMs, DEFAULT_MIN_INTERVAL_MS, { min: 0, max: 86_400_000 });
    this.timeoutMs = numberSetting('VIGIL_HEALTH_TIMEOUT_MS', o.timeoutMs, DEFAULT_TIMEOUT_MS, { min: 1, max: MAX_TIMEOUT_MS });
    const withMetric = booleanSetting('VIGIL_HEALTH_METRICS', o.metrics, true);
    if (withMetric) this.metric = new HealthMetric(o.meterProvider, () => this.report);
    const refresh = withMetric
      ? numberSetting('VIGIL_HEALTH_REFRESH_INTERVAL_MS', o.refreshIntervalMs, DEFAULT_REFRESH_INTERVAL_MS, { min: 0, max: 86_400_000 })
      : 0;
    if (o.register !== false) (globalThis as Global)[PROCESS_HEALTH_KEY] = this;
    if (refresh > 0 && this.checks.length > 0) {
      this.timer = setInterval(() => void this.run(), Math.max(refresh, 100));
      this.timer.unref();
    }
  }

  run(): Promise<HealthReport> {
    this.metric?.bind();
    if (this.inflight) return this.inflight;
    if (this.report && performance.now() - this.lastStart < this.minIntervalMs) return Promise.resolve(this.report);
    this.lastStart = performance.now();
    const run = this.runChecks()
      .catch((): HealthReport => ({ status: 'unhealthy', timestamp: unixSeconds(), checks: {} }))
      .then((report) => {
        this.report = report;
        this.inflight = undefined;
        return report;
      });
    this.inflight = run;
    return run;
  }

  private async runChecks(): Promise<HealthReport> {
    const timestamp = unixSeconds();
    const results = await Promise.all(
      this.checks.map(([, check]) =>
        Promise.resolve()
          .then(() => check.run(check.timeoutMs ?? this.timeoutMs))
          .then(
            (r): CheckResult => (r && typeof r.healthy === 'boolean' ? { healthy: r.healthy, message: String(r.message ?? '') } : { healthy: false, message: 'check returned no result' }),
            (): CheckResult => ({ healthy: false, message: 'check failed unexpectedly' }),
          ),
      ),
    );
    const checks: Record<string, CheckResult> = {};
    let healthy = true;
    this.checks.forEach(([name], i) => {
      const r = results[i]!;
      checks[name] = r;
      if (!r.healthy) healthy = false;
    });
    // The seed leaves "status": "healthy" in its 503 answer; vigil reports what it found.
    return { status: healthy ? 'healthy' : 'unhealthy', timestamp, checks };
  }

  live(): HealthReport {
    return { status: 'healthy', timestamp: unixSeconds(), checks: {} };
  }

  last(): HealthReport | undefined {
    return this.report;
  }

  close(): void {
    const g = globalThis as Global;
    if (g[PROCESS_HEALTH_KEY] === this) delete g[PROCESS_HEALTH_KEY];
    if (this.timer) clearInterval(this.timer);
    this.metric?.close();
  }
}

/**
 * Creates the health object: `run()` gives the seed's report (readiness), `live()` the liveness answer.
 * Serve it with `healthRequestHandler` (node:http), `expressHealth`, `fastifyHealth` or `koaHealth`.
 */
export function createHealth(options: HealthOptions = {}): Health {
  return new HealthImpl(options);
}

/** The HTTP status for a report: 200 when healthy, 503 when not. */
export function statusCodeOf(report: HealthReport): 200 | 503 {
  return report.status === 'healthy' ? 200 : 503;
}
