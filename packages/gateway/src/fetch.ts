// A fetch to an OpenAI-compatible upstream, measured: the model from the JSON
// request body, the end of the request when the response body ends (not when
// the headers arrive), time to first token and token usage from the final SSE
// chunk (stream_options.include_usage) or from the JSON body.
//
// The response body is passed through chunk by chunk (a pull stream with no
// buffer of its own, so the upstream's backpressure is kept and the caller's
// cancel reaches us); the bytes are the upstream's. Nothing is buffered except
// one partial SSE line, or a JSON body up to maxJsonBytes for its usage.
import { logOnce } from '@vigil/catalog';
import type { ModelRequest, ModelRequestMeta, TokenUsage } from './types';

export interface FetchDeps {
  start(meta: ModelRequestMeta): ModelRequest;
  fetchImpl: typeof fetch | undefined;
  maxJsonBytes: number;
  errorBodyTimeoutMs: number;
}

const MAX_LINE = 1 << 20;
const MAX_ERROR_BODY = 64 * 1024;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The JSON object of a request body given as a string or bytes; undefined for anything else. */
function requestJson(body: unknown): Json | undefined {
  let text: string | undefined;
  if (typeof body === 'string') text = body;
  else if (body instanceof Uint8Array) text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  else if (body instanceof ArrayBuffer) text = Buffer.from(body).toString('utf8');
  if (text === undefined || text.length > 16 * 1024 * 1024) return undefined;
  try {
    const j: unknown = JSON.parse(text);
    return isObject(j) ? j : undefined;
  } catch {
    return undefined;
  }
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Token usage of an OpenAI (prompt/completion_tokens), Anthropic (input/output_tokens) or Gemini (usageMetadata) body. */
export function usageOf(j: Json): TokenUsage | undefined {
  const u = isObject(j.usage) ? j.usage : isObject(j.message) && isObject(j.message.usage) ? j.message.usage : undefined;
  if (u) {
    const input = num(u.prompt_tokens) ?? num(u.input_tokens);
    const output = num(u.completion_tokens) ?? num(u.output_tokens);
    if (input !== undefined || output !== undefined) return { input, output };
  }
  const g = isObject(j.usageMetadata) ? j.usageMetadata : undefined;
  if (g) {
    const input = num(g.promptTokenCount);
    const output = num(g.candidatesTokenCount);
    if (input !== undefined || output !== undefined) return { input, output };
  }
  return undefined;
}

type Outcome = 'abort' | 'timeout' | 'error';

function classify(e: unknown, signal: AbortSignal | undefined): Outcome {
  const name = (e as { name?: unknown } | null)?.name;
  const reasonName = (signal?.reason as { name?: unknown } | undefined)?.name;
  if (name === 'TimeoutError' || (signal?.aborted && reasonName === 'TimeoutError')) return 'timeout';
  if (name === 'AbortError' || signal?.aborted) return 'abort';
  return 'error';
}

/**
 * Ends req for a thrown fetch or body error: client abort, timeout, or an error with the cause's code
 * (ECONNREFUSED, UND_ERR_SOCKET), or always `code` when `fixed` (a stream cut mid-body is "stream_error").
 */
export function endWithThrown(req: ModelRequest, e: unknown, signal: AbortSignal | undefined, code: string, fixed = false): void {
  const kind = classify(e, signal);
  if (kind === 'abort') return req.abort();
  const cause = (e as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const message = typeof cause?.message === 'string' ? cause.message : String((e as { message?: unknown } | null)?.message ?? e);
  if (kind === 'timeout') return req.fail({ code: 'timeout', message });
  req.fail({ code: !fixed && typeof cause?.code === 'string' ? cause.code : code, message });
}

/** What a response body is watched for. */
interface Observer {
  chunk(bytes: Uint8Array): void;
  end(): void;
}

class PlainObserver implements Observer {
  constructor(private readonly req: ModelRequest) {}
  chunk(): void {}
  end(): void {
    this.req.succeed();
  }
}

class JsonObserver implements Observer {
  private chunks: Uint8Array[] | undefined = [];
  private size = 0;
  constructor(
    private readonly req: ModelRequest,
    private readonly max: number,
  ) {}
  chunk(bytes: Uint8Array): void {
    if (!this.chunks) return;
    this.size += bytes.byteLength;
    if (this.size > this.max) this.chunks = undefined;
    else this.chunks.push(bytes.slice());
  }
  end(): void {
    if (this.chunks) {
      try {
        const j: unknown = JSON.parse(Buffer.concat(this.chunks).toString('utf8'));
        const u = isObject(j) ? usageOf(j) : undefined;
        if (u) this.req.tokens(u);
      } catch {
        // not JSON after all: no tokens
      }
      this.chunks = undefined;
    }
    this.req.succeed();
  }
}

/** Server-sent events of a streamed completion. */
export class SseObserver implements Observer {
  private readonly decoder = new TextDecoder();
  private buf = '';
  private skipping = false;
  private seenData = false;
  private input: number | undefined;
  private output: number | undefined;
  private streamError: { code: string; message: string } | undefined;

  constructor(private readonly req: ModelRequest) {}

  chunk(bytes: Uint8Array): void {
    this.feed(this.decoder.decode(bytes, { stream: true }));
  }

  private feed(text: string): void {
    const s = this.buf + text;
    let start = 0;
    let i: number;
    while ((i = s.indexOf('\n', start)) !== -1) {
      if (this.skipping) this.skipping = false;
      else this.line(s.charCodeAt(i - 1) === 13 ? s.slice(start, i - 1) : s.slice(start, i));
      start = i + 1;
    }
    this.buf = s.slice(start);
    if (this.buf.length > MAX_LINE) {
      this.buf = '';
      this.skipping = true;
    }
  }

  private line(line: string): void {
    if (!line.startsWith('data:')) return;
    const payload = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
    if (payload === '[DONE]' || payload === '') return;
    if (!this.seenData) {
      this.seenData = true;
      this.req.firstToken();
    }
    const hasUsage = payload.includes('"usage');
    const hasError = payload.includes('"error"');
    if (!hasUsage && !hasError) return;
    let j: unknown;
    try {
      j = JSON.parse(payload);
    } catch {
      return;
    }
    if (!isObject(j)) return;
    const u = usageOf(j);
    if (u) {
      if (u.input !== undefined) this.input = u.input;
      if (u.output !== undefined) this.output = u.output;
    }
    if (isObject(j.error) && j.choices === undefined) {
      const e = j.error;
      const code = e.code ?? e.type ?? 'stream_error';
      this.streamError = { code: String(code), message: typeof e.message === 'string' ? e.message : '' };
    }
  }

  end(): void {
    this.feed(this.decoder.decode());
    if (this.buf !== '' && !this.skipping) this.line(this.buf);
    this.buf = '';
    if (this.input !== undefined || this.output !== undefined) this.req.tokens({ input: this.input, output: this.output });
    if (this.streamError) this.req.fail(this.streamError);
    else this.req.succeed();
  }
}

// A response dropped without reading or cancelling its body would keep its request in flight (and the
// upstream connection open) forever: once it is garbage-collected, the request is aborted and the upstream
// body cancelled.
const dropped = new FinalizationRegistry<{ req: ModelRequest; upstream: ReadableStreamDefaultReader<Uint8Array> }>(({ req, upstream }) => {
  if (req.ended) return;
  logOnce('gateway:dropped-body', 'warn', 'a model response body was dropped without being read or cancelled; its request is counted as aborted');
  req.abort();
  upstream.cancel().catch(() => {});
});

function passThrough(res: Response, req: ModelRequest, observer: Observer, signal: AbortSignal | undefined): Response {
  const reader = res.body!.getReader();
  const guarded = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      logOnce('gateway:observer', 'warn', `reading a model response for metrics failed: ${String(e)}`);
    }
  };
  const out = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let r: Awaited<ReturnType<typeof reader.read>>;
        try {
          r = await reader.read();
        } catch (e) {
          guarded(() => endWithThrown(req, e, signal, 'stream_error', true));
          controller.error(e);
          return;
        }
        if (r.done) {
          guarded(() => observer.end());
          if (!req.ended) req.succeed();
          controller.close();
          return;
        }
        guarded(() => observer.chunk(r.value));
        controller.enqueue(r.value);
      },
      cancel(reason) {
        req.abort();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  dropped.register(out, { req, upstream: reader });
  const wrapped = new Response(out, { status: res.status, statusText: res.statusText, headers: res.headers });
  for (const k of ['url', 'redirected', 'type'] as const) {
    Object.defineProperty(wrapped, k, { value: res[k], enumerable: true, configurable: true });
  }
  return wrapped;
}

