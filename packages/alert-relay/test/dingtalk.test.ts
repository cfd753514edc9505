import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { alertRelayNotificationsTotal, alertRelayQueueDepth } from '../src/index';
import { ChatStandIn } from './standins';
import { metricValues, payload, post, startRelay, waitFor, type Running } from './helpers';

const SECRET = 'SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd';

describe('alert-relay → DingTalk robot', () => {
  let ding: ChatStandIn;
  let relay: Running | undefined;

  beforeEach(async () => {
    ding = await new ChatStandIn('dingtalk', { secret: SECRET }).start();
  });
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
    await ding.stop();
  });

  async function start(target: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<Running> {
    relay = await startRelay(
      {
        routes: { ops: { targets: ['ding'] } },
        targets: { ding: { type: 'dingtalk', url_env: 'DING_URL', secret_env: 'DING_SECRET', ...target } },
        ...extra,
      },
      { DING_URL: ding.url, DING_SECRET: SECRET },
    );
    return relay;
  }

  it('posts a signed markdown message with the severity emoji, summary, description, labels, start and runbook', async () => {
    const r = await start();
    const res = await post(`${r.url}/alerts/ops`, payload([{ severity: 'critical' }]));
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ status: 'success', sent: 1, skipped: 0 });
    expect(ding.accepted).to.have.length(1);
    const got = ding.accepted[0]!;
    // The signature the stand-in accepted is exactly DingTalk's algorithm.
    const ts = got.query.get('timestamp')!;
    expect(Math.abs(Date.now() - Number(ts))).to.be.below(10_000);
    expect(got.query.get('sign')).to.equal(createHmac('sha256', SECRET).update(`${ts}\n${SECRET}`).digest('base64'));
    expect(got.body.msgtype).to.equal('markdown');
    expect(got.body.markdown.title).to.equal('🚨 [FIRING:1] HighErrorRate');
    const text: string = got.body.markdown.text;
    expect(text.split('\n\n')).to.deep.equal([
      '### 🚨 [FIRING:1] HighErrorRate',
      '**分组**: alertname=HighErrorRate · [Alertmanager](http://alertmanager:9093)',
      '### 🚨 HighErrorRate',
      '**告警等级**: CRITICAL',
      '**告警信息**: Error rate above 5% on instance 0',
      '**详细描述**: The 5m error rate is 7.5% (threshold 5%).',
      '**标签**: instance=10.0.0.0:3000',
      '**发生时间**: 2024-05-01 12:00:00 UTC',
      '[处理手册](https://runbooks.example.com/high-error-rate) · [查看来源](http://prometheus:9090/graph?g0.expr=up)',
    ]);
  });

  it('uses ⚠️ for warning, ℹ️ for info, 📢 for anything else, ✅ when resolved, in the configured language and time zone', async () => {
    const r = await start({}, { language: 'en', time_zone: 'Asia/Shanghai' });
    for (const [severity, emoji] of [
      ['warning', '⚠️'],
      ['info', 'ℹ️'],
      ['page', '📢'],
    ] as const) {
      const res = await post(`${r.url}/alerts/ops`, payload([{ severity, alertname: `A_${severity}` }]));
      expect(res.status).to.equal(200);
      const text: string = ding.accepted.at(-1)!.body.markdown.text;
      expect(ding.accepted.at(-1)!.body.markdown.title).to.equal(`${emoji} [FIRING:1] A_${severity}`);
      expect(text).to.include(`### ${emoji} A_${severity}`);
      expect(text).to.include(`**Severity**: ${severity.toUpperCase()}`);
      expect(text).to.include('**Started**: 2024-05-01 20:00:00 Asia/Shanghai');
    }
    const res = await post(`${r.url}/alerts/ops`, payload([{ status: 'resolved', severity: 'critical' }]));
    expect(res.status).to.equal(200);
    const last = ding.accepted.at(-1)!.body.markdown;
    expect(last.title).to.equal('✅ [RESOLVED:1] HighErrorRate');
    expect(last.text).to.include('### ✅ HighErrorRate');
    expect(last.text).to.include('**Ended**: 2024-05-01 20:07:30 Asia/Shanghai');
    expect(last.text).to.include('**Duration**: 7m 30s');
  });

  it('groups several alerts in one message, firing ones first, most severe first', async () => {
    const r = await start();
    const res = await post(
      `${r.url}/alerts/ops`,
      payload([
        { alertname: 'DiskFull', severity: 'warning' },
        { alertname: 'DiskFull', severity: 'critical', status: 'resolved' },
        { alertname: 'DiskFull', severity: 'critical' },
      ]),
    );
    expect(res.status).to.equal(200);
    const lines: string[] = ding.accepted[0]!.body.markdown.text.split('\n\n');
    const headings = lines.filter((l) => l.startsWith('###') || l.startsWith('**告警中') || l.startsWith('**已恢复'));
    expect(headings).to.deep.equal([
      '### 🚨 [FIRING:2] DiskFull',
      '**告警中 (2)**',
      '### 🚨 DiskFull',
      '### ⚠️ DiskFull',
      '**已恢复 (1)**',
      '### ✅ DiskFull',
    ]);
  });

  it('answers 502 when DingTalk refuses with a non-zero errcode (HTTP 200), and counts the failure', async () => {
    const r = await start({ secret_env: undefined, secret: 'SECwrong' });
    const res = await post(`${r.url}/alerts/ops`, payload([{}]));
    expect(res.status).to.equal(502);
    expect(res.body.failures).to.have.length(1);
    expect(res.body.failures[0]).to.include({ target: 'ding', reason: 'rejected' });
    expect(res.body.failures[0].detail).to.match(/^errcode 310000: sign not match/);
    expect(ding.received).to.have.length(1);
    expect(ding.accepted).to.have.length(0);
    const m = metricValues(r.relay.metrics(), alertRelayNotificationsTotal.name);
    expect(m.get('{target="ding",result="failed",reason="rejected"}')).to.equal(1);
    expect(m.get('{target="ding",result="sent",reason="ok"}')).to.equal(0);
  });

  it('answers 502 while DingTalk is busy and delivers on the retry, once', async () => {
    const r = await start();
    ding.failNext(2, { status: 200, body: { errcode: -1, errmsg: '系统繁忙' } });
    const body = payload([{}]);
    expect((await post(`${r.url}/alerts/ops`, body)).status).to.equal(502);
    expect((await post(`${r.url}/alerts/ops`, body)).status).to.equal(502);
    const third = await post(`${r.url}/alerts/ops`, body);
    expect(third.status).to.equal(200);
    expect(third.body.sent).to.equal(1);
    expect(ding.received).to.have.length(3);
    expect(ding.accepted).to.have.length(1);
    // A fourth delivery of the same notification (Alertmanager retrying after a lost answer) is not sent again.
    const fourth = await post(`${r.url}/alerts/ops`, body);
    expect(fourth.status).to.equal(200);
    expect(fourth.body).to.include({ sent: 0, skipped: 1 });
    expect(ding.received).to.have.length(3);
  });

  it('answers 502 on HTTP errors and unreachable robots, without quoting the URL or token', async () => {
    const r = await start();
    ding.failNext(1, { status: 500, body: { message: 'internal' } });
    const res = await post(`${r.url}/alerts/ops`, payload([{}]));
    expect(res.status).to.equal(502);
    expect(res.body.failures[0]).to.include({ reason: 'http_status', detail: 'HTTP 500' });
    await r.stop();
    relay = undefined;

    const closed = new URL(ding.url);
    await ding.stop();
    relay = await startRelay(
      { routes: { ops: { targets: ['ding'] } }, targets: { ding: { type: 'dingtalk', url_env: 'U' } } },
      { U: closed.toString() },
    );
    const res2 = await post(`${relay.url}/alerts/ops`, payload([{}]));
    expect(res2.status).to.equal(502);
    expect(res2.body.failures[0].reason).to.equal('network');
    expect(JSON.stringify(res2.body)).not.to.include(ding.token);
    expect(JSON.stringify(relay.logs)).not.to.include(ding.token);
    ding = await new ChatStandIn('dingtalk').start(); // for afterEach
  });

  it('splits a group larger than 20000 bytes into messages within the limit, on line boundaries, losing nothing', async () => {
    // Reference: the same group rendered as one message by a robot with no practical size limit.
    const big = await new ChatStandIn('dingtalk', { secret: SECRET, maxBytes: 10_000_000 }).start();
    const alerts = Array.from({ length: 70 }, (_, i) => ({
      alertname: 'ChannelDown',
      description: `Channel ${i} of provider 上游供应商 answers 503 for 5 minutes.\nLast error: upstream connect error or disconnect/reset before headers.\nAffected models: gpt-4o, claude-3-5-sonnet, qwen-max.`,
    }));
    const body = payload(alerts);
    try {
      const ref = await startRelay(
        { routes: { r: { targets: ['big'] } }, targets: { big: { type: 'dingtalk', url_env: 'U', secret_env: 'S', max_bytes: 10_000_000 } } },
        { U: big.url, S: SECRET },
      );
      expect((await post(`${ref.url}/alerts/r`, body)).status).to.equal(200);
      await ref.stop();
    } finally {
      await big.stop();
    }
    const whole = ChatStandIn.content(big.accepted[0]!);
    expect(Buffer.byteLength(JSON.stringify(big.accepted[0]!.body))).to.be.above(20000);

    const r = await start();
    const res = await post(`${r.url}/alerts/ops`, body);
    expect(res.status).to.equal(200);
    const parts = ding.accepted;
    expect(parts.length).to.be.within(2, 10);
    expect(res.body.sent).to.equal(parts.length);
    parts.forEach((p, i) => {
      expect(p.bytes).to.be.at.most(20000);
      expect(p.body.markdown.title).to.equal(`🚨 [FIRING:70] ChannelDown (${i + 1}/${parts.length})`);
    });
    // Every part starts with its heading and the group line; the rest, in order, is exactly the whole message.
    const header = whole.split('\n\n').slice(1, 2);
    const body0 = whole.split('\n\n').slice(2);
    const rest = parts.flatMap((p) => {
      const lines = ChatStandIn.content(p).split('\n\n');
      expect(lines[0]).to.equal(`### ${p.body.markdown.title}`);
      expect(lines.slice(1, 2)).to.deep.equal(header);
      return lines.slice(2);
    });
    expect(rest).to.deep.equal(body0);
    // Alerts are not cut in the middle when they fit in one message.
    for (const p of parts) expect(ChatStandIn.content(p).split('\n\n')[2]).to.match(/^### 🚨 ChannelDown$/);
  });

  it('truncates a single line longer than the limit with an ellipsis, UTF-8 safe', async () => {
    const r = await start();
    const res = await post(`${r.url}/alerts/ops`, payload([{ description: `超长描述🚨${'告警'.repeat(9000)}` }]));
    expect(res.status).to.equal(200);
    expect(ding.accepted).to.have.length(1);
    const p = ding.accepted[0]!;
    expect(p.bytes).to.be.at.most(20000);
    const text = ChatStandIn.content(p);
    expect(text).not.to.include('\uFFFD');
    expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text)).to.equal(false);
    const line = text.split('\n\n').find((l) => l.startsWith('**详细描述**'))!;
    expect(line.endsWith('警…') || line.endsWith('告…')).to.equal(true);
    expect(Buffer.byteLength(line)).to.be.above(15000);
  });

  it('trims as a last resort: beyond max_parts the last message says how many alerts were left out', async () => {
    const r = await start({ max_parts: 2, max_bytes: 3000 });
    const alerts = Array.from({ length: 40 }, (_, i) => ({ alertname: 'Spam', summary: `alert number ${i}` }));
    const res = await post(`${r.url}/alerts/ops`, payload(alerts));
    expect(res.status).to.equal(200);
    expect(ding.accepted).to.have.length(2);
    const texts = ding.accepted.map((p) => ChatStandIn.content(p));
    const shown = texts.join('\n\n').split('\n\n').filter((l) => l === '### 🚨 Spam').length;
    expect(shown).to.be.above(2).and.below(40);
    expect(texts[1]!.split('\n\n').at(-1)).to.equal(`…另有 ${40 - shown} 条告警未显示，请在 Alertmanager 中查看`);
    for (const p of ding.accepted) expect(p.bytes).to.be.at.most(3000);
  });

  it('paces messages to the rate limit by queueing, and shows the queue depth', async () => {
    const limit = { count: 3, windowMs: 600 };
    await ding.stop();
    ding = await new ChatStandIn('dingtalk', { secret: SECRET, limits: [limit] }).start();
    const r = await start({ max_bytes: 1200, rate_limits: [{ count: 3, per: '600ms' }] });
    const alerts = Array.from({ length: 8 }, (_, i) => ({ alertname: 'Paced', summary: `paced alert ${i} ${'x'.repeat(500)}` }));
    const pending = post(`${r.url}/alerts/ops`, payload(alerts));
    let maxDepth = 0;
    await waitFor(
      () => {
        const d = metricValues(r.relay.metrics(), alertRelayQueueDepth.name).get('{target="ding"}') ?? 0;
        maxDepth = Math.max(maxDepth, d);
        return d > 0;
      },
      5000,
      'a queued message',
    );
    const res = await pending;
    expect(res.status).to.equal(200);
    const n = ding.received.length;
    expect(n).to.be.at.least(7);
    expect(ding.accepted).to.have.length(n); // no 130101
    const at = ding.received.map((x) => x.at);
    for (let i = 0; i + limit.count < n; i++) expect(at[i + limit.count]! - at[i]!).to.be.at.least(limit.windowMs);
    expect(maxDepth).to.be.above(0);
    expect(metricValues(r.relay.metrics(), alertRelayQueueDepth.name).get('{target="ding"}')).to.equal(0);
  });

  it('answers 503 when the robot says "send too fast" (the stand-in enforces the limit the relay was told wrongly)', async () => {
    await ding.stop();
    ding = await new ChatStandIn('dingtalk', { secret: SECRET, limits: [{ count: 3, windowMs: 60_000 }] }).start();
    const r = await start({ max_bytes: 1200, rate_limits: [{ count: 100, per: '1m' }] }, { delivery_timeout: '1s' });
    const alerts = Array.from({ length: 8 }, (_, i) => ({ alertname: 'Burst', summary: `burst ${i} ${'y'.repeat(500)}` }));
    const res = await post(`${r.url}/alerts/ops`, payload(alerts));
    expect(res.status).to.equal(503);
    expect(res.body.failures.map((f: any) => f.reason)).to.include('rate_limited');
    expect(ding.received.some((x) => x.answer.body.errcode === 130101)).to.equal(true);
  });

  it('refuses with 503 when the queue is full, then the retry sends only what is missing', async () => {
    const r = await start({ max_bytes: 1200, queue_capacity: 2, rate_limits: [{ count: 2, per: '300ms' }] });
    const alerts = Array.from({ length: 8 }, (_, i) => ({ alertname: 'Full', summary: `full ${i} ${'z'.repeat(500)}` }));
    const body = payload(alerts);
    const first = await post(`${r.url}/alerts/ops`, body);
    expect(first.status).to.equal(503);
    expect(first.body.failures.every((f: any) => f.reason === 'queue_full')).to.equal(true);
    const total: number = first.body.failures[0].parts;
    await waitFor(() => ding.received.length === total - first.body.failures.length, 5000, 'the queued messages');
    let last = first;
    for (let i = 0; i < 10 && last.status !== 200; i++) last = await post(`${r.url}/alerts/ops`, body);
    expect(last.status).to.equal(200);
    const titles = ding.accepted.map((p) => p.body.markdown.title as string);
    expect(new Set(titles).size).to.equal(titles.length); // nothing sent twice
    expect(titles.length).to.equal(total);
  });

  it('answers 503 when delivery takes longer than delivery_timeout, and the late message is not sent twice', async () => {
    const r = await start({ max_bytes: 2000, rate_limits: [{ count: 1, per: '1500ms' }] }, { delivery_timeout: '400ms' });
    const alerts = Array.from({ length: 2 }, (_, i) => ({ alertname: 'Slow', summary: `slow ${i} ${'w'.repeat(1200)}` }));
    const body = payload(alerts);
    const t0 = Date.now();
    const res = await post(`${r.url}/alerts/ops`, body);
    expect(res.status).to.equal(503);
    expect(Date.now() - t0).to.be.below(1400);
    expect(res.body.failures).to.have.length(1);
    expect(res.body.failures[0]).to.include({ reason: 'timeout', part: 2 });
    // The retry while part 2 is still queued waits for it instead of queueing it again.
    await waitFor(() => ding.accepted.length === 2, 5000, 'the late part');
    const again = await post(`${r.url}/alerts/ops`, body);
    expect(again.status).to.equal(200);
    expect(again.body).to.include({ sent: 0, skipped: 2 });
    expect(ding.received).to.have.length(2);
  });

  it('retries only the part that failed', async () => {
    const r = await start({ max_bytes: 2000 });
    ding.failNext(1, { status: 200, body: { errcode: 0, errmsg: 'ok' } });
    ding.failNext(1, { status: 200, body: { errcode: -1, errmsg: '系统繁忙' } });
    const alerts = Array.from({ length: 3 }, (_, i) => ({ alertname: 'Part', summary: `part ${i} ${'v'.repeat(1200)}` }));
    const body = payload(alerts);
    const first = await post(`${r.url}/alerts/ops`, body);
    expect(first.status).to.equal(502);
    expect(first.body.failures.map((f: any) => f.part)).to.deep.equal([2]);
    const second = await post(`${r.url}/alerts/ops`, body);
    expect(second.status).to.equal(200);
    expect(second.body).to.include({ sent: 1, skipped: 2 });
    expect(ding.accepted.map((p) => p.body.markdown.title.slice(-5))).to.deep.equal(['(1/3)', '(3/3)', '(2/3)']);
  });

  it('reads the robot URL and secret from files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-secrets-'));
    writeFileSync(join(dir, 'url'), `${ding.url}\n`);
    writeFileSync(join(dir, 'secret'), `${SECRET}\n`);
    try {
      const r = await start({ url_env: undefined, secret_env: undefined, url_file: join(dir, 'url'), secret_file: join(dir, 'secret') });
      expect((await post(`${r.url}/alerts/ops`, payload([{}]))).status).to.equal(200);
      expect(ding.accepted).to.have.length(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
