// POST /v1/chat/completions: the gateway's main path, as one-api / New API relay it.
//   1. charge the model's price (credits, in a PostgreSQL transaction);
//   2. pick an enabled channel serving the model, by weight;
//   3. call its upstream through @vigil/gateway's fetch, which records
//      new_api_model_requests_total, the duration, errors with a normalised
//      message, in-flight requests, tokens and time to first token;
//   4. on a 429 / 5xx / timeout / refused connection, try another channel;
//   5. stream or return the answer; refund when no channel could answer.
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { GatewayMetrics } from '@vigil/gateway';
import { openAiError } from './auth';
import type { Channel, ChannelRegistry } from './channels';
import type { DemoConfig } from './config';
import { InsufficientCreditsError, type CreditLedger } from './db';
import { MODEL_PRICES } from './products';

interface Failure {
  status: number;
  message: string;
  type: string;
  code: string;
}

function upstreamMessage(text: string, fallback: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    if (typeof body.error === 'object' && typeof body.error?.message === 'string') return body.error.message;
    if (typeof body.error === 'string') return body.error;
    if (typeof body.message === 'string') return body.message;
  } catch {
    // not JSON
  }
  return fallback;
}

/** Waits until the response can take more data, or the client is gone. */
async function drained(res: Response): Promise<void> {
  if (res.destroyed) return;
  await Promise.race([once(res, 'drain'), once(res, 'close')]);
}

export function chatCompletions(config: DemoConfig, registry: ChannelRegistry, gateway: GatewayMetrics, ledger: CreditLedger) {
  return async function relay(req: Request, res: Response): Promise<void> {
    const user = req.user!;
    const body = req.body as { model?: unknown; messages?: unknown; stream?: unknown; stream_options?: Record<string, unknown> } | undefined;
    if (!body || typeof body !== 'object' || typeof body.model !== 'string' || !Array.isArray(body.messages) || body.messages.length === 0) {
      return openAiError(res, 400, "'model' and a non-empty 'messages' array are required.", 'invalid_request_error', 'invalid_request');
    }
    const model = body.model;
    if (!registry.models().includes(model)) {
      return openAiError(res, 404, `The model \`${model.slice(0, 80)}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found');
    }
    const price = MODEL_PRICES[model] ?? 1;
    const reference = `chat:${randomBytes(8).toString('hex')}`;
    try {
      const { credit } = await ledger.consume(user, price, reference);
      res.setHeader('x-credits-remaining', String(credit));
    } catch (e) {
      if (e instanceof InsufficientCreditsError) {
        return openAiError(res, 402, `Insufficient credits: this request costs ${price}. Buy more with POST /api/credits/purchase.`, 'insufficient_quota', 'insufficient_quota');
      }
      throw e;
    }

    const clientGone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) clientGone.abort();
    });
    const stream = body.stream === true;
    // Ask for the usage chunk of streamed answers, as New API does, so tokens are counted.
    const upstreamBody = JSON.stringify(stream ? { ...body, stream_options: { ...body.stream_options, include_usage: true } } : body);
    const refund = () => ledger.refund(user, price, reference).catch((e: Error) => console.error(`ai-gateway: refund failed: ${e.message}`));

    const tried = new Set<number>();
    let last: Failure = { status: 503, message: `No available channel for model ${model}.`, type: 'server_error', code: 'no_available_channel' };
    for (let attempt = 0; attempt <= config.maxRetries && !clientGone.signal.aborted; attempt++) {
      const channel = registry.pick(model, tried);
      if (!channel) break;
      tried.add(channel.id);
      const signal = AbortSignal.any([clientGone.signal, AbortSignal.timeout(config.upstreamTimeoutMs)]);
      let upstream: globalThis.Response;
      try {
        upstream = await gateway.fetch(channel.meta, `${channel.upstream.baseUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer upstream-key-${channel.id}` },
          body: upstreamBody,
          signal,
        });
      } catch (e) {
        if (clientGone.signal.aborted) break;
        registry.record(channel, false);
        const timedOut = (e as Error)?.name === 'TimeoutError';
        last = timedOut
          ? { status: 504, message: 'The upstream did not answer in time.', type: 'upstream_error', code: 'upstream_timeout' }
          : { status: 502, message: 'The upstream could not be reached.', type: 'upstream_error', code: 'upstream_unreachable' };
        continue;
      }
      if (!upstream.ok) {
        registry.record(channel, false);
        const text = await upstream.text().catch(() => '');
        last = {
          status: upstream.status === 429 ? 429 : 502,
          message: upstreamMessage(text, upstream.statusText || `upstream answered ${upstream.status}`),
          type: upstream.status === 429 ? 'requests' : 'upstream_error',
          code: upstream.status === 429 ? 'rate_limit_exceeded' : 'bad_upstream_response',
        };
        continue;
      }
      if (await deliver(upstream, channel, res, stream, clientGone.signal, registry)) return;
      // The answer broke after it started: nothing can be retried, the charge is refunded.
      await refund();
      return;
    }
    await refund();
    if (clientGone.signal.aborted || res.headersSent) return;
    openAiError(res, last.status, last.message, last.type, last.code);
  };
}

/** Sends a successful upstream answer to the client. False when it broke in the middle. */
async function deliver(
  upstream: globalThis.Response,
  channel: Channel,
  res: Response,
  stream: boolean,
  clientGone: AbortSignal,
  registry: ChannelRegistry,
): Promise<boolean> {
  if (!stream) {
    let text: string;
    try {
      text = await upstream.text();
    } catch {
      if (!clientGone.aborted) registry.record(channel, false);
      if (!res.headersSent && !clientGone.aborted) openAiError(res, 502, 'The upstream answer was cut.', 'upstream_error', 'bad_upstream_response');
      return false;
    }
    registry.record(channel, true);
    res.status(200).type('application/json').send(text);
    return true;
  }

  res.status(200);
  res.setHeader('content-type', 'text/event-stream; charset=utf-8');
  res.setHeader('cache-control', 'no-cache');
  res.flushHeaders();
  const reader = upstream.body!.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await drained(res);
      if (res.destroyed) {
        await reader.cancel();
        return true; // the client left; the gateway counts the request as aborted
      }
    }
  } catch {
    if (clientGone.aborted) return true; // the client left: not the channel's fault
    registry.record(channel, false);
    res.end(`data: ${JSON.stringify({ error: { message: 'The upstream stream was interrupted.', type: 'upstream_error', code: 'stream_error' } })}\n\n`);
    return false;
  }
  registry.record(channel, true);
  res.end();
  return true;
}

/** Sends one small completion through a channel (one-api's channel test). */
export async function testChannel(channel: Channel, gateway: GatewayMetrics, timeoutMs: number): Promise<boolean> {
  try {
    const res = await gateway.fetch(channel.meta, `${channel.upstream.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer upstream-key-${channel.id}` },
      body: JSON.stringify({ model: channel.def.models[0], messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.text();
    return res.ok;
  } catch {
    return false;
  }
}
