import { expect } from 'chai';
import { createGatewayMetrics, normalizeErrorMessage } from '../src/index';
import { LeanRegistry } from '@vigil/catalog';
import { inProcessMetrics } from '@vigil/testing';
import { bucketBounds, CH1, histogramCounts, lines, META1, rig, type Rig } from './helpers';

const DURATION_BOUNDS = ['0.1', '0.25', '0.5', '1', '2.5', '5', '10', '20', '30', '60', '120', '300', '+Inf'];

describe('gateway: model requests', () => {
  let r: Rig;
  afterEach(async () => r?.close());

  it('a request is in flight until it ends, and ends exactly once', async () => {
    r = rig();
    const a = r.gw.startRequest({ ...META1, model: 'gpt-4o' });
    const b = r.gw.startRequest({ ...META1, model: 'gpt-4o' });
    expect(lines(await r.scrape(), 'new_api_active_requests')).to.deep.equal([
      `new_api_active_requests{${CH1},model_name="gpt-4o",site_id="test"} 2`,
    ]);
    a.succeed();
    a.succeed();
    a.fail({ code: 500, message: 'late' });
    a.abort();
    b.fail({ code: 429, message: 'Rate limit reached for gpt-4o. Limit: 3, Used: 3. Please try again in 20s.' });
    b.succeed();
    expect(a.ended && b.ended).to.equal(true);
    const text = await r.scrape();
    expect(lines(text, 'new_api_active_requests')).to.deep.equal([`new_api_active_requests{${CH1},model_name="gpt-4o",site_id="test"} 0`]);
    expect(lines(text, 'new_api_model_requests_total')).to.deep.equal([
      `new_api_model_requests_total{${CH1},model_name="gpt-4o",status="success",error_code="",site_id="test"} 1`,
      `new_api_model_requests_total{${CH1},model_name="gpt-4o",status="error",error_code="429",site_id="test"} 1`,
    ]);
    expect(lines(text, 'new_api_model_request_errors_total')).to.deep.equal([
      `new_api_model_request_errors_total{${CH1},model_name="gpt-4o",error_code="429",error_message="Rate limit reached for gpt-4o. Limit: <n>, Used: <n>. Please try again in <n>s.",site_id="test"} 1`,
    ]);
    expect(histogramCounts(text, 'new_api_model_request_duration_seconds')).to.deep.equal([
      `new_api_model_request_duration_seconds_count{${CH1},model_name="gpt-4o",site_id="test"} 2`,
      `new_api_model_request_duration_seconds_bucket{${CH1},model_name="gpt-4o",site_id="test",le="+Inf"} 2`,
    ]);
    expect(bucketBounds(text, 'new_api_model_request_duration_seconds')).to.deep.equal(DURATION_BOUNDS);
  });

  it('an abort is status "aborted": not an upstream error, no duration', async () => {
    r = rig();
    r.gw.startRequest({ ...META1, model: 'o1' }).abort();
    const text = await r.scrape();
    expect(lines(text, 'new_api_model_requests_total')).to.deep.equal([
      `new_api_model_requests_total{${CH1},model_name="o1",status="aborted",error_code="",site_id="test"} 1`,
    ]);
    expect(lines(text, 'new_api_model_request_errors_total')).to.deep.equal([]);
    expect(lines(text, 'new_api_model_request_duration_seconds')).to.deep.equal([]);
    expect(lines(text, 'new_api_active_requests')).to.deep.equal([`new_api_active_requests{${CH1},model_name="o1",site_id="test"} 0`]);
  });

  it('time to first token once, and token counters', async () => {
    r = rig();
    const q = r.gw.startRequest({ ...META1, model: 'gpt-4o' });
    q.firstToken();
    q.firstToken();
    q.tokens({ input: 100, output: 20 });
    q.tokens({ output: 5 });
    q.tokens({ input: -3, output: Number.NaN });
    q.succeed();
    q.firstToken();
    const text = await r.scrape();
    expect(lines(text, 'new_api_model_input_tokens_total')).to.deep.equal([`new_api_model_input_tokens_total{${CH1},model_name="gpt-4o",site_id="test"} 100`]);
    expect(lines(text, 'new_api_model_output_tokens_total')).to.deep.equal([`new_api_model_output_tokens_total{${CH1},model_name="gpt-4o",site_id="test"} 25`]);
    expect(histogramCounts(text, 'new_api_model_time_to_first_token_seconds')).to.deep.equal([
      `new_api_model_time_to_first_token_seconds_count{${CH1},model_name="gpt-4o",site_id="test"} 1`,
      `new_api_model_time_to_first_token_seconds_bucket{${CH1},model_name="gpt-4o",site_id="test",le="+Inf"} 1`,
    ]);
    expect(bucketBounds(text, 'new_api_model_time_to_first_token_seconds')).to.deep.equal(['0.05', '0.1', '0.25', '0.5', '1', '2', '5', '10', '30', '+Inf']);
  });

  it('track() ends the request on every path and passes results and errors through', async () => {
    r = rig();
    expect(await r.gw.track({ ...META1, model: 'm' }, async () => 'answer')).to.equal('answer');
    const thrown = Object.assign(new Error('Bad gateway from upstream 10.0.0.7:443'), { status: 502 });
    let caught: unknown;
    await r.gw.track({ ...META1, model: 'm' }, async () => { throw thrown; }).catch((e: unknown) => (caught = e));
    expect(caught).to.equal(thrown);
    await r.gw.track({ ...META1, model: 'm' }, () => { throw new TypeError('oops'); }).catch(() => {});
    const ac = new AbortController();
    ac.abort();
    await r.gw.track({ ...META1, model: 'm' }, async () => { throw new Error('client went away'); }, { signal: ac.signal }).catch(() => {});
    await r.gw.track({ ...META1, model: 'm' }, async () => { throw new DOMException('The operation was aborted due to timeout', 'TimeoutError'); }).catch(() => {});
    // fn ended it itself: track does not end it again
    await r.gw.track({ ...META1, model: 'm' }, async (q) => { q.fail({ code: 'content_filter', message: 'flagged' }); throw new Error('after fail'); }).catch(() => {});
    const text = await r.scrape();
    expect(lines(text, 'new_api_active_requests')).to.deep.equal([`new_api_active_requests{${CH1},model_name="m",site_id="test"} 0`]);
    expect(lines(text, 'new_api_model_requests_total')).to.deep.equal([
      `new_api_model_requests_total{${CH1},model_name="m",status="success",error_code="",site_id="test"} 1`,
      `new_api_model_requests_total{${CH1},model_name="m",status="error",error_code="502",site_id="test"} 1`,
      `new_api_model_requests_total{${CH1},model_name="m",status="error",error_code="exception",site_id="test"} 1`,
      `new_api_model_requests_total{${CH1},model_name="m",status="aborted",error_code="",site_id="test"} 1`,
      `new_api_model_requests_total{${CH1},model_name="m",status="error",error_code="timeout",site_id="test"} 1`,
      `new_api_model_requests_total{${CH1},model_name="m",status="error",error_code="content_filter",site_id="test"} 1`,
    ]);
    expect(lines(text, 'new_api_model_request_errors_total')).to.deep.equal([
      `new_api_model_request_errors_total{${CH1},model_name="m",error_code="502",error_message="Bad gateway from upstream <ip>",site_id="test"} 1`,
      `new_api_model_request_errors_total{${CH1},model_name="m",error_code="exception",error_message="oops",site_id="test"} 1`,
      `new_api_model_request_errors_total{${CH1},model_name="m",error_code="timeout",error_message="The operation was aborted due to timeout",site_id="test"} 1`,
      `new_api_model_request_errors_total{${CH1},model_name="m",error_code="content_filter",error_message="flagged",site_id="test"} 1`,
    ]);
  });

  it('site_id: the option, else SITE_ID, else "default"', async () => {
    const saved = process.env.SITE_ID;
    const m = inProcessMetrics();
    try {
      process.env.SITE_ID = 'cn-east';
      const fromEnv = createGatewayMetrics({ meterProvider: m.meterProvider });
      const fromOption = createGatewayMetrics({ meterProvider: m.meterProvider, siteId: 'eu' });
      delete process.env.SITE_ID;
      const byDefault = createGatewayMetrics({ meterProvider: m.meterProvider });
      expect([fromEnv.siteId, fromOption.siteId, byDefault.siteId]).to.deep.equal(['cn-east', 'eu', 'default']);
      fromEnv.startRequest({ channelId: 9, model: 'x' }).succeed();
      expect(lines(await m.scrape(), 'new_api_model_requests_total')).to.deep.equal([
        'new_api_model_requests_total{channel_id="9",channel_name="unknown",channel_type="unknown",model_name="x",status="success",error_code="",site_id="cn-east"} 1',
      ]);
    } finally {
      if (saved === undefined) delete process.env.SITE_ID;
      else process.env.SITE_ID = saved;
      await m.shutdown();
    }
  });

  it('bounds labels: error messages per channel and model fold into "other", models per channel too', async () => {
    r = rig({ maxErrorMessages: 3, maxModelsPerChannel: 2 });
    for (const word of ['alpha', 'beta', 'gamma', 'delta', 'epsilon']) r.gw.startRequest({ ...META1, model: 'a' }).fail({ code: 500, message: `failure ${word}` });
    // the same message with different numbers is one value
    for (let i = 0; i < 5; i++) r.gw.startRequest({ ...META1, model: 'a' }).fail({ code: 500, message: `failure alpha` });
    for (const model of ['a', 'b', 'c', 'd']) r.gw.startRequest({ ...META1, model }).succeed();
    const text = await r.scrape();
    expect(lines(text, 'new_api_model_request_errors_total').map((l) => /error_message="([^"]*)"/.exec(l)![1] + ' ' + l.split(' ').pop())).to.deep.equal([
      'failure alpha 6',
      'failure beta 1',
      'failure gamma 1',
      'other 2',
    ]);
    expect(lines(text, 'new_api_model_requests_total').filter((l) => l.includes('status="success"')).map((l) => /model_name="([^"]*)"/.exec(l)![1])).to.deep.equal(['a', 'b', 'other']);
  });
});

