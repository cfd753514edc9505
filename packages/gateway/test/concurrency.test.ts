import { expect } from 'chai';
import { samplesOf } from '@vigil/testing';
import { rig, type Rig } from './helpers';
import { startUpstream, type Upstream } from './upstream';

type Kind = 'ok' | 'stream' | '429' | '500' | 'reset' | 'abort-before' | 'cut' | 'cancel' | 'track-throw' | 'abort-mid';
const KINDS: Kind[] = ['ok', 'stream', '429', '500', 'reset', 'abort-before', 'cut', 'cancel', 'track-throw', 'abort-mid'];

const sum = (text: string, name: string, labels: Record<string, string> = {}) => samplesOf(text, name, labels).reduce((a, s) => a + s.value, 0);

describe('gateway: 1000 concurrent upstream calls with mixed outcomes', () => {
  let up: Upstream;
  let r: Rig;
  before(async () => {
    up = await startUpstream();
  });
  after(async () => {
    await r?.close();
    await up.close();
  });

  it('leave new_api_active_requests at exactly 0 and counts that add up', async function () {
    this.timeout(60_000);
    r = rig();
    const gw = r.gw;
    const N = 1000;
    const expected: Record<Kind, number> = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;

    async function call(i: number): Promise<void> {
      const kind = KINDS[i % KINDS.length]!;
      expected[kind]++;
      const meta = { channelId: i % 3, channelName: `ch-${i % 3}`, channelType: 'openai' };
      const body = (stream: boolean) => ({
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: i % 2 ? 'gpt-4o' : 'claude-3-5-sonnet', stream, stream_options: { include_usage: true } }),
      });
      const url = (mode: string) => `${up.url}?mode=${mode}`;
      switch (kind) {
        case 'ok':
          await (await gw.fetch(meta, url('ok'), body(false))).json();
          return;
        case 'stream':
          await (await gw.fetch(meta, url('stream'), body(true))).text();
          return;
        case '429':
        case '500':
          await (await gw.fetch(meta, url(kind), body(false))).text();
          return;
        case 'reset':
          await gw.fetch(meta, url('reset'), body(false)).then(
            () => expect.fail('reset answered'),
            () => {},
          );
          return;
        case 'abort-before': {
          const ac = new AbortController();
          setTimeout(() => ac.abort(), (i % 20) + 1);
          await gw.fetch(meta, url('hang'), { ...body(false), signal: ac.signal }).then(
            () => expect.fail('hang answered'),
            () => {},
          );
          return;
        }
        case 'abort-mid': {
          const ac = new AbortController();
          const res = await gw.fetch(meta, url('hang-body'), { ...body(true), signal: ac.signal });
          const reader = res.body!.getReader();
          await reader.read();
          ac.abort();
          await reader.read().catch(() => {});
          return;
        }
        case 'cut':
          await (await gw.fetch(meta, url('cut'), body(true))).text().catch(() => {});
          return;
        case 'cancel': {
          const res = await gw.fetch(meta, url('stream'), body(true));
          const reader = res.body!.getReader();
          await reader.read();
          await reader.cancel();
          return;
        }
        case 'track-throw':
          await gw
            .track({ ...meta, model: 'gpt-4o' }, async (req) => {
              req.firstToken();
              throw new Error('provider SDK blew up');
            })
            .catch(() => {});
          return;
      }
    }

    await Promise.all(Array.from({ length: N }, (_, i) => call(i)));
    const text = await r.scrape();

    const active = samplesOf(text, 'new_api_active_requests');
    expect(active.length).to.be.greaterThan(0);
    expect(active.filter((s) => s.value !== 0)).to.deep.equal([]);

    expect(sum(text, 'new_api_model_requests_total')).to.equal(N);
    expect(sum(text, 'new_api_model_requests_total', { status: 'success' })).to.equal(expected.ok + expected.stream);
    expect(sum(text, 'new_api_model_requests_total', { status: 'aborted' })).to.equal(expected['abort-before'] + expected['abort-mid'] + expected.cancel);
    const errors = expected['429'] + expected['500'] + expected.reset + expected.cut + expected['track-throw'];
    expect(sum(text, 'new_api_model_requests_total', { status: 'error' })).to.equal(errors);
    expect(sum(text, 'new_api_model_requests_total', { error_code: '429' })).to.equal(expected['429']);
    expect(sum(text, 'new_api_model_requests_total', { error_code: '500' })).to.equal(expected['500']);
    expect(sum(text, 'new_api_model_requests_total', { error_code: 'UND_ERR_SOCKET' })).to.equal(expected.reset);
    expect(sum(text, 'new_api_model_requests_total', { error_code: 'stream_error' })).to.equal(expected.cut);
    expect(sum(text, 'new_api_model_requests_total', { error_code: 'exception' })).to.equal(expected['track-throw']);
    expect(sum(text, 'new_api_model_request_errors_total')).to.equal(errors);
    expect(sum(text, 'new_api_model_request_duration_seconds_count')).to.equal(N - sum(text, 'new_api_model_requests_total', { status: 'aborted' }));
    // Every request that saw a first chunk: streams read fully, cut, cancelled, aborted mid-body, and track's firstToken().
    expect(sum(text, 'new_api_model_time_to_first_token_seconds_count')).to.equal(
      expected.stream + expected.cut + expected.cancel + expected['abort-mid'] + expected['track-throw'],
    );
    expect(sum(text, 'new_api_model_input_tokens_total')).to.equal(11 * expected.ok + 19 * expected.stream);
    expect(sum(text, 'new_api_model_output_tokens_total')).to.equal(7 * expected.ok + 3 * expected.stream);
  });
});
