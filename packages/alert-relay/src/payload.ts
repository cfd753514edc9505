import type { WebhookAlert, WebhookPayload } from './internal-types';

/** A payload that is not an Alertmanager webhook message; the text is the 400 reason. */
export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

/**
 * Validates an Alertmanager webhook payload (version "4", the only version
 * Alertmanager has sent since 0.7) and returns it typed. Throws PayloadError
 * naming the first offending field.
 */
export function parsePayload(body: unknown): WebhookPayload {
  const p = obj(body, 'payload');
  if (p['version'] !== '4') {
    throw new PayloadError(`version: expected "4" (Alertmanager webhook format), got ${short(p['version'])}`);
  }
  const alertsRaw = p['alerts'];
  if (!Array.isArray(alertsRaw)) throw new PayloadError('alerts: expected an array');
  if (alertsRaw.length === 0) throw new PayloadError('alerts: expected at least one alert');
  const alerts = alertsRaw.map((a, i) => parseAlert(a, `alerts[${i}]`));
  const truncated = p['truncatedAlerts'];
  if (truncated !== undefined && (typeof truncated !== 'number' || !Number.isInteger(truncated) || truncated < 0)) {
    throw new PayloadError('truncatedAlerts: expected a non-negative integer');
  }
  return {
    version: '4',
    groupKey: str(p['groupKey'], 'groupKey'),
    truncatedAlerts: (truncated as number | undefined) ?? 0,
    status: status(p['status'], 'status'),
    receiver: str(p['receiver'], 'receiver'),
    groupLabels: kv(p['groupLabels'], 'groupLabels'),
    commonLabels: kv(p['commonLabels'], 'commonLabels'),
    commonAnnotations: kv(p['commonAnnotations'], 'commonAnnotations'),
    externalURL: optStr(p['externalURL'], 'externalURL'),
    alerts,
  };
}

function parseAlert(value: unknown, field: string): WebhookAlert {
  const a = obj(value, field);
  const labels = kv(a['labels'], `${field}.labels`);
  if (!labels['alertname']) throw new PayloadError(`${field}.labels.alertname: expected a non-empty string`);
  return {
    status: status(a['status'], `${field}.status`),
    labels,
    annotations: kv(a['annotations'] ?? {}, `${field}.annotations`),
    startsAt: time(a['startsAt'], `${field}.startsAt`),
    endsAt: time(a['endsAt'] ?? '0001-01-01T00:00:00Z', `${field}.endsAt`),
    generatorURL: optStr(a['generatorURL'], `${field}.generatorURL`),
    fingerprint: optStr(a['fingerprint'], `${field}.fingerprint`),
  };
}

function obj(value: unknown, field: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new PayloadError(`${field}: expected a JSON object`);
  return value as Record<string, unknown>;
}

function str(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new PayloadError(`${field}: expected a string, got ${short(value)}`);
  return value;
}

function optStr(value: unknown, field: string): string {
  return value === undefined || value === null ? '' : str(value, field);
}

function status(value: unknown, field: string): 'firing' | 'resolved' {
  if (value !== 'firing' && value !== 'resolved') throw new PayloadError(`${field}: expected "firing" or "resolved", got ${short(value)}`);
  return value;
}

function kv(value: unknown, field: string): Record<string, string> {
  const o = obj(value, field);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) {
    const key = k.length > 60 ? `${k.slice(0, 60)}…` : k;
    if (typeof v !== 'string') throw new PayloadError(`${field}.${key}: expected a string, got ${short(v)}`);
    // defineProperty: a label named __proto__ is a label like any other, not the object's prototype.
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function time(value: unknown, field: string): string {
  const s = str(value, field);
  if (Number.isNaN(Date.parse(s))) throw new PayloadError(`${field}: expected an RFC 3339 time, got ${short(s)}`);
  return s;
}

function short(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