describe('gateway: error_message normalisation', () => {
  const cases: Array<[string, string]> = [
    [
      'Rate limit reached for gpt-4o in organization org-abc123XYZ on tokens per min (TPM): Limit 30000, Used 29850, Requested 1200. Please try again in 2.4s.',
      // cut at 100 characters
      'Rate limit reached for gpt-4o in organization <id> on tokens per min (TPM): Limit <n>, Used <n>, Req',
    ],
    ['The model `gpt-5-preview` does not exist or you do not have access to it.', 'The model `<v>` does not exist or you do not have access to it.'],
    ["Invalid value for 'temperature': expected a number", "Invalid value for '<v>': expected a number"],
    ["This model's maximum context length is 8192 tokens", "This model's maximum context length is <n> tokens"],
    ['Incorrect API key provided: sk-proj-AbCdEf123456. You can find your API key at https://platform.openai.com/account/api-keys.', 'Incorrect API key provided: <id>. You can find your API key at <url>'],
    ['request 3f2b8c1e-9a7d-4e2f-b1c3-5d6e7f8a9b0c failed for user bob@example.com at 2025-03-10T12:34:56Z', 'request <uuid> failed for user <email> at <time>'],
    ['mailbox x!y#z@example.com is full', 'mailbox <email> is full'],
    ['trace 9f86d081884c7d65 from 10.1.2.3:8080', 'trace <hex> from <ip>'],
    ['  multi\n\tline   \r\n message  ', 'multi line message'],
    ['', 'unknown'],
  ];
  for (const [raw, want] of cases) {
    it(JSON.stringify(raw.slice(0, 50)), () => expect(normalizeErrorMessage(raw, 100)).to.equal(want));
  }
  it('never exceeds the length and never splits a surrogate pair', () => {
    const s = normalizeErrorMessage('错误'.repeat(10) + '😀'.repeat(100), 25);
    expect(s.length).to.be.at.most(25);
    expect(() => encodeURIComponent(s)).to.not.throw();
  });
  it('never splits a surrogate pair where it bounds the input before the rules run (a fuzz counterexample)', () => {
    // the bound is 8 × maxLength = 64 code units, and the 64th is the first half of 𐀀
    const s = normalizeErrorMessage('%000xdeadbeefreq_9f8e7d6c550e8400-e29b-41d4-a716-446655440000\u{10000}\u{10000}', 8);
    expect(() => encodeURIComponent(s)).to.not.throw();
  });
});

