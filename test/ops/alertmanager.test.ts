/**
 * alertmanager/: the configuration checked by the real amtool and loaded by
 * the real Alertmanager (Debian's prometheus-alertmanager 0.25), the routing
 * of every alert pinned with `amtool config routes test`, inhibition observed
 * on a running Alertmanager, and the entrypoint that supplies the WeCom secret.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { freePort, request, waitFor } from '@vigil/testing';
import { alertRules, readYaml, REPO_ROOT, run } from './tools';

const CONFIG = 'alertmanager/alertmanager.yml';
const PLACEHOLDER = '__WECHAT_API_SECRET_FROM_FILE__';

interface AmConfig {
  global: Record<string, unknown>;
  route: { receiver: string; group_by: string[]; group_wait: string; group_interval: string; repeat_interval: string; routes: unknown[] };
  inhibit_rules: Array<{ source_matchers: string[]; target_matchers: string[]; equal: string[] }>;
  receivers: Array<{
    name: string;
    email_configs?: Array<{ to: string; headers?: Record<string, string> }>;
    webhook_configs?: Array<{ url: string; http_config?: { authorization?: { type?: string; credentials?: string; credentials_file?: string } } }>;
    wechat_configs?: Array<{ api_secret: string; agent_id: string }>;
  }>;
}

const config = readYaml<AmConfig>(CONFIG);

/** Where an alert with these labels must go: the documented routing (docs/runbook.md). */
function expectedReceiver(labels: Record<string, string>): string {
  if (labels['team'] === 'security') return labels['severity'] === 'critical' ? 'security-critical' : 'security-warning';
  return ({ critical: 'critical', warning: 'warning', info: 'info' } as Record<string, string>)[labels['severity'] ?? ''] ?? 'webhook';
}

