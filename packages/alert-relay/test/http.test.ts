import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { expect } from 'chai';
import { alertRelayNotificationsTotal, alertRelayQueueDepth, alertRelayRequestsTotal } from '../src/index';
import { escapeLabelValue, escapeHelp } from '../src/metrics';
import { ChatStandIn } from './standins';
import { metricValues, payload, post, startRelay, type Running } from './helpers';

const TOKEN = 'relay-bearer-7d1f0c2e';
const SECRET = 'SECfeedfacecafebeef';

/** A raw request, for bodies and headers fetch would not send. */
function raw(url: string, opts: { method?: string; headers?: Record<string, string | number>; body?: Buffer | string; chunks?: Buffer[] }): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'POST', headers: opts.headers ?? {} }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(parts).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    if (opts.chunks) for (const c of opts.chunks) req.write(c);
    req.end(opts.body);
  });
}

describe('alert-relay HTTP endpoint', () => {
  let ding: ChatStandIn;
  let r: Running;
  before(async () => {
    ding = await new ChatStandIn('dingtalk', { secret: SECRET }).start();
    r = await startRelay(
      {
        auth: { bearer_token_env: 'RELAY_TOKEN', basic: { username: 'alertmanager', password_env: 'RELAY_PASSWORD' } },
        max_body_bytes: 64 * 1024,
        routes: { ops: { targets: ['ding'] }, default: { targets: ['ding'] } },
        targets: { ding: { type: 'dingtalk', url_env: 'DING_URL', secret_env: 'DING_SECRET' } },
      },
      { RELAY_TOKEN: TOKEN, RELAY_PASSWORD: 'pa:ss wörd', DING_URL: ding.url, DING_SECRET: SECRET },
    );
  });
  after(async () => {
    await r.stop();
    await ding.stop();
  });
  const bearer = { authorization: `Bearer ${TOKEN}` };

  it('requires the bearer token or the basic credentials (401 otherwise, with a challenge)', async () => {
    const none = await post(`${r.url}/alerts/ops`, payload([{}]));
    expect(none.status).to.equal(401);
    expect(none.headers.get('www-authenticate')).to.equal('Bearer realm="vigil-alert-relay", Basic realm="vigil-alert-relay", charset="UTF-8"');
    expect((await post(`${r.url}/alerts/ops`, payload([{}]), { authorization: `Bearer ${TOKEN}x` })).status).to.equal(401);
    expect((await post(`${r.url}/alerts/ops`, payload([{}]), { authorization: `Bearer ${TOKEN.slice(0, -1)}` })).status).to.equal(401);
    const wrongBasic = `Basic ${Buffer.from('alertmanager:nope').toString('base64')}`;
    expect((await post(`${r.url}/alerts/ops`, payload([{}]), { authorization: wrongBasic })).status).to.equal(401);
    expect(ding.received).to.have.length(0);

    expect((await post(`${r.url}/alerts/ops`, payload([{}]), bearer)).status).to.equal(200);
    const basic = `Basic ${Buffer.from('alertmanager:pa:ss wörd').toString('base64')}`;
    expect((await post(`${r.url}/alerts/ops`, payload([{ alertname: 'Other' }]), { authorization: basic })).status).to.equal(200);
    expect(ding.accepted).to.have.length(2);
  });

  it('accepts only POST on the webhook path (405 with Allow)', async () => {
    const res = await raw(`${r.url}/alerts/ops`, { method: 'GET' });
    expect(res.status).to.equal(405);
    expect(res.headers['allow']).to.equal('POST');
    expect((await raw(`${r.url}/alerts/ops`, { method: 'PUT', headers: bearer, body: '{}' })).status).to.equal(405);
  });

  it('answers 404 for an unknown route and serves POST /alerts as the route named default', async () => {
    const res = await post(`${r.url}/alerts/nope`, payload([{}]), bearer);
    expect(res.status).to.equal(404);
    expect(res.body.error).to.equal('no route named "nope"');
    expect((await post(`${r.url}/alerts`, payload([{ alertname: 'ViaDefault' }]), bearer)).status).to.equal(200);
    expect((await raw(`${r.url}/elsewhere`, { method: 'GET' })).status).to.equal(404);
  });

  it('answers 400 with the reason for malformed JSON and for payloads that are not Alertmanager webhooks', async () => {
    const cases: [unknown, RegExp][] = [
      ['{"version": "4", "alerts": [', /^invalid JSON: /],
      ['[1,2]', /^invalid payload: payload: expected a JSON object$/],
      [{ ...payload([{}]), version: '3' }, /^invalid payload: version: expected "4" \(Alertmanager webhook format\), got "3"$/],
      [{ ...payload([{}]), alerts: [] }, /^invalid payload: alerts: expected at least one alert$/],
      [{ ...payload([{}]), alerts: 'x' }, /^invalid payload: alerts: expected an array$/],
      [{ ...payload([{}]), status: 'burning' }, /^invalid payload: status: expected "firing" or "resolved", got "burning"$/],
      [{ ...payload([{}]), groupKey: 7 }, /^invalid payload: groupKey: expected a string, got 7$/],
    ];
    const withLabel = payload([{}, {}]);
    withLabel['alerts'][1].labels.severity = 5;
    cases.push([withLabel, /^invalid payload: alerts\[1\]\.labels\.severity: expected a string, got 5$/]);
    const noName = payload([{}]);
    delete noName['alerts'][0].labels.alertname;
    cases.push([noName, /^invalid payload: alerts\[0\]\.labels\.alertname: expected a non-empty string$/]);
    const badTime = payload([{}]);
    badTime['alerts'][0].startsAt = 'yesterday';
    cases.push([badTime, /^invalid payload: alerts\[0\]\.startsAt: expected an RFC 3339 time, got "yesterday"$/]);
    for (const [body, reason] of cases) {
      const res = await post(`${r.url}/alerts/ops`, body, bearer);
      expect(res.status, JSON.stringify(body).slice(0, 60)).to.equal(400);
      expect(res.body.error).to.match(reason);
    }
  });

  it('answers 415 for a body that is not JSON by content type', async () => {
    const res = await post(`${r.url}/alerts/ops`, 'a=b', { ...bearer, 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).to.equal(415);
  });

  it('answers 413 for bodies over max_body_bytes, declared or streamed', async () => {
    const big = Buffer.alloc(65 * 1024, 'a');
    const declared = await raw(`${r.url}/alerts/ops`, { headers: { ...bearer, 'content-type': 'application/json', 'content-length': big.length }, body: big });
    expect(declared.status).to.equal(413);
    expect(JSON.parse(declared.body).error).to.match(/^payload larger than max_body_bytes \(65536 bytes\)/);
    const chunks = Array.from({ length: 20 }, () => Buffer.alloc(4096, 'b'));
    const streamed = await raw(`${r.url}/alerts/ops`, { headers: { ...bearer, 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, chunks });
    expect(streamed.status).to.equal(413);
    // Just under the limit is read (and refused as JSON, not as size).
    const under = await raw(`${r.url}/alerts/ops`, { headers: { ...bearer, 'content-type': 'application/json' }, body: Buffer.alloc(60 * 1024, 'c') });
    expect(under.status).to.equal(400);
  });

  it('serves /health as JSON', async () => {
    const res = await fetch(`${r.url}/health`);
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ status: 'ok', targets: { ding: { type: 'dingtalk', queue_depth: 0, sending: false } } });
  });

  it('serves its metrics in the Prometheus text format, which promtool accepts', async () => {
    const res = await fetch(`${r.url}/metrics`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(lint.error, 'promtool must be installed (scripts/setup.sh)').to.equal(undefined);
    expect(lint.status, `${lint.stdout}${lint.stderr}`).to.equal(0);
    expect(text).to.include(`# TYPE ${alertRelayNotificationsTotal.name} counter`);
    expect(text).to.include(`# HELP ${alertRelayQueueDepth.name} `);
    const sent = metricValues(text, alertRelayNotificationsTotal.name);
    expect(sent.get('{target="ding",result="sent",reason="ok"}')).to.equal(ding.accepted.length);
    expect(metricValues(text, alertRelayQueueDepth.name).get('{target="ding"}')).to.equal(0);
    const requests = metricValues(text, alertRelayRequestsTotal.name);
    expect(requests.get('{route="ops",code="401"}')).to.be.at.least(3);
    expect(requests.get('{route="ops",code="400"}')).to.be.at.least(10);
    expect(requests.get('{route="",code="404"}')).to.equal(1);
  });

  it('escapes label values and help text as the exposition format requires', () => {
    expect(escapeLabelValue('a"b\\c\nd')).to.equal('a\\"b\\\\c\\nd');
    expect(escapeHelp('x\\y\nz "q"')).to.equal('x\\\\y\\nz "q"');
  });

  it('logs one JSON object per event and never a secret', () => {
    const text = JSON.stringify(r.logs);
    for (const secret of [TOKEN, 'pa:ss wörd', SECRET, ding.token]) expect(text).not.to.include(secret);
    const delivered = r.logs.filter((l) => l.msg === 'notification delivered');
    expect(delivered.length).to.be.at.least(3);
    expect(delivered[0]).to.include({ level: 'info', route: 'ops', receiver: 'relay', status: 'firing', alerts: 1, sent: 1, failed: 0 });
    expect(r.logs.some((l) => l.msg === 'webhook refused: unauthorized' && l.level === 'warn')).to.equal(true);
  });
});

describe('alert-relay without auth', () => {
  it('accepts unauthenticated webhooks and warns about it at start', async () => {
    const ding = await new ChatStandIn('dingtalk').start();
    const r = await startRelay({ routes: { ops: { targets: ['d'] } }, targets: { d: { type: 'dingtalk', url_env: 'D' } } }, { D: ding.url });
    try {
      expect(r.logs[0]).to.include({ level: 'warn', msg: 'no auth configured: anyone who can reach the relay can post alerts' });
      expect((await post(`${r.url}/alerts/ops`, payload([{}]))).status).to.equal(200);
    } finally {
      await r.stop();
      await ding.stop();
    }
  });
});
