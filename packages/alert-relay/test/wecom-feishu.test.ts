import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { ChatStandIn } from './standins';
import { payload, post, startRelay, type Running } from './helpers';

const FEISHU_SECRET = 'fs-secret-8f9a7c';

describe('alert-relay → WeCom group robot', () => {
  let wecom: ChatStandIn;
  let relay: Running | undefined;
  beforeEach(async () => {
    wecom = await new ChatStandIn('wecom').start();
  });
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
    await wecom.stop();
  });
  const start = async (target: Record<string, unknown> = {}): Promise<Running> =>
    (relay = await startRelay({ routes: { ops: { targets: ['wx'] } }, targets: { wx: { type: 'wecom', url: '${WX_URL}', ...target } } }, { WX_URL: wecom.url }));

  it('posts a markdown message with the heading, emoji and fields', async () => {
    const r = await start();
    const res = await post(`${r.url}/alerts/ops`, payload([{ severity: 'warning', alertname: 'SlowQueries' }]));
    expect(res.status).to.equal(200);
    const got = wecom.accepted[0]!;
    expect(got.body.msgtype).to.equal('markdown');
    expect(Object.keys(got.body.markdown)).to.deep.equal(['content']);
    const content: string = got.body.markdown.content;
    expect(content.split('\n').filter(Boolean)).to.deep.equal([
      '### ⚠️ [FIRING:1] SlowQueries',
      '**分组**: alertname=SlowQueries · [Alertmanager](http://alertmanager:9093)',
      '### ⚠️ SlowQueries',
      '**告警等级**: WARNING',
      '**告警信息**: Error rate above 5% on instance 0',
      '**详细描述**: The 5m error rate is 7.5% (threshold 5%).',
      '**标签**: instance=10.0.0.0:3000',
      '**发生时间**: 2024-05-01 12:00:00 UTC',
      '[处理手册](https://runbooks.example.com/high-error-rate) · [查看来源](http://prometheus:9090/graph?g0.expr=up)',
    ]);
  });

  it('splits a group into markdown messages of at most 4096 bytes, whole lines only', async () => {
    const r = await start();
    const alerts = Array.from({ length: 30 }, (_, i) => ({ alertname: 'PodCrashLooping', summary: `容器 pod-${i} 在 5 分钟内重启了 ${i + 3} 次，请检查日志 🚨` }));
    const res = await post(`${r.url}/alerts/ops`, payload(alerts));
    expect(res.status).to.equal(200);
    const parts = wecom.accepted;
    expect(parts.length).to.be.above(1);
    const bodyLines: string[] = [];
    parts.forEach((p, i) => {
      const content = ChatStandIn.content(p);
      expect(Buffer.byteLength(content)).to.be.at.most(4096);
      const lines = content.split('\n').filter(Boolean);
      expect(lines[0]).to.equal(`### 🚨 [FIRING:30] PodCrashLooping (${i + 1}/${parts.length})`);
      bodyLines.push(...lines.slice(2));
    });
    for (let i = 0; i < 30; i++) {
      expect(bodyLines.filter((l) => l === `**告警信息**: 容器 pod-${i} 在 5 分钟内重启了 ${i + 3} 次，请检查日志 🚨`)).to.have.length(1);
    }
    expect(bodyLines.filter((l) => l === '### 🚨 PodCrashLooping')).to.have.length(30);
  });

  it('answers 502 when WeCom refuses a message over 4096 bytes (errcode 40058), which the stand-in enforces', async () => {
    const r = await start({ max_bytes: 9000 });
    const alerts = Array.from({ length: 30 }, (_, i) => ({ summary: `long enough line ${i} ${'x'.repeat(200)}` }));
    const res = await post(`${r.url}/alerts/ops`, payload(alerts));
    expect(res.status).to.equal(502);
    expect(res.body.failures[0]).to.include({ reason: 'too_large' });
    expect(res.body.failures[0].detail).to.match(/^errcode 40058: markdown.content exceed max length 4096/);
  });

  it('answers 503 on "api freq out of limit" (errcode 45009)', async () => {
    const r = await start();
    wecom.failNext(1, { status: 200, body: { errcode: 45009, errmsg: 'api freq out of limit' } });
    const res = await post(`${r.url}/alerts/ops`, payload([{}]));
    expect(res.status).to.equal(503);
    expect(res.body.failures[0]).to.include({ reason: 'rate_limited' });
  });
});

