/**
 * Helpers of the end-to-end test: the real Prometheus and Alertmanager started
 * with configurations derived from the repository's own files, a webhook sink
 * standing in for Alertmanager's receivers, and the dashboards' queries.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';

/** The repository root (this file runs from test/build/e2e/). */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const PROMETHEUS = '/usr/bin/prometheus';
export const ALERTMANAGER = '/usr/bin/prometheus-alertmanager';

/** The `for` every alert gets in the test copies of prometheus/alerts/*.yml (the repository's are 1m to 10m). */
export const TEST_FOR = '5s';

// ------------------------------------------------------------------ processes

export interface Program {
  readonly name: string;
  readonly child: ChildProcess;
  log(): string;
  /** SIGTERM, then SIGKILL after 10 s; resolves when it has exited. */
  stop(): Promise<void>;
}

/** Starts a program and waits until `readyUrl` answers 200 (fails with its log when it exits or times out). */
export async function startProgram(name: string, bin: string, args: string[], readyUrl: string, timeoutMs = 30_000): Promise<Program> {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-200_000)));
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-200_000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));
  const program: Program = {
    name,
    child,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null && !spawnError) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawnError) throw new Error(`${name} (${bin}) could not start: ${spawnError.message}; run scripts/setup.sh`);
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${log}`);
    const ok = await fetch(readyUrl, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return program;
    if (Date.now() > deadline) {
      await program.stop();
      throw new Error(`${name} was not ready at ${readyUrl} within ${timeoutMs} ms:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

// ------------------------------------------------------------------ webhook sink

export interface Notification {
  /** The path it was posted to: /<receiver>/<which webhook of that receiver>. */
  path: string;
  authorization: string | undefined;
  body: {
    receiver: string;
    status: string;
    groupLabels: Record<string, string>;
    alerts: Array<{ status: string; labels: Record<string, string>; annotations: Record<string, string> }>;
  };
}

