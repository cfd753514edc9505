/**
 * The relay's own metrics, from the catalog (the single source of truth for
 * metric names). The relay imports the catalog's data module, not the package
 * index: the index also loads the OpenTelemetry SDK for the lean accumulators,
 * and the relay writes its few metrics in the Prometheus text format itself.
 */
export { alertRelayNotificationsTotal, alertRelayQueueDepth, alertRelayRequestsTotal } from '@vigil/catalog/metrics';
