// health_check_status{check}: 1 healthy, 0 unhealthy, from the last report.
// The callback only reads the last report; it never runs a check, so a scrape
// cannot be slowed or multiplied by a slow dependency.
import { metrics, type MeterProvider, type ObservableGauge, type ObservableResult } from '@opentelemetry/api';
import { createObservableGauge, healthCheckStatus, logOnce, type AttributesOf } from '@vigil/catalog';
import type { HealthReport } from './types';
import { VERSION } from './version';

type Attributes = AttributesOf<typeof healthCheckStatus>;

export class HealthMetric {
  private provider: MeterProvider | undefined;
  private gauge: ObservableGauge<Attributes> | undefined;
  private closed = false;
  private readonly callback = (result: ObservableResult<Attributes>): void => {
    const report = this.last();
    if (!report) return;
    for (const [check, r] of Object.entries(report.checks)) result.observe(r.healthy ? 1 : 0, { check });
  };

  constructor(
    private readonly explicit: MeterProvider | undefined,
    private readonly last: () => HealthReport | undefined,
  ) {
    this.bind();
  }

  /**
   * Creates the gauge on the MeterProvider in use. Without an explicit provider this follows the
   * global one, so a health object created before @vigil/node registers its provider still reports.
   */
  bind(): void {
    if (this.closed) return;
    const provider = this.explicit ?? metrics.getMeterProvider();
    if (provider === this.provider) return;
    this.detach();
    this.provider = provider;
    try {
      this.gauge = createObservableGauge(provider.getMeter('@vigil/health', VERSION), healthCheckStatus);
      this.gauge.addCallback(this.callback);
    } catch (err) {
      this.gauge = undefined;
      logOnce('health:metric', 'warn', `could not create ${healthCheckStatus.name}: ${String(err)}; health checks still answer`);
    }
  }

  private detach(): void {
    try {
      this.gauge?.removeCallback(this.callback);
    } catch {
      // a provider that is already shut down
    }
    this.gauge = undefined;
  }

  close(): void {
    this.closed = true;
    this.detach();
  }
}