/** An HTTP server that records every Alertmanager webhook notification. */
export async function startSink(): Promise<{ url: string; received: Notification[]; close(): Promise<void> }> {
  const received: Notification[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        received.push({ path: req.url ?? '', authorization: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      } catch {
        // not a notification; answered all the same
      }
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

// ------------------------------------------------------------------ Alertmanager

const SECRETS = '/etc/alertmanager/secrets/';

/**
 * alertmanager/alertmanager.yml for this test. Routing, grouping, inhibition and
 * receivers are the repository's; what differs: every webhook (the generic one
 * and the alert relay's) posts to the sink at /<receiver>/<n>, secret files live
 * in `secretsDir`, group_wait / group_interval are 1s, and the email and WeCom
 * integrations (SMTP and the internet) are left out.
 */
export function deriveAlertmanagerConfig(sinkUrl: string, secretsDir: string): string {
  const doc = parse(readFileSync(join(REPO_ROOT, 'alertmanager', 'alertmanager.yml'), 'utf8'));
  const fast = (route: Record<string, unknown>): void => {
    if ('group_wait' in route || route === doc.route) route['group_wait'] = '1s';
    if ('group_interval' in route || route === doc.route) route['group_interval'] = '1s';
    for (const child of (route['routes'] as Record<string, unknown>[] | undefined) ?? []) fast(child);
  };
  fast(doc.route);
  const secretPath = (p: string): string => (p.startsWith(SECRETS) ? join(secretsDir, p.slice(SECRETS.length)) : p);
  if (doc.global?.smtp_auth_password_file) doc.global.smtp_auth_password_file = secretPath(doc.global.smtp_auth_password_file);
  for (const receiver of doc.receivers as Array<Record<string, any>>) {
    delete receiver.email_configs;
    delete receiver.wechat_configs;
    // YAML aliases share objects between receivers: give each receiver copies of its own.
    receiver.webhook_configs = (receiver.webhook_configs ?? []).map((hook: Record<string, any>, i: number) => {
      const copy = JSON.parse(JSON.stringify(hook));
      const kind = String(hook.url).startsWith('http://alert-relay:') ? `relay-${String(hook.url).split('/').pop()}` : 'webhook';
      copy.url = `${sinkUrl}/${receiver.name}/${kind}-${i}`;
      const auth = copy.http_config?.authorization;
      if (auth?.credentials_file) auth.credentials_file = secretPath(auth.credentials_file);
      return copy;
    });
  }
  return stringify(doc);
}

// ------------------------------------------------------------------ Prometheus

interface ScrapeJob {
  job_name: string;
  scrape_interval?: string;
  scrape_timeout?: string;
  static_configs: Array<{ targets: string[] }>;
  [k: string]: unknown;
}

/**
 * prometheus/prometheus.yml for this test, written to `dir` with copies of the
 * rule files beside it, so its rule_files entries (alerts/*.yml, rules/*.yml)
 * stay exactly the repository's. Differences: 2 s scrape interval and timeout
 * (a busy test machine can take more than 1 s to answer a scrape), 1 s rule
 * evaluation; the targets are this machine's processes (ai-gateway -> the demo's
 * metrics port, prometheus -> this Prometheus, alertmanager -> this
 * Alertmanager); the alert-relay job is left out (the relay is not part of this
 * test; packages/alert-relay has its own end-to-end test with Alertmanager);
 * and in the alert copies every `for` is TEST_FOR, so the test waits seconds,
 * not minutes. The recording rules are copied unchanged.
 */
export function derivePrometheusConfig(dir: string, targets: { gateway: string; prometheus: string; alertmanager: string }): { file: string; shortened: Array<{ alert: string; for: string }> } {
  const repo = parse(readFileSync(join(REPO_ROOT, 'prometheus', 'prometheus.yml'), 'utf8'));
  const shortened: Array<{ alert: string; for: string }> = [];
  for (const sub of ['alerts', 'rules']) {
    mkdirSync(join(dir, sub), { recursive: true });
    for (const f of readdirSync(join(REPO_ROOT, 'prometheus', sub)).filter((f) => f.endsWith('.yml'))) {
      const src = join(REPO_ROOT, 'prometheus', sub, f);
      if (sub === 'rules') {
        copyFileSync(src, join(dir, sub, f));
        continue;
      }
      const doc = parse(readFileSync(src, 'utf8')) as { groups: Array<{ rules: Array<{ alert?: string; for?: string }> }> };
      for (const g of doc.groups) {
        for (const r of g.rules) {
          if (r.alert && r.for && r.for !== '0m' && r.for !== '0s') {
            shortened.push({ alert: r.alert, for: r.for });
            r.for = TEST_FOR;
          }
        }
      }
      writeFileSync(join(dir, sub, f), stringify(doc));
    }
  }
  const targetOf: Record<string, string> = { 'ai-gateway': targets.gateway, prometheus: targets.prometheus, alertmanager: targets.alertmanager };
  const jobs = (repo.scrape_configs as ScrapeJob[])
    .filter((j) => j.job_name in targetOf)
    .map((j) => ({ ...j, scrape_interval: '2s', scrape_timeout: '2s', static_configs: [{ targets: [targetOf[j.job_name]!] }] }));
  const config = {
    ...repo,
    global: { ...repo.global, scrape_interval: '2s', scrape_timeout: '2s', evaluation_interval: '1s' },
    alerting: { alertmanagers: [{ static_configs: [{ targets: [targets.alertmanager] }] }] },
    scrape_configs: jobs,
  };
  const file = join(dir, 'prometheus.yml');
  writeFileSync(file, stringify(config));
  return { file, shortened };
}

/** A Prometheus HTTP API client. */
export class PromApi {
  constructor(readonly url: string) {}

  async get<T>(path: string, params: Record<string, string | string[]> = {}): Promise<T> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) qs.append(k, x);
    const res = await fetch(`${this.url}${path}?${qs}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${body.error ?? res.status}`);
    return body.data;
  }

  /** An instant query; the result's samples (a scalar is one sample without labels). */
  async query(expr: string): Promise<Array<{ metric: Record<string, string>; value: number }>> {
    const data = await this.get<{ resultType: string; result: unknown }>('/api/v1/query', { query: expr });
    if (data.resultType === 'scalar') return [{ metric: {}, value: Number((data.result as [number, string])[1]) }];
    if (data.resultType === 'vector') {
      return (data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
    }
    throw new Error(`${expr}: unexpected result type ${data.resultType}`);
  }
}

// ------------------------------------------------------------------ dashboards

export interface PanelQuery {
  dashboard: string;
  panel: string;
  expr: string;
  /** The expression with Grafana's variables replaced. */
  promql: string;
}

/** Values for Grafana's variables: every site, channel, model, job and instance; 1m rate windows; a 5m range. */
export const VARIABLES: Record<string, string> = {
  __rate_interval: '1m',
  __interval: '15s',
  __range: '5m',
  site_id: '.*',
  channel: '.*',
  model: '.*',
  job: '.*',
  instance: '.*',
};

export function substitute(expr: string): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b)!;
    if (!(name in VARIABLES)) throw new Error(`unknown Grafana variable ${whole} in ${expr}`);
    return VARIABLES[name]!;
  });
}

interface Panel {
  title?: string;
  panels?: Panel[];
  targets?: Array<{ expr?: string }>;
}

/** Every panel query of grafana/dashboards/*.json. */
export function dashboardQueries(): PanelQuery[] {
  const dir = join(REPO_ROOT, 'grafana', 'dashboards');
  const out: PanelQuery[] = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const doc = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { title: string; panels?: Panel[] };
    const walk = (panels: Panel[] | undefined): void => {
      for (const p of panels ?? []) {
        walk(p.panels);
        for (const t of p.targets ?? []) {
          if (t.expr) out.push({ dashboard: f, panel: p.title ?? '(untitled)', expr: t.expr, promql: substitute(t.expr) });
        }
      }
    };
    walk(doc.panels);
  }
  return out;
}

/** Every `label_values(selector, label)` template variable of the dashboards. */
export function dashboardVariables(): Array<{ dashboard: string; name: string; selector: string | undefined; label: string }> {
  const dir = join(REPO_ROOT, 'grafana', 'dashboards');
  const out: Array<{ dashboard: string; name: string; selector: string | undefined; label: string }> = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const doc = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { templating?: { list?: Array<{ name: string; type: string; query?: string | { query?: string } }> } };
    for (const v of doc.templating?.list ?? []) {
      if (v.type !== 'query') continue;
      const q = typeof v.query === 'string' ? v.query : v.query?.query ?? '';
      const m = /^label_values\((?:(.*),\s*)?(\w+)\)$/.exec(q.trim());
      if (!m) throw new Error(`${f}: variable ${v.name} is not a label_values() query: ${q}`);
      out.push({ dashboard: f, name: v.name, selector: m[1] ? substitute(m[1]) : undefined, label: m[2]! });
    }
  }
  return out;
}
