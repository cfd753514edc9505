/**
 * End to end with the real Alertmanager (Debian's prometheus-alertmanager,
 * 0.25) and the repository's alertmanager/alertmanager.yml.
 *
 * The test copy of that file differs only where a test must: the relay's URL
 * (http://alert-relay:8080) points at this test's relay, the generic webhook at
 * a local sink, secret files at a temporary directory, group_wait and
 * group_interval are 1s, and the email and WeCom-application integrations
 * (which need SMTP and the internet) are left out. Routing, receivers, relay
 * routes and auth are the repository's.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { parse, stringify } from 'yaml';
import { alertRelayRequestsTotal } from '../src/index';
import { ChatStandIn } from './standins';
import { metricValues, startRelay, waitFor, type Running } from './helpers';

const ALERTMANAGER = '/usr/bin/prometheus-alertmanager';
const REPO_CONFIG = resolve(__dirname, '../../../../alertmanager/alertmanager.yml');
const RELAY_ORIGIN = 'http://alert-relay:8080';
const SECRETS = '/etc/alertmanager/secrets/';

function freePort(): Promise<number> {
  return new Promise((r) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => r(port));
    });
  });
}

/** The repository's configuration, pointed at this test's relay, sink and secrets. */
function deriveConfig(relayOrigin: string, sinkUrl: string, secretsDir: string): { yaml: string; relayRoutes: string[] } {
  const doc = parse(readFileSync(REPO_CONFIG, 'utf8'));
  const relayRoutes = new Set<string>();
  const seen = new Set<object>();
  const fast = (route: Record<string, unknown>): void => {
    if ('group_wait' in route || route === doc.route) route['group_wait'] = '1s';
    if ('group_interval' in route || route === doc.route) route['group_interval'] = '1s';
    for (const child of (route['routes'] as Record<string, unknown>[] | undefined) ?? []) fast(child);
  };
  fast(doc.route);
  const secretPath = (p: string): string => (p.startsWith(SECRETS) ? join(secretsDir, p.slice(SECRETS.length)) : p);
  if (doc.global?.smtp_auth_password_file) doc.global.smtp_auth_password_file = secretPath(doc.global.smtp_auth_password_file);
  for (const receiver of doc.receivers) {
    delete receiver.email_configs;
    delete receiver.wechat_configs;
    for (const hook of receiver.webhook_configs ?? []) {
      if (seen.has(hook)) continue; // YAML aliases share objects
      seen.add(hook);
      if (String(hook.url).startsWith(`${RELAY_ORIGIN}/`)) {
        const path = String(hook.url).slice(RELAY_ORIGIN.length);
        relayRoutes.add(path.replace(/^\/alerts\//, ''));
        hook.url = relayOrigin + path;
      } else {
        hook.url = sinkUrl;
      }
      const auth = hook.http_config?.authorization;
      if (auth?.credentials_file && !seen.has(auth)) {
        seen.add(auth);
        auth.credentials_file = secretPath(auth.credentials_file);
      }
    }
  }
  return { yaml: stringify(doc), relayRoutes: [...relayRoutes].sort() };
}

describe('alert-relay with the real Alertmanager and the repository configuration', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'relay-am-'));
  const secrets = join(dir, 'secrets');
  let ding: ChatStandIn;
  let security: ChatStandIn;
  let feishu: ChatStandIn;
  let relay: Running;
  let sink: Server;
  let am: ChildProcess | undefined;
  let amUrl = '';
  let amLog = '';

  before(async () => {
    expect(existsSync(ALERTMANAGER), `${ALERTMANAGER} is missing: run scripts/setup.sh (Debian package prometheus-alertmanager)`).to.equal(true);
    expect(existsSync(REPO_CONFIG), `${REPO_CONFIG} is missing`).to.equal(true);
    mkdirSync(secrets);
    for (const f of ['relay_token', 'webhook_token', 'smtp_password']) writeFileSync(join(secrets, f), `${f}-e2e-${process.pid}\n`);

    ding = await new ChatStandIn('dingtalk', { secret: 'SECe2e-ding' }).start();
    security = await new ChatStandIn('dingtalk', { secret: 'SECe2e-security' }).start();
    feishu = await new ChatStandIn('feishu', { secret: 'e2e-feishu' }).start();
    sink = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));

    relay = await startRelay(
      {
        auth: { bearer_token_file: join(secrets, 'relay_token') },
        routes: { dingtalk: { targets: ['ops-dingtalk'] }, feishu: { targets: ['ops-feishu'] }, security: { targets: ['security-dingtalk'] } },
        targets: {
          'ops-dingtalk': { type: 'dingtalk', url_env: 'DING_URL', secret_env: 'DING_SECRET' },
          'ops-feishu': { type: 'feishu', url_env: 'FEISHU_URL', secret_env: 'FEISHU_SECRET' },
          'security-dingtalk': { type: 'dingtalk', url_env: 'SEC_URL', secret_env: 'SEC_SECRET' },
        },
      },
      { DING_URL: ding.url, DING_SECRET: 'SECe2e-ding', FEISHU_URL: feishu.url, FEISHU_SECRET: 'e2e-feishu', SEC_URL: security.url, SEC_SECRET: 'SECe2e-security' },
    );

    const { yaml, relayRoutes } = deriveConfig(relay.url, `http://127.0.0.1:${(sink.address() as AddressInfo).port}/hook`, secrets);
    // The relay routes the repository's Alertmanager posts to are the ones this relay serves.
    expect(relayRoutes).to.deep.equal(['dingtalk', 'feishu', 'security']);
    const configFile = join(dir, 'alertmanager.yml');
    writeFileSync(configFile, yaml);
    const check = spawnSync('amtool', ['check-config', configFile], { encoding: 'utf8' });
    expect(check.status, `${check.stdout}${check.stderr}`).to.equal(0);

    const port = await freePort();
    amUrl = `http://127.0.0.1:${port}`;
    am = spawn(
      ALERTMANAGER,
      [`--config.file=${configFile}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', '--log.level=debug'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    am.stdout!.on('data', (d: Buffer) => (amLog += d.toString()));
    am.stderr!.on('data', (d: Buffer) => (amLog += d.toString()));
    await waitFor(
      async () => {
        if (am!.exitCode !== null) throw new Error(`alertmanager exited: ${amLog}`);
        return fetch(`${amUrl}/-/ready`).then(
          (r) => r.ok,
          () => false,
        );
      },
      20_000,
      'Alertmanager to be ready',
    );
  });

  after(async () => {
    if (am && am.exitCode === null) {
      const exited = new Promise((r) => am!.once('exit', r));
      am.kill('SIGTERM');
      await exited;
    }
    await relay?.stop();
    await Promise.all([ding?.stop(), security?.stop(), feishu?.stop()]);
    if (sink) await new Promise((r) => sink.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  async function fire(labels: Record<string, string>, extra: Record<string, unknown> = {}): Promise<void> {
    const res = await fetch(`${amUrl}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        {
          labels: { job: 'ai-gateway', site_id: 'site-a', ...labels },
          annotations: { summary: `${labels['alertname']} summary`, description: `${labels['alertname']} description`, runbook_url: 'https://runbooks.example.com/e2e' },
          generatorURL: 'http://prometheus:9090/graph?g0.expr=up',
          ...extra,
        },
      ]),
    });
    expect(res.status, await res.text()).to.equal(200);
  }

  const titled = (s: ChatStandIn, name: string) => s.accepted.filter((r) => ChatStandIn.title(r).includes(name));

  it('delivers a critical alert to the DingTalk robot, signed, and its resolution', async () => {
    await fire({ alertname: 'E2ECritical', severity: 'critical', team: 'gateway' });
    await waitFor(() => titled(ding, 'E2ECritical').length > 0, 20_000, `the DingTalk message (Alertmanager log: ${amLog.slice(-2000)})`);
    const msg = titled(ding, 'E2ECritical')[0]!;
    expect(msg.body.markdown.title).to.equal('🚨 [FIRING:1] E2ECritical');
    expect(msg.query.get('sign')).to.be.a('string'); // and the stand-in verified it
    const text = ChatStandIn.content(msg);
    expect(text).to.include('**告警信息**: E2ECritical summary');
    expect(text).to.include('[处理手册](https://runbooks.example.com/e2e)');
    expect(text).to.include('**分组**: alertname=E2ECritical, job=ai-gateway, site_id=site-a');
    expect(feishu.accepted).to.have.length(0);
    expect(security.accepted).to.have.length(0);

    await fire({ alertname: 'E2ECritical', severity: 'critical', team: 'gateway' }, { startsAt: new Date(Date.now() - 60_000).toISOString(), endsAt: new Date().toISOString() });
    await waitFor(() => titled(ding, '[RESOLVED:1] E2ECritical').length > 0, 20_000, 'the resolved message');
    expect(ChatStandIn.content(titled(ding, '[RESOLVED:1] E2ECritical')[0]!)).to.include('### ✅ E2ECritical');
  });

  it('delivers a warning to the Feishu bot and a critical security alert to the security robot', async () => {
    await fire({ alertname: 'E2EWarning', severity: 'warning', team: 'gateway' });
    await fire({ alertname: 'E2EIntrusion', severity: 'critical', team: 'security' });
    await waitFor(() => titled(feishu, 'E2EWarning').length > 0 && titled(security, 'E2EIntrusion').length > 0, 20_000, 'the Feishu and security messages');
    const card = titled(feishu, 'E2EWarning')[0]!.body;
    expect(card.msg_type).to.equal('interactive');
    expect(card.card.header.template).to.equal('orange');
    expect(card.card.header.title.content).to.equal('⚠️ [FIRING:1] E2EWarning');
    expect(titled(ding, 'E2EIntrusion')).to.have.length(0);
  });

  it('makes Alertmanager retry while DingTalk refuses (errcode in a 200 answer), until the message is delivered', async () => {
    const failedBefore = await amFailures();
    ding.failNext(3, { status: 200, body: { errcode: -1, errmsg: '系统繁忙' } });
    await fire({ alertname: 'E2ERetry', severity: 'critical', team: 'gateway' });
    await waitFor(() => titled(ding, 'E2ERetry').length > 0, 30_000, `delivery after retries (Alertmanager log: ${amLog.slice(-2000)})`);
    const attempts = ding.received.filter((r) => r.body?.markdown?.title?.includes('E2ERetry'));
    expect(attempts.length).to.be.at.least(4);
    expect(attempts.slice(0, 3).every((r) => r.answer.body.errcode === -1)).to.equal(true);
    expect(attempts.filter((r) => r.accepted)).to.have.length(1);
    expect((await amFailures()) - failedBefore).to.be.at.least(3);
    const requests = metricValues(relay.relay.metrics(), alertRelayRequestsTotal.name);
    expect(requests.get('{route="dingtalk",code="502"}')).to.be.at.least(3);
  });

  async function amFailures(): Promise<number> {
    const text = await (await fetch(`${amUrl}/metrics`)).text();
    let sum = 0;
    for (const [labels, v] of metricValues(text, 'alertmanager_notification_requests_failed_total')) if (labels.includes('integration="webhook"')) sum += v;
    return sum;
  }
});