function routeTest(labels: Record<string, string>, expected: string) {
  const args = ['config', 'routes', 'test', `--config.file=${CONFIG}`, `--verify.receivers=${expected}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)];
  return run('amtool', args);
}

describe('alertmanager/alertmanager.yml', () => {
  it('passes amtool check-config', () => {
    const r = run('amtool', ['check-config', CONFIG]);
    expect(r.status, r.transcript).to.equal(0);
    expect(r.stdout, r.transcript).to.contain('SUCCESS');
    expect(r.stdout, r.transcript).to.contain('6 receivers');
    expect(r.stdout, r.transcript).to.contain('4 inhibit rules');
  });

  describe('routing: amtool config routes test for every alert of prometheus/alerts', () => {
    for (const a of alertRules()) {
      const labels = { alertname: a.alert, ...a.labels, site_id: 'default' };
      const expected = expectedReceiver(a.labels);
      it(`${a.alert} (severity=${a.labels['severity']}, team=${a.labels['team']}) -> ${expected}`, () => {
        const r = routeTest(labels, expected);
        expect(r.status, r.transcript).to.equal(0);
        expect(r.stdout.trim(), r.transcript).to.equal(expected);
      });
    }

    const extra: Array<[Record<string, string>, string]> = [
      [{ alertname: 'TestAlert', severity: 'warning' }, 'warning'], // the seed's curl test alert
      [{ alertname: 'SomethingNew', severity: 'critical', team: 'payments' }, 'critical'],
      [{ alertname: 'SecurityNotice', severity: 'info', team: 'security' }, 'security-warning'],
      [{ alertname: 'NoSeverity' }, 'webhook'],
      [{ alertname: 'Odd', severity: 'page' }, 'webhook'],
    ];
    for (const [labels, expected] of extra) {
      it(`${JSON.stringify(labels)} -> ${expected}`, () => {
        const r = routeTest(labels, expected);
        expect(r.status, r.transcript).to.equal(0);
        expect(r.stdout.trim(), r.transcript).to.equal(expected);
      });
    }

    it('AlertRelayDeliveryFailing reaches warning, whose email and webhook do not go through the relay it reports on', () => {
      const rule = alertRules().find((a) => a.alert === 'AlertRelayDeliveryFailing');
      expect(rule, 'AlertRelayDeliveryFailing in prometheus/alerts').to.not.equal(undefined);
      const labels = { alertname: rule!.alert, ...rule!.labels, job: 'alert-relay', target: 'dingtalk' };
      const r = routeTest(labels, 'warning');
      expect(r.status, r.transcript).to.equal(0);
      const names = r.stdout.trim().split(',').map((n) => n.trim());
      expect(names, r.transcript).to.deep.equal(['warning']);
      for (const name of names) {
        const receiver = config.receivers.find((x) => x.name === name)!;
        expect(receiver.email_configs ?? [], `${name}: email`).to.have.length.greaterThan(0);
        const direct = (receiver.webhook_configs ?? []).filter((w) => !w.url.startsWith('http://alert-relay:'));
        expect(direct.map((w) => w.url), `${name}: a webhook that is not the relay`).to.include('https://hooks.example.com/vigil/alertmanager');
      }
    });

    it('no receiver reaches people through the relay alone', () => {
      for (const r of config.receivers) {
        const relayed = (r.webhook_configs ?? []).filter((w) => w.url.startsWith('http://alert-relay:'));
        if (relayed.length === 0) continue;
        const direct = (r.email_configs ?? []).length + (r.wechat_configs ?? []).length + (r.webhook_configs ?? []).length - relayed.length;
        expect(direct, `${r.name}: channels besides the relay`).to.be.greaterThan(0);
      }
    });

    it('a wrong expectation fails (the check can fail)', () => {
      const r = routeTest({ alertname: 'ChannelCriticalSuccessRate', severity: 'critical', team: 'gateway' }, 'warning');
      expect(r.status, r.transcript).to.not.equal(0);
      expect(r.stdout + r.stderr, r.transcript).to.contain('Expected receivers did not match');
    });
  });

  it('groups by alertname and site_id, with timings per severity', () => {
    expect(config.route.group_by).to.include.members(['alertname', 'site_id']);
    expect(config.route).to.include({ group_wait: '30s', group_interval: '5m', repeat_interval: '4h' });
  });

  it('reaches email, WeCom and DingTalk / Feishu through the relay, and the generic webhook', () => {
    const receiver = (n: string) => config.receivers.find((r) => r.name === n)!;
    const urls = (n: string) => (receiver(n).webhook_configs ?? []).map((w) => w.url);
    expect(receiver('critical').email_configs?.[0]?.headers?.['Subject']).to.contain('[CRITICAL]');
    expect(receiver('critical').wechat_configs).to.have.length(1);
    expect(urls('critical')).to.include('http://alert-relay:8080/alerts/dingtalk');
    expect(urls('warning')).to.include('http://alert-relay:8080/alerts/feishu');
    expect(urls('security-critical')).to.include('http://alert-relay:8080/alerts/security');
    for (const r of config.receivers) {
      expect(urls(r.name), `${r.name} includes the generic webhook`).to.include('https://hooks.example.com/vigil/alertmanager');
      for (const w of r.webhook_configs ?? []) {
        if (w.url.startsWith('http://alert-relay:8080/')) expect(w.url).to.match(/^http:\/\/alert-relay:8080\/alerts\/[a-z-]+$/);
      }
    }
  });

  it('holds no secret: passwords and tokens come from files, the WeCom secret from the entrypoint', () => {
    const text = readFileSync(join(REPO_ROOT, CONFIG), 'utf8');
    const found: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (Array.isArray(node)) { node.forEach((n, i) => walk(n, `${path}[${i}]`)); return; }
      if (node && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
          const p = `${path}.${k}`;
          if (['smtp_auth_password', 'auth_password', 'password', 'credentials', 'bearer_token', 'api_key', 'service_key', 'routing_key', 'token', 'bot_token', 'smtp_auth_secret', 'auth_secret', 'wechat_api_secret'].includes(k)) found.push(p);
          if (k === 'api_secret' && v !== PLACEHOLDER) found.push(p);
          if (typeof v === 'string' && /access_token=|[?&]key=|\/hook\/[0-9a-f-]{8,}/.test(v)) found.push(`${p} (credential in URL)`);
          walk(v, p);
        }
      }
    };
    walk(readYaml(CONFIG), '');
    expect(found, 'literal secrets').to.deep.equal([]);
    expect(text).to.contain('smtp_auth_password_file: /etc/alertmanager/secrets/smtp_password');
    for (const r of config.receivers) for (const w of r.webhook_configs ?? []) expect(w.http_config?.authorization?.credentials_file, `${r.name} ${w.url}`).to.match(/^\/etc\/alertmanager\/secrets\/[a-z_]+$/);
    const ignore = readFileSync(join(REPO_ROOT, 'alertmanager/secrets/.gitignore'), 'utf8');
    expect(ignore.split('\n')[0]).to.equal('*');
  });

  it('inhibits each warning with its critical for the same object', () => {
    const rule = (src: string, tgt: string) => config.inhibit_rules.find((r) => r.source_matchers.includes(`alertname="${src}"`) && r.target_matchers.includes(`alertname="${tgt}"`));
    expect(rule('ChannelCriticalSuccessRate', 'ChannelLowSuccessRate')?.equal).to.deep.equal(['site_id', 'channel_id']);
    expect(rule('ModelCriticalSuccessRate', 'ModelLowSuccessRate')?.equal).to.deep.equal(['site_id', 'model_name']);
    expect(rule('ChannelDisabled', 'ChannelLowTraffic')?.equal).to.deep.equal(['site_id', 'channel_id']);
  });
});

describe('alertmanager/entrypoint.sh', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'vigil-am-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const entrypoint = (env: Record<string, string>) => run('sh', ['alertmanager/entrypoint.sh', '--version'], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ALERTMANAGER_CONFIG: join(REPO_ROOT, CONFIG), ALERTMANAGER_RENDERED_CONFIG: join(dir, 'am.yml'), ALERTMANAGER_BIN: '/usr/bin/prometheus-alertmanager', ...env },
  });

  it('writes the secret from its file into a private copy and starts Alertmanager with it', () => {
    writeFileSync(join(dir, 'secret'), 'Ab-9_zZ0secretvalue\n');
    const r = entrypoint({ WECHAT_API_SECRET_FILE: join(dir, 'secret') });
    expect(r.status, r.transcript).to.equal(0);
    expect(r.stdout + r.stderr, r.transcript).to.contain('alertmanager, version 0.25');
    const rendered = readFileSync(join(dir, 'am.yml'), 'utf8');
    expect(rendered).to.contain("api_secret: 'Ab-9_zZ0secretvalue'");
    expect(rendered).to.not.contain(PLACEHOLDER);
    expect(statSync(join(dir, 'am.yml')).mode & 0o077, 'copy readable by its owner only').to.equal(0);
    expect(readFileSync(join(REPO_ROOT, CONFIG), 'utf8')).to.not.contain('Ab-9_zZ0secretvalue');
    const check = run('amtool', ['check-config', join(dir, 'am.yml')]);
    expect(check.status, check.transcript).to.equal(0);
  });

  it('starts without WeCom when the secret file is missing, and says so', () => {
    const r = entrypoint({ WECHAT_API_SECRET_FILE: join(dir, 'absent') });
    expect(r.status, r.transcript).to.equal(0);
    expect(r.stderr, r.transcript).to.contain('no WeCom API secret in');
    expect(readFileSync(join(dir, 'am.yml'), 'utf8')).to.equal(readFileSync(join(REPO_ROOT, CONFIG), 'utf8'));
  });

  it('refuses a secret with characters that would break the YAML or sed, and still starts', () => {
    writeFileSync(join(dir, 'secret'), "abc'/&def");
    const r = entrypoint({ WECHAT_API_SECRET_FILE: join(dir, 'secret') });
    expect(r.status, r.transcript).to.equal(0);
    expect(r.stderr, r.transcript).to.contain('holds characters a WeCom secret never has');
    expect(readFileSync(join(dir, 'am.yml'), 'utf8')).to.not.contain("abc'/&def");
  });
});

describe('a running Alertmanager with the repository’s configuration', function () {
  this.timeout(60_000);
  let dir: string;
  let port: number;
  let child: ChildProcess | undefined;
  let log = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-am-run-'));
    port = await freePort();
    writeFileSync(join(dir, 'secret'), 'Ab-9_zZ0secretvalue');
    child = spawn('sh', ['alertmanager/entrypoint.sh', `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='], {
      cwd: REPO_ROOT,
      env: { ...process.env, ALERTMANAGER_CONFIG: join(REPO_ROOT, CONFIG), ALERTMANAGER_RENDERED_CONFIG: join(dir, 'am.yml'), WECHAT_API_SECRET_FILE: join(dir, 'secret'), ALERTMANAGER_BIN: '/usr/bin/prometheus-alertmanager' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => { log += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
    const exited = new Promise<never>((_, reject) => child!.once('exit', (code) => reject(new Error(`Alertmanager exited with ${code}:\n${log}`))));
    await Promise.race([exited, waitFor(async () => (await request(port, '/-/ready')).status === 200, 30_000, 200)]).catch((e: unknown) => {
      throw new Error(`Alertmanager did not become ready: ${String(e)}\n${log}`);
    });
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const done = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await done;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads the configuration with all receivers', async () => {
    expect(log).to.contain('Completed loading of configuration file');
    const res = await request(port, '/api/v2/status');
    expect(res.status).to.equal(200);
    const status = JSON.parse(res.text) as { config: { original: string } };
    for (const r of ['webhook', 'critical', 'warning', 'info', 'security-critical', 'security-warning']) expect(status.config.original).to.contain(`name: ${r}`);
    expect(status.config.original, 'Alertmanager masks the WeCom secret').to.not.contain('Ab-9_zZ0secretvalue');
  });

  it('suppresses the warning of a channel / model whose critical fires, and only that one', async () => {
    const now = new Date();
    const ends = new Date(now.getTime() + 3_600_000).toISOString();
    const alert = (labels: Record<string, string>) => ({ labels: { site_id: 'default', ...labels }, annotations: { summary: 'test' }, startsAt: now.toISOString(), endsAt: ends });
    const posted = [
      alert({ alertname: 'ChannelCriticalSuccessRate', severity: 'critical', team: 'gateway', channel_id: '1', channel_name: 'openai-main', channel_type: 'openai' }),
      alert({ alertname: 'ChannelLowSuccessRate', severity: 'warning', team: 'gateway', channel_id: '1', channel_name: 'openai-main', channel_type: 'openai' }),
      alert({ alertname: 'ChannelLowSuccessRate', severity: 'warning', team: 'gateway', channel_id: '2', channel_name: 'azure-backup', channel_type: 'azure' }),
      alert({ alertname: 'ModelCriticalSuccessRate', severity: 'critical', team: 'gateway', model_name: 'gpt-4o' }),
      alert({ alertname: 'ModelLowSuccessRate', severity: 'warning', team: 'gateway', model_name: 'gpt-4o' }),
      alert({ alertname: 'ModelLowSuccessRate', severity: 'warning', team: 'gateway', model_name: 'claude-3-5-sonnet' }),
      alert({ alertname: 'ChannelDisabled', severity: 'warning', team: 'gateway', channel_id: '3', channel_name: 'claude', channel_type: 'anthropic', status: 'auto_disabled' }),
      alert({ alertname: 'ChannelLowTraffic', severity: 'warning', team: 'gateway', channel_id: '3', channel_name: 'claude', channel_type: 'anthropic' }),
    ];
    const post = await request(port, '/api/v2/alerts', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(posted) });
    expect(post.status, post.text).to.equal(200);

    type Got = { labels: Record<string, string>; status: { state: string; inhibitedBy: string[] } };
    const key = (l: Record<string, string>) => `${l['alertname']}/${l['channel_id'] ?? l['model_name']}`;
    const states = await waitFor(async () => {
      const res = await request(port, '/api/v2/alerts');
      const got = JSON.parse(res.text) as Got[];
      if (got.length !== posted.length) return undefined;
      return Object.fromEntries(got.map((a) => [key(a.labels), a.status.state]));
    }, 20_000, 200);
    expect(states).to.deep.equal({
      'ChannelCriticalSuccessRate/1': 'active',
      'ChannelLowSuccessRate/1': 'suppressed',
      'ChannelLowSuccessRate/2': 'active',
      'ModelCriticalSuccessRate/gpt-4o': 'active',
      'ModelLowSuccessRate/gpt-4o': 'suppressed',
      'ModelLowSuccessRate/claude-3-5-sonnet': 'active',
      'ChannelDisabled/3': 'active',
      'ChannelLowTraffic/3': 'suppressed',
    });
  });
});
