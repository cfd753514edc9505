import { createRelay, type LogRecord, type Relay, type RelayConfigInput } from '../src/index';

export interface AlertSpec {
  alertname?: string;
  severity?: string;
  status?: 'firing' | 'resolved';
  summary?: string;
  description?: string;
  runbook_url?: string;
  labels?: Record<string, string>;
}

/** An Alertmanager version-4 webhook payload, shaped as Alertmanager 0.25 sends it. */
export function payload(alerts: AlertSpec[], extra: Record<string, unknown> = {}): Record<string, any> {
  const list = alerts.map((a, i) => {
    const status = a.status ?? 'firing';
    return {
      status,
      labels: { alertname: a.alertname ?? 'HighErrorRate', severity: a.severity ?? 'critical', instance: `10.0.0.${i}:3000`, ...(a.labels ?? {}) },
      annotations: {
        summary: a.summary ?? `Error rate above 5% on instance ${i}`,
        description: a.description ?? `The 5m error rate is 7.5% (threshold 5%).`,
        runbook_url: a.runbook_url ?? 'https://runbooks.example.com/high-error-rate',
      },
      startsAt: '2024-05-01T12:00:00.000Z',
      endsAt: status === 'resolved' ? '2024-05-01T12:07:30.000Z' : '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus:9090/graph?g0.expr=up',
      fingerprint: `fp${i.toString(16).padStart(14, '0')}`,
    };
  });
  const firing = list.some((a) => a.status === 'firing');
  return {
    receiver: 'relay',
    status: firing ? 'firing' : 'resolved',
    alerts: list,
    groupLabels: { alertname: list[0]!.labels.alertname },
    commonLabels: { alertname: list[0]!.labels.alertname },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    version: '4',
    groupKey: `{}:{alertname="${list[0]!.labels.alertname}"}`,
    truncatedAlerts: 0,
    ...extra,
  };
}

export interface Running {
  relay: Relay;
  url: string;
  logs: LogRecord[];
  stop(): Promise<void>;
}

/** Starts a relay on 127.0.0.1 and an ephemeral port, collecting its log records. */
export async function startRelay(config: Omit<RelayConfigInput, 'listen'>, env: NodeJS.ProcessEnv = {}): Promise<Running> {
  const logs: LogRecord[] = [];
  const relay = createRelay({ ...config, listen: '127.0.0.1:0' } as RelayConfigInput, { log: (r) => logs.push(r), env });
  const addr = await relay.start();
  return { relay, url: addr.url, logs, stop: () => relay.stop() };
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns true or `ms` pass. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** Values of one metric from Prometheus text, keyed by the label part. */
export function metricValues(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(name.length, i), Number(line.slice(i + 1)));
  }
  return out;
}
