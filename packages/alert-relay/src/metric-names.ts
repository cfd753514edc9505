/**
 * The relay's own metrics. This is the one place in the relay where their names
 * are written; see the package README for why they are not (yet) imported from
 * @vigil/catalog.
 */

export interface RelayMetricEntry<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly labels: readonly L[];
}

export const alertRelayNotificationsTotal: RelayMetricEntry<'target' | 'type' | 'outcome' | 'reason'> = {
  name: 'vigil_alert_relay_notifications_total',
  help: 'Messages the alert relay posted to chat services, by target, outcome (sent, failed, skipped) and reason.',
  type: 'counter',
  labels: ['target', 'type', 'outcome', 'reason'],
};

export const alertRelayQueueDepth: RelayMetricEntry<'target' | 'type'> = {
  name: 'vigil_alert_relay_queue_depth',
  help: 'Messages waiting or being sent, per chat target.',
  type: 'gauge',
  labels: ['target', 'type'],
};

export const alertRelayRequestsTotal: RelayMetricEntry<'route' | 'code'> = {
  name: 'vigil_alert_relay_requests_total',
  help: 'Alertmanager webhook requests the relay answered, by route and HTTP status code.',
  type: 'counter',
  labels: ['route', 'code'],
};