describe('alert-relay → Feishu custom bot', () => {
  let feishu: ChatStandIn;
  let relay: Running | undefined;
  beforeEach(async () => {
    feishu = await new ChatStandIn('feishu', { secret: FEISHU_SECRET }).start();
  });
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
    await feishu.stop();
  });
  const start = async (target: Record<string, unknown> = {}): Promise<Running> =>
    (relay = await startRelay(
      { routes: { ops: { targets: ['fs'] } }, targets: { fs: { type: 'feishu', url_env: 'FS_URL', secret_env: 'FS_SECRET', ...target } } },
      { FS_URL: feishu.url, FS_SECRET: FEISHU_SECRET },
    ));

  it('posts a signed interactive card: timestamp and sign in the body, colored header, Markdown element', async () => {
    const r = await start();
    const res = await post(`${r.url}/alerts/ops`, payload([{ severity: 'critical', alertname: 'ChannelDown' }]));
    expect(res.status).to.equal(200);
    const b = feishu.accepted[0]!.body;
    expect(Object.keys(b)).to.deep.equal(['timestamp', 'sign', 'msg_type', 'card']);
    expect(b.timestamp).to.match(/^\d{10}$/);
    expect(Math.abs(Date.now() / 1000 - Number(b.timestamp))).to.be.below(10);
    expect(b.sign).to.equal(createHmac('sha256', `${b.timestamp}\n${FEISHU_SECRET}`).update('').digest('base64'));
    expect(b.msg_type).to.equal('interactive');
    expect(b.card.header).to.deep.equal({ title: { tag: 'plain_text', content: '🚨 [FIRING:1] ChannelDown' }, template: 'red' });
    expect(b.card.elements).to.have.length(1);
    expect(b.card.elements[0].tag).to.equal('markdown');
    expect(b.card.elements[0].content.split('\n').filter(Boolean)).to.deep.equal([
      '**分组**: alertname=ChannelDown · [Alertmanager](http://alertmanager:9093)',
      '**🚨 ChannelDown**',
      '**告警等级**: CRITICAL',
      '**告警信息**: Error rate above 5% on instance 0',
      '**详细描述**: The 5m error rate is 7.5% (threshold 5%).',
      '**标签**: instance=10.0.0.0:3000',
      '**发生时间**: 2024-05-01 12:00:00 UTC',
      '[处理手册](https://runbooks.example.com/high-error-rate) · [查看来源](http://prometheus:9090/graph?g0.expr=up)',
    ]);
    // Resolved: green header.
    expect((await post(`${r.url}/alerts/ops`, payload([{ status: 'resolved', alertname: 'ChannelDown' }]))).status).to.equal(200);
    expect(feishu.accepted[1]!.body.card.header.template).to.equal('green');
  });

  it('posts plain text when format is text', async () => {
    const r = await start({ format: 'text' });
    expect((await post(`${r.url}/alerts/ops`, payload([{ severity: 'info', alertname: 'Deploy' }]))).status).to.equal(200);
    const b = feishu.accepted[0]!.body;
    expect(b.msg_type).to.equal('text');
    const lines = b.content.text.split('\n').filter(Boolean);
    expect(lines.slice(0, 4)).to.deep.equal(['ℹ️ [FIRING:1] Deploy', '分组: alertname=Deploy · Alertmanager: http://alertmanager:9093', 'ℹ️ Deploy', '告警等级: INFO']);
  });

  it('answers 502 on a wrong signature (code 19021), not 2xx', async () => {
    const r = await start({ secret_env: undefined, secret: 'not-the-secret' });
    const res = await post(`${r.url}/alerts/ops`, payload([{}]));
    expect(res.status).to.equal(502);
    expect(res.body.failures[0].detail).to.equal('code 19021: sign match fail or timestamp is not within one hour from current time');
  });

  it('accepts the old success answer (StatusCode 0 only) and refuses a 200 without either code', async () => {
    const r = await start();
    feishu.failNext(1, { status: 200, body: { StatusCode: 0, StatusMessage: 'success' } });
    feishu.failNext(1, { status: 200, body: { ok: true } });
    feishu.failNext(1, { status: 200, body: { code: 11232, msg: 'frequency limited' } });
    expect((await post(`${r.url}/alerts/ops`, payload([{ alertname: 'A' }]))).status).to.equal(200);
    const second = await post(`${r.url}/alerts/ops`, payload([{ alertname: 'B' }]));
    expect(second.status).to.equal(502);
    expect(second.body.failures[0].reason).to.equal('invalid_response');
    const third = await post(`${r.url}/alerts/ops`, payload([{ alertname: 'C' }]));
    expect(third.status).to.equal(503);
    expect(third.body.failures[0].reason).to.equal('rate_limited');
  });

  it('keeps request bodies within 20 KB and to 5 messages a second', async () => {
    const r = await start({ max_parts: 20 });
    const alerts = Array.from({ length: 250 }, (_, i) => ({ alertname: 'QuotaLow', summary: `用户 ${i} 的额度低于 10%（剩余 ${1000 - i} 点），请尽快充值` }));
    const res = await post(`${r.url}/alerts/ops`, payload(alerts));
    expect(res.status).to.equal(200);
    const parts = feishu.received;
    expect(parts.length).to.be.above(5);
    expect(feishu.accepted).to.have.length(parts.length); // no 9499, no 11232
    for (const p of parts) expect(p.bytes).to.be.at.most(20000);
    for (let i = 0; i + 5 < parts.length; i++) expect(parts[i + 5]!.at - parts[i]!.at).to.be.at.least(1000);
  });
});

describe('alert-relay → several targets', () => {
  it('answers 200 only when every target delivered, and retries only the failed target', async () => {
    const ding = await new ChatStandIn('dingtalk').start();
    const wecom = await new ChatStandIn('wecom').start();
    const relay = await startRelay(
      {
        routes: { ops: { targets: ['ding', 'wx'] } },
        targets: { ding: { type: 'dingtalk', url_env: 'D' }, wx: { type: 'wecom', url_env: 'W' } },
      },
      { D: ding.url, W: wecom.url },
    );
    try {
      wecom.failNext(1, { status: 502, body: {} });
      const body = payload([{}]);
      const first = await post(`${relay.url}/alerts/ops`, body);
      expect(first.status).to.equal(502);
      expect(first.body.failures.map((f: any) => f.target)).to.deep.equal(['wx']);
      const second = await post(`${relay.url}/alerts/ops`, body);
      expect(second.status).to.equal(200);
      expect(second.body).to.include({ sent: 1, skipped: 1 });
      expect(ding.received).to.have.length(1);
      expect(wecom.received).to.have.length(2);
    } finally {
      await relay.stop();
      await ding.stop();
      await wecom.stop();
    }
  });
});
