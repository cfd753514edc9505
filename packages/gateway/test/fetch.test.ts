import { expect } from 'chai';
import { freePort } from '@vigil/testing';
import { CH1, histogramCounts, lines, META1, rig, sleep, type Rig } from './helpers';
import { RATE_LIMIT_MESSAGE, startUpstream, streamChunks, type Upstream } from './upstream';

const chat = (model: string, stream = false) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream, ...(stream ? { stream_options: { include_usage: true } } : {}) }),
});

const series = (model: string) => `${CH1},model_name="${model}",site_id="test"`;

describe('gateway: instrumented fetch against a local OpenAI-compatible upstream', () => {
  let up: Upstream;
  let r: Rig;
  before(async () => {
    up = await startUpstream();
  });
  after(async () => up.close());
  afterEach(async () => r?.close());

  it('a JSON completion: model from the request body, usage from the response, body untouched', async () => {
    r = rig();
    const res = await r.gw.fetch(META1, `${up.url}?mode=ok`, chat('gpt-4o'));
    expect(res.status).to.equal(200);
    expect(res.url).to.equal(`${up.url}?mode=ok`);
    expect(res.headers.get('content-type')).to.equal('application/json');
    const body = (await res.json()) as { usage: { prompt_tokens: number } };
    expect(body.usage.prompt_tokens).to.equal(11);
    const text = await r.scrape();
    expect(lines(text, 'new_api_model_requests_total')).to.deep.equal([
      `new_api_model_requests_total{${CH1},model_name="gpt-4o",status="success",error_code="",site_id="test"} 1`,
    ]);
    expect(lines(text, 'new_api_active_requests')).to.deep.equal([`new_api_active_requests{${series('gpt-4o')}} 0`]);
    expect(lines(text, 'new_api_model_input_tokens_total')).to.deep.equal([`new_api_model_input_tokens_total{${series('gpt-4o')}} 11`]);
    expect(lines(text, 'new_api_model_output_tokens_total')).to.deep.equal([`new_api_model_output_tokens_total{${series('gpt-4o')}} 7`]);
    expect(histogramCounts(text, 'new_api_model_request_duration_seconds')).to.deep.equal([
      `new_api_model_request_duration_seconds_count{${series('gpt-4o')}} 1`,
      `new_api_model_request_duration_seconds_bucket{${series('gpt-4o')},le="+Inf"} 1`,
    ]);
    expect(lines(text, 'new_api_model_time_to_first_token_seconds')).to.deep.equal([]);
  });

  it('a streamed completion: the caller gets the exact bytes; TTFT from the first chunk; usage from the last; ends at the end', async () => {
    r = rig();
    const res = await r.gw.fetch({ ...META1, model: 'gpt-4o-mini' }, `${up.url}?mode=stream`, chat('ignored-when-meta-has-one', true));
    // Headers arrived, body not yet read: still in flight.
    expect(lines(await r.scrape(), 'new_api_active_requests')).to.deep.equal([`new_api_active_requests{${series('gpt-4o-mini')}} 1`]);
    const received = await res.text();
    expect(received).to.equal(streamChunks('ignored-when-meta-has-one').join(''));
    const text = await r.scrape();
    expect(lines(text, 'new_api_active_requests')).to.deep.equal([`new_api_active_requests{${series('gpt-4o-mini')}} 0`]);
    expect(lines(text, 'new_api_model_requests_total')).to.deep.equal([
      `new_api_model_requests_total{${CH1},model_name="gpt-4o-mini",status="success",error_code="",site_id="test"} 1`,
    ]);
    expect(lines(text, 'new_api_model_input_tokens_total')).to.deep.equal([`new_api_model_input_tokens_total{${series('gpt-4o-mini')}} 19`]);
    expect(lines(text, 'new_api_model_output_tokens_total')).to.deep.equal([`new_api_model_output_tokens_total{${series('gpt-4o-mini')}} 3`]);
    expect(histogramCounts(text, 'new_api_model_time_to_first_token_seconds')).to.deep.equal([
      `new_api_model_time_to_first_token_seconds_count{${series('gpt-4o-mini')}} 1`,
      `new_api_model_time_to_first_token_seconds_bucket{${series('gpt-4o-mini')},le="+Inf"} 1`,
    ]);
  });

  it('reads the model from the body when meta has none, for streams too, chunk by chunk', async () => {
    r = rig();
    const res = await r.gw.fetch(META1, `${up.url}?mode=stream`, chat('gpt-4.1', true));
    const parts: string[] = [];
    const decoder = new TextDecoder();
    for await (const chunk of res.body!) parts.push(decoder.decode(chunk, { stream: true }));
    expect(parts.join('')).to.equal(streamChunks('gpt-4.1').join(''));
    expect(lines(await r.scrape(), 'new_api_model_requests_total')).to.deep.equal([
      `new_api_model_requests_total{${CH1},model_name="gpt-4.1",status="success",error_code="",site_id="test"} 1`,
    ]);
  });

  it('non-2xx: error with the status as error_code and the normalised error.message; the caller can still read the body', async () => {
    r = rig();
    const res429 = await r.gw.fetch(META1, `${up.url}?mode=429`, chat('gpt-4o'));
    expect(res429.status).to.equal(429);
    expect(((await res429.json()) as { error: { message: string } }).error.message).to.equal(RATE_LIMIT_MESSAGE);
    await (await r.gw.fetch(META1, `${up.url}?mode=500`, chat('gpt-4o'))).text();
    await (await r.gw.fetch(META1, `${up.url}?mode=500`, chat('gpt-4o'))).text();
    await r.gw.fetch(META1, `${up.url}?mode=503html`, chat('gpt-4o')); // body never read: still ends
    const text = await r.scrape();
    expect(lines(text, 'new_api_model_requests_total')).to.deep.equal([
      `new_api_model_requests_total{${CH1},model_name="gpt-4o",status="error",error_code="429",site_id="test"} 1`,
      `new_api_model_requests_total{${CH1},model_name="gpt-4o",status="error",error_code="500",site_id="test"} 2`,
      `new_api_model_requests_total{${CH1},model_name="gpt-4o",status="error",error_code="503",site_id="test"} 1`,
    ]);
    expect(lines(text, 'new_api_model_request_errors_total')).to.deep.equal([
      `new_api_model_request_errors_total{${CH1},model_name="gpt-4o",error_code="429",error_message="Rate limit reached for gpt-4o in organization <id> on requests per min (RPM): Limit <n>, Used <n>, R",site_id="test"} 1`,
      `new_api_model_request_errors_total{${CH1},model_name="gpt-4o",error_code="500",error_message="The server had an error while processing your request. Sorry about that! (request id: <id>)",site_id="test"} 2`,
      `new_api_model_request_errors_total{${CH1},model_name="gpt-4o",error_code="503",error_message="Service Unavailable",site_id="test"} 1`,
    ]);
    expect(lines(text, 'new_api_active_requests')).to.deep.equal([`new_api_active_requests{${series('gpt-4o')}} 0`]);
  });

  it('an error event inside a 200 stream is an error with its code', async () => {
    r = rig();
    await (await r.gw.fetch(META1, `${up.url}?mode=stream-error`, chat('gpt-4o', true))).text();
    const text = await r.scrape();
    expect(lines(text, 'new_api_model_request_errors_total')).to.deep.equal([
      `new_api_model_request_errors_total{${CH1},model_name="gpt-4o",error_code="overloaded",error_message="The engine is currently overloaded, please try again later",site_id="test"} 1`,
    ]);
  });

  it('a stream cut by the upstream: the caller sees the error, the request is an error "stream_error"', async () => {
    r = rig();
    const res = await r.gw.fetch(META1, `${up.url}?mode=cut`, chat('gpt-4o', true));
    let caught: unknown;
    await res.text().catch((e: unknown) => (caught = e));
    expect(caught).to.be.instanceOf(Error);
    const text = await r.scrape();
    expect(lines(text, 'new_api_model_requests_total')).to.deep.equal([
      `new_api_model_requests_total{${CH1},model_name="gpt-4o",status="error",error_code="stream_error",site_id="test"} 1`,
    ]);
    expect(lines(text, 'new_api_model_request_errors_total')).to.deep.equal([
      `new_api_model_request_errors_total{${CH1},model_name="gpt-4o",error_code="stream_error",error_message="other side closed",site_id="test"} 1`,
    ]);
    expect(histogramCounts(text, 'new_api_model_time_to_first_token_seconds')[0]).to.equal(`new_api_model_time_to_first_token_seconds_count{${series('gpt-4o')}} 1`);
    expect(lines(text, 'new_api_active_requests')).to.deep.equal([`new_api_active_requests{${series('gpt-4o')}} 0`]);
  });

  it('connection failures: reset and refused are errors with the socket error code, rethrown to the caller', async () => {
    r = rig();
    const port = await freePort();
    const errors: unknown[] = [];
    await r.gw.fetch(META1, `${up.url}?mode=reset`, chat('gpt-4o')).catch((e: unknown) => errors.push(e));
    await r.gw.fetch(META1, `http://127.0.0.1:${port}/v1/chat/completions`, chat('gpt-4o')).catch((e: unknown) => errors.push(e));
    expect(errors.map((e) => (e as Error).message)).to.deep.equal(['fetch failed', 'fetch failed']);
    const text = await r.scrape();
    expect(lines(text, 'new_api_model_requests_total')).to.deep.equal([
      `new_api_model_requests_total{${CH1},model_name="gpt-4o",status="error",error_code="UND_ERR_SOCKET",site_id="test"} 1`,
      `new_api_model_requests_total{${CH1},model_name="gpt-4o",status="error",error_code="ECONNREFUSED",site_id="test"} 1`,
    ]);
    expect(lines(text, 'new_api_model_request_errors_total')).to.deep.equal([
      `new_api_model_request_errors_total{${CH1},model_name="gpt-4o",error_code="UND_ERR_SOCKET",error_message="other side closed",site_id="test"} 1`,
      `new_api_model_request_errors_total{${CH1},model_name="gpt-4o",error_code="ECONNREFUSED",error_message="connect ECONNREFUSED <ip>",site_id="test"} 1`,
    ]);
  });

  it('client aborts before the headers, mid-stream, and a consumer cancel are "aborted"; a timeout signal is an error "timeout"', async () => {
    r = rig();
    const before = new AbortController();
    const p1 = r.gw.fetch(META1, `${up.url}?mode=hang`, { ...chat('gpt-4o'), signal: before.signal });
    setTimeout(() => before.abort(), 30);
    const e1 = await p1.catch((e: unknown) => e);
    expect((e1 as Error).name).to.equal('AbortError');

    const mid = new AbortController();
    const res2 = await r.gw.fetch(META1, `${up.url}?mode=hang-body`, { ...chat('gpt-4o', true), signal: mid.signal });
    const reader2 = res2.body!.getReader();
    expect((await reader2.read()).done).to.equal(false);
    mid.abort();
    const e2 = await reader2.read().catch((e: unknown) => e);
    expect((e2 as Error).name).to.equal('AbortError');

    const res3 = await r.gw.fetch(META1, `${up.url}?mode=stream`, chat('gpt-4o', true));
    const reader3 = res3.body!.getReader();
    await reader3.read();
    await reader3.cancel('user closed the tab');

    const e4 = await r.gw.fetch(META1, `${up.url}?mode=hang`, { ...chat('gpt-4o'), signal: AbortSignal.timeout(30) }).catch((e: unknown) => e);
    expect((e4 as Error).name).to.equal('TimeoutError');

    const text = await r.scrape();
    expect(lines(text, 'new_api_model_requests_total')).to.deep.equal([
      `new_api_model_requests_total{${CH1},model_name="gpt-4o",status="aborted",error_code="",site_id="test"} 3`,
      `new_api_model_requests_total{${CH1},model_name="gpt-4o",status="error",error_code="timeout",site_id="test"} 1`,
    ]);
    expect(lines(text, 'new_api_active_requests')).to.deep.equal([`new_api_active_requests{${series('gpt-4o')}} 0`]);
  });

  it('a custom fetch and a Request object work too', async () => {
    let calls = 0;
    r = rig({ fetch: (input, init) => (calls++, fetch(input, init)) });
    const res = await r.gw.fetch({ ...META1, model: 'gpt-4o' }, new Request(`${up.url}?mode=ok`, chat('gpt-4o')));
    await res.arrayBuffer();
    await sleep(1);
    expect(calls).to.equal(1);
    expect(lines(await r.scrape(), 'new_api_model_input_tokens_total')).to.deep.equal([`new_api_model_input_tokens_total{${series('gpt-4o')}} 11`]);
  });
});

describe('gateway: a response dropped unread', () => {
  it('is counted as aborted once garbage-collected, so nothing stays in flight (spawned with --expose-gc)', () => {
    const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
    const { join } = require('node:path') as typeof import('node:path');
    const child = spawnSync(process.execPath, ['--expose-gc', join(__dirname, 'fixtures', 'dropped-body.js')], { encoding: 'utf8', timeout: 30_000 });
    expect(child.status, child.stderr).to.equal(0);
    const series = 'channel_id="1",channel_name="unknown",channel_type="unknown",model_name="gpt-4o"';
    expect(lines(child.stdout, 'new_api_active_requests')).to.deep.equal([`new_api_active_requests{${series},site_id="gc"} 0`]);
    expect(lines(child.stdout, 'new_api_model_requests_total')).to.deep.equal([
      `new_api_model_requests_total{${series},status="aborted",error_code="",site_id="gc"} 1`,
    ]);
    expect(child.stderr).to.include('dropped without being read or cancelled');
  });
});
