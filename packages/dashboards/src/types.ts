import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

/** A Grafana dashboard as provisioned from grafana/dashboards/*.json. */
export type DashboardJson = dashboard.Dashboard;

/** Options of {@link writeDashboards}. */
export interface WriteOptions {
  /**
   * Directory the dashboards are written to (created if missing).
   * @default '<repository>/grafana/dashboards' (resolved from this package's location)
   */
  readonly outDir?: string;
}