describe('gateway: channel status', () => {
  let r: Rig;
  afterEach(async () => r?.close());

  it('one series per channel whatever its history; codes and names; removal', async () => {
    r = rig();
    r.gw.setChannelStatus(META1, 1);
    r.gw.setChannelStatus({ channelId: 2, channelName: 'azure-backup', channelType: 'azure' }, 'enabled');
    r.gw.setChannelStatus(META1, 'auto_disabled');
    r.gw.setChannelStatus(META1, 2);
    r.gw.setChannelStatus({ channelId: 3, channelName: 'claude', channelType: 'anthropic' }, 4);
    r.gw.setChannelStatus(META1, 3);
    r.gw.setChannelStatus({ channelId: 2, channelName: 'azure-backup', channelType: 'azure' }, 7 as never); // ignored
    let text = await r.scrape();
    expect(lines(text, 'new_api_channel_status')).to.deep.equal([
      `new_api_channel_status{${CH1},status="auto_disabled",site_id="test"} 3`,
      'new_api_channel_status{channel_id="2",channel_name="azure-backup",channel_type="azure",status="enabled",site_id="test"} 1',
      'new_api_channel_status{channel_id="3",channel_name="claude",channel_type="anthropic",status="deleted",site_id="test"} 4',
    ]);
    r.gw.removeChannel(3);
    r.gw.setChannelStatus(META1, 'manually_disabled');
    text = await r.scrape();
    expect(lines(text, 'new_api_channel_status')).to.deep.equal([
      `new_api_channel_status{${CH1},status="manually_disabled",site_id="test"} 2`,
      'new_api_channel_status{channel_id="2",channel_name="azure-backup",channel_type="azure",status="enabled",site_id="test"} 1',
    ]);
    r.gw.shutdown();
    expect(lines(await r.scrape(), 'new_api_channel_status')).to.deep.equal([]);
  });

  it('a repeated status sync of many channels: an unchanged channel keeps its series, past the limit one overflow per set, at most 10 000 channels', async () => {
    const overflowOf = (registry: LeanRegistry) =>
      registry.snapshot().flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'vigil_metric_overflow_total')?.dataPoints[0]?.value;
    const m = inProcessMetrics();
    try {
      const registry = new LeanRegistry();
      registry.cardinalityLimit = 100;
      const gw = createGatewayMetrics({ meterProvider: m.meterProvider, registry, siteId: 'test' });
      for (let sync = 0; sync < 2; sync++) for (let id = 1; id <= 150; id++) gw.setChannelStatus({ channelId: id, channelName: `ch${id}`, channelType: 'openai' }, 1);
      expect(registry.seriesCount()).to.equal(101); // 100 channels and the overflow series
      expect(overflowOf(registry), 'one per set of a channel past the limit (a redraw per set counted every channel again)').to.equal(100);

      const big = new LeanRegistry();
      big.cardinalityLimit = 100;
      const gw2 = createGatewayMetrics({ meterProvider: m.meterProvider, registry: big, siteId: 'test' });
      for (let id = 1; id <= 10_001; id++) gw2.setChannelStatus({ channelId: id }, 'enabled');
      expect(overflowOf(big), 'the 10 001st channel is not recorded').to.equal(10_000 - 100);
    } finally {
      await m.shutdown();
    }
  });
});
