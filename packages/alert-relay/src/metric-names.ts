/**
 * The relay's own metrics.
 *
 * The catalog (@vigil/catalog) is the single source of truth for metric names.
 * The relay imports the catalog's data module directly, not the package index:
 * the index also loads the OpenTelemetry SDK for the lean accumulators, and
 * the relay writes its few metrics in the Prometheus text format itself.
 */
import { alertRelayNotificationsTotal, alertRelayQueueDepth } from '@vigil/catalog/build/src/metrics';

export { alertRelayNotificationsTotal, alertRelayQueueDepth };

/** What the relay's exposition needs from a catalog entry. */
export interface RelayMetricEntry<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly labels: readonly L[];
}

/**
 * Not (yet) in the catalog: webhook requests by route and status code. This is
 * the one place the relay writes a metric name; it moves to the catalog as
 * `alertRelayRequestsTotal` when the catalog adds it.
 */
export const alertRelayRequestsTotal: RelayMetricEntry<'route' | 'code'> = {
  name: 'alert_relay_requests_total',
  help: 'Alertmanager webhook requests the alert relay answered, by route and HTTP status code',
  type: 'counter',
  labels: ['route', 'code'],
};