/** The message of an upstream error body: error.message (OpenAI), error (string), message, detail; else the status text. */
async function upstreamErrorMessage(res: Response, timeoutMs: number): Promise<string> {
  const fallback = res.statusText || `HTTP ${res.status}`;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    reader = res.clone().body?.getReader();
  } catch {
    return fallback;
  }
  if (!reader) return fallback;
  const chunks: Uint8Array[] = [];
  let size = 0;
  const timer = setTimeout(() => void reader.cancel().catch(() => {}), timeoutMs);
  try {
    while (size < MAX_ERROR_BODY) {
      const r = await reader.read();
      if (r.done) break;
      chunks.push(r.value);
      size += r.value.byteLength;
    }
  } catch {
    // cut or cancelled: use what arrived
  } finally {
    clearTimeout(timer);
    void reader.cancel().catch(() => {});
  }
  try {
    const j: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (isObject(j)) {
      const e = j.error;
      const m = isObject(e) ? e.message : typeof e === 'string' ? e : (j.message ?? j.detail);
      if (typeof m === 'string' && m.trim() !== '') return m;
    }
  } catch {
    // not JSON
  }
  return fallback;
}

function signalOf(input: unknown, init: RequestInit | undefined): AbortSignal | undefined {
  if (init?.signal) return init.signal;
  return input instanceof Request ? input.signal : undefined;
}

/** fetch(input, init) counted as one model request of meta. */
export async function observedFetch(deps: FetchDeps, meta: ModelRequestMeta, input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const f = deps.fetchImpl ?? globalThis.fetch;
  const body = requestJson(init?.body);
  const model = meta?.model ?? (typeof body?.model === 'string' ? body.model : undefined);
  const streamRequested = body?.stream === true;
  const req = deps.start({ ...meta, model });
  const signal = signalOf(input, init);
  let res: Response;
  try {
    res = await f(input, init);
  } catch (e) {
    endWithThrown(req, e, signal, 'fetch_error');
    throw e;
  }
  try {
    if (res.status >= 400) {
      req.fail({ code: res.status, message: await upstreamErrorMessage(res, deps.errorBodyTimeoutMs) });
      return res;
    }
    if (!res.body) {
      req.succeed();
      return res;
    }
    const type = (res.headers.get('content-type') ?? '').toLowerCase();
    const observer = type.includes('text/event-stream') || (streamRequested && !type.includes('json'))
      ? new SseObserver(req)
      : type.includes('json')
        ? new JsonObserver(req, deps.maxJsonBytes)
        : new PlainObserver(req);
    return passThrough(res, req, observer, signal);
  } catch (e) {
    logOnce('gateway:fetch-wrap', 'warn', `measuring a model response failed (${String(e)}); it is passed through unmeasured`);
    if (!req.ended) req.succeed();
    return res;
  }
}
