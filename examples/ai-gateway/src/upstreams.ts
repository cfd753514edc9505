// Mock upstream model providers: one OpenAI-compatible HTTP server per channel,
// in this process, on an ephemeral port. They answer /v1/chat/completions as the
// real APIs do (JSON with `usage`, or server-sent events ending with a usage
// chunk when `stream_options.include_usage` is set), with latency and with the
// faults real providers have: 429 rate limits, 5xx errors, requests that never
// answer, and streams cut in the middle.
//
// They stand in for providers on other hosts, so they are not part of this
// service's own HTTP metrics: each server carries vigil's documented marker
// Symbol.for('vigil.internal-server') (see packages/instrumentation-http/README.md),
// the same one vigil's /metrics server uses.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FaultRates } from './config';

/** What an upstream does to every request, whatever its rates say. */
export type ForcedFault = 'none' | 'error' | 'rate_limit' | 'timeout';

export interface UpstreamProfile {
  /** Models this upstream serves. */
  models: string[];
  /** Typical latency to the first byte, in ms (jittered ±50%). */
  latencyMs: number;
  /** Time between streamed chunks, in ms. */
  chunkMs: number;
  /** Random fault rates. */
  rates: FaultRates;
}

const WORDS = (
  'the gateway routes each request to a channel that serves the model and retries another channel when the upstream ' +
  'fails so the user sees an answer while the operator sees the error rate climb on the dashboard and an alert fires ' +
  'when a channel stays below its success threshold for long enough to matter'
).split(' ');

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const jitter = (ms: number) => Math.max(1, Math.round(ms * (0.5 + Math.random())));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Rough token count, as a tokenizer would give for English text. */
export function countTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

interface ChatRequest {
  model?: unknown;
  messages?: Array<{ content?: unknown }>;
  stream?: unknown;
  stream_options?: { include_usage?: unknown };
  max_tokens?: unknown;
}

export class MockUpstream {
  private server: Server | undefined;
  private port = 0;
  /** Forced behaviour (admin endpoint / DEMO_FAIL_CHANNELS). */
  forced: ForcedFault = 'none';
  /** Requests answered so far, by outcome (for the admin view). */
  readonly served = { ok: 0, rateLimited: 0, serverError: 0, timeout: 0, streamCut: 0 };

  constructor(
    readonly name: string,
    readonly profile: UpstreamProfile,
  ) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch(() => res.destroy());
    });
    (server as unknown as Record<symbol, boolean>)[Symbol.for('vigil.internal-server')] = true;
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && url === '/health') return json(res, 200, { status: 'ok' });
    if (req.method === 'GET' && url === '/v1/models') {
      return json(res, 200, { object: 'list', data: this.profile.models.map((id) => ({ id, object: 'model', owned_by: this.name })) });
    }
    if (req.method !== 'POST' || url !== '/v1/chat/completions') {
      return json(res, 404, { error: { message: `Unknown request URL: ${req.method} ${url}`, type: 'invalid_request_error', code: 'unknown_url' } });
    }
    const body = await readJson(req);
    if (!body || typeof body.model !== 'string' || !Array.isArray(body.messages)) {
      return json(res, 400, { error: { message: "'model' and 'messages' are required properties", type: 'invalid_request_error', code: null } });
    }
    const model = body.model;
    if (!this.profile.models.includes(model)) {
      return json(res, 404, { error: { message: `The model \`${model}\` does not exist or you do not have access to it.`, type: 'invalid_request_error', code: 'model_not_found' } });
    }

    const fault = this.pickFault(body.stream === true);
    await sleep(jitter(this.profile.latencyMs));
    switch (fault) {
      case 'timeout':
        // Hold the request open; the gateway's timeout (or the client) ends it.
        this.served.timeout++;
        return;
      case 'rate_limit':
        this.served.rateLimited++;
        res.setHeader('retry-after', '1');
        return json(res, 429, {
          error: {
            message: `Rate limit reached for ${model} in organization org-${hex(12)} on requests per min (RPM): Limit 3500, Used 3500, Requested 1. Please try again in ${20 + Math.floor(Math.random() * 900)}ms.`,
            type: 'requests',
            param: null,
            code: 'rate_limit_exceeded',
          },
        });
      case 'error': {
        this.served.serverError++;
        const pick = Math.random();
        if (pick < 0.5) {
          return json(res, 500, {
            error: {
              message: `The server had an error while processing your request. Sorry about that! (Please include the request ID req_${hex(16)} in your message.)`,
              type: 'server_error',
              param: null,
              code: null,
            },
          });
        }
        if (pick < 0.8) return json(res, 503, { error: { message: 'The engine is currently overloaded, please try again later.', type: 'server_error', code: null } });
        return json(res, 502, { error: { message: 'Bad gateway.', type: 'server_error', code: 502 } });
      }
    }

    const prompt = body.messages.map((m) => (typeof m?.content === 'string' ? m.content : '')).join('\n');
    const promptTokens = countTokens(prompt) + 3 * body.messages.length;
    const maxTokens = typeof body.max_tokens === 'number' && body.max_tokens > 0 ? Math.min(body.max_tokens, 60) : 60;
    const words = Array.from({ length: Math.min(maxTokens, 8 + Math.floor(Math.random() * 30)) }, (_, i) => WORDS[(i + prompt.length) % WORDS.length]!);
    const id = `chatcmpl-${randomBytes(12).toString('base64url')}`;
    const created = Math.floor(Date.now() / 1000);

    if (body.stream !== true) {
      this.served.ok++;
      const content = words.join(' ');
      return json(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage: { prompt_tokens: promptTokens, completion_tokens: words.length, total_tokens: promptTokens + words.length },
      });
    }

    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
      send({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }] });
    chunk({ role: 'assistant', content: '' });
    const cutAt = fault === 'stream_cut' ? 1 + Math.floor(Math.random() * Math.max(1, words.length - 1)) : -1;
    for (let i = 0; i < words.length; i++) {
      if (res.destroyed) return;
      if (i === cutAt) {
        this.served.streamCut++;
        res.destroy(); // the connection drops mid-answer
        return;
      }
      await sleep(jitter(this.profile.chunkMs));
      chunk({ content: (i === 0 ? '' : ' ') + words[i] });
    }
    chunk({}, 'stop');
    if (body.stream_options?.include_usage === true) {
      send({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: words.length, total_tokens: promptTokens + words.length } });
    }
    res.end('data: [DONE]\n\n');
    this.served.ok++;
  }

  private pickFault(stream: boolean): ForcedFault | 'stream_cut' | 'none' {
    if (this.forced !== 'none') return this.forced;
    const { rateLimit, serverError, timeout, streamCut } = this.profile.rates;
    let r = Math.random();
    if ((r -= rateLimit) < 0) return 'rate_limit';
    if ((r -= serverError) < 0) return 'error';
    if ((r -= timeout) < 0) return 'timeout';
    if (stream && (r -= streamCut) < 0) return 'stream_cut';
    return 'none';
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readJson(req: IncomingMessage): Promise<ChatRequest | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1024 * 1024) chunks.push(c);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest);
      } catch {
        resolve(undefined);
      }
    });
    req.on('error', () => resolve(undefined));
  });
}
