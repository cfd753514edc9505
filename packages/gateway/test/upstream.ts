// A local OpenAI-compatible mock upstream for the gateway tests.
// POST /v1/chat/completions?mode=<mode>:
//   ok            200 JSON with usage
//   stream        200 SSE: role chunk, 3 content chunks, usage chunk (stream_options.include_usage), [DONE]
//   429           429 JSON error (OpenAI's rate-limit message shape)
//   500           500 JSON error with a request id
//   503html       503 HTML page
//   cut           200 SSE, two chunks, then the socket is destroyed
//   stream-error  200 SSE with an error event
//   hang          never answers (for aborts before the headers)
//   hang-body     SSE headers and one chunk, then silence (for aborts mid-stream)
//   reset         destroys the socket before answering
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export const RATE_LIMIT_MESSAGE =
  'Rate limit reached for gpt-4o in organization org-abc123XYZ on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more.';

export function streamChunks(model: string): string[] {
  const chunk = (delta: object, extra: object = {}) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-123', object: 'chat.completion.chunk', model, choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;
  return [
    chunk({ role: 'assistant', content: '' }),
    chunk({ content: 'Hello' }),
    chunk({ content: ', ' }),
    chunk({ content: 'world' }),
    `data: ${JSON.stringify({ id: 'chatcmpl-123', object: 'chat.completion.chunk', model, choices: [], usage: { prompt_tokens: 19, completion_tokens: 3, total_tokens: 22 } })}\n\n`,
    'data: [DONE]\n\n',
  ];
}

export interface Upstream {
  url: string;
  server: Server;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function body(req: IncomingMessage): Promise<{ model?: string; stream?: boolean }> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return {};
  }
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const mode = new URL(req.url ?? '/', 'http://x').searchParams.get('mode') ?? 'ok';
  const b = await body(req);
  const model = b.model ?? 'unknown';
  const sse = () => res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  switch (mode) {
    case 'ok':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', model, choices: [{ index: 0, message: { role: 'assistant', content: 'hi' } }], usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 } }));
      return;
    case 'stream': {
      sse();
      for (const c of streamChunks(model)) {
        res.write(c);
        await sleep(2);
      }
      res.end();
      return;
    }
    case '429':
      res.writeHead(429, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: RATE_LIMIT_MESSAGE, type: 'requests', code: 'rate_limit_exceeded' } }));
      return;
    case '500':
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `The server had an error while processing your request. Sorry about that! (request id: req_${Math.random().toString(16).slice(2, 14)})` } }));
      return;
    case '503html':
      res.writeHead(503, { 'content-type': 'text/html' });
      res.end('<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>');
      return;
    case 'cut': {
      sse();
      const chunks = streamChunks(model);
      res.write(chunks[0]);
      res.write(chunks[1]);
      await sleep(5);
      res.socket?.destroy();
      return;
    }
    case 'stream-error':
      sse();
      res.write(streamChunks(model)[0]);
      res.write(`data: ${JSON.stringify({ error: { message: 'The engine is currently overloaded, please try again later', type: 'server_error', code: 'overloaded' } })}\n\n`);
      res.end('data: [DONE]\n\n');
      return;
    case 'hang':
      return; // never answers; the socket is destroyed by close()
    case 'hang-body':
      sse();
      res.write(streamChunks(model)[0]);
      return;
    case 'reset':
      req.socket.destroy();
      return;
    default:
      res.writeHead(404).end();
  }
}

export async function startUpstream(): Promise<Upstream> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.socket?.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/chat/completions`,
    server,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
