import { createHash } from 'node:crypto';
import type { FailureReason, Logger, TargetConfig, WebhookPayload } from './internal-types';
import { DeliveryLedger } from './ledger';
import { RateLimitedQueue } from './queue';
import { createAdapter, type ServiceAdapter, type ServiceVerdict } from './services';
import { splitMessage, type Part } from './split';
import { renderMessage } from './template';
import type { TemplateLanguage } from './types';

/** What happened to one message of a notification. */
export type PartOutcome =
  | { outcome: 'sent'; part: number; total: number }
  | { outcome: 'skipped'; part: number; total: number; reason: 'duplicate' }
  | { outcome: 'failed'; part: number; total: number; reason: FailureReason; detail: string };

export interface TargetDeps {
  requestTimeoutMs: number;
  dedupeTtlMs: number;
  dedupeMaxEntries: number;
  language: TemplateLanguage;
  timeZone: string;
  log: Logger;
  /** Counts one message's outcome (metrics). */
  count(target: TargetConfig, outcome: 'sent' | 'failed' | 'skipped', reason: string): void;
}

/** One chat robot: renders, splits, queues, signs and posts messages to it. */
export class Target {
  readonly queue: RateLimitedQueue;
  private readonly ledger: DeliveryLedger<ServiceVerdict>;
  private readonly adapter: ServiceAdapter;

  constructor(
    readonly config: TargetConfig,
    private readonly deps: TargetDeps,
  ) {
    this.adapter = createAdapter(config);
    this.queue = new RateLimitedQueue(config.rateLimits, config.queueCapacity);
    this.ledger = new DeliveryLedger(deps.dedupeTtlMs, deps.dedupeMaxEntries);
  }

  /** Renders the notification into messages within this service's size limit. */
  render(payload: WebhookPayload): { parts: Part[]; severity: string } {
    const c = this.config;
    const mention = c.type === 'dingtalk' && c.atMobiles.length > 0 ? c.atMobiles.map((m) => `@${m}`).join(' ') : undefined;
    const rendered = renderMessage(payload, {
      language: this.deps.language,
      timeZone: this.deps.timeZone,
      style: this.adapter.style,
      titlePrefix: c.titlePrefix,
      ...(mention ? { mentionLine: mention } : {}),
    });
    return { parts: splitMessage(rendered, this.adapter.shape), severity: rendered.severity };
  }

  /**
   * Delivers every message of one notification. Resolves when each has been
   * delivered, skipped as already delivered, or failed — or when `deadline`
   * fires, in which case the messages still waiting count as failed (timeout)
   * but stay queued: if they are delivered later, the retry skips them.
   */
  async deliver(payload: WebhookPayload, deadline: AbortSignal): Promise<PartOutcome[]> {
    const { parts, severity } = this.render(payload);
    return Promise.all(parts.map((part) => this.deliverPart(payload, part, severity, deadline)));
  }

  private async deliverPart(payload: WebhookPayload, part: Part, severity: string, deadline: AbortSignal): Promise<PartOutcome> {
    const base = { part: part.index, total: part.total };
    const key = createHash('sha256').update(`${payload.groupKey}\n${payload.status}\n${part.title}\n${part.content}`).digest('base64url');
    if (this.ledger.isDelivered(key)) {
      this.deps.count(this.config, 'skipped', 'duplicate');
      return { ...base, outcome: 'skipped', reason: 'duplicate' };
    }
    let attempt = this.ledger.pending(key);
    const joined = attempt !== undefined;
    if (!attempt) {
      attempt = this.queue.push(() => this.send(part, severity, payload.status));
      if (!attempt) {
        this.deps.count(this.config, 'failed', 'queue_full');
        return { ...base, outcome: 'failed', reason: 'queue_full', detail: `queue full (${this.config.queueCapacity} messages waiting)` };
      }
      this.ledger.track(key, attempt, (v) => v.ok);
    }
    const verdict = await raceDeadline(attempt, deadline);
    if (verdict === undefined) {
      this.deps.count(this.config, 'failed', 'timeout');
      return { ...base, outcome: 'failed', reason: 'timeout', detail: `not delivered within the delivery timeout (queue depth ${this.queue.depth})` };
    }
    if (verdict.ok) {
      // A retry that waited for the first attempt's message did not send it again.
      if (joined) {
        this.deps.count(this.config, 'skipped', 'duplicate');
        return { ...base, outcome: 'skipped', reason: 'duplicate' };
      }
      return { ...base, outcome: 'sent' };
    }
    return { ...base, outcome: 'failed', reason: verdict.reason, detail: verdict.detail };
  }

  /** One HTTP request to the service; the signature is made now, not when queued. */
  private async send(part: Part, severity: string, status: 'firing' | 'resolved'): Promise<ServiceVerdict> {
    const c = this.config;
    const started = Date.now();
    const req = this.adapter.build(part, severity, status, started);
    let verdict: ServiceVerdict;
    try {
      const res = await fetch(req.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: req.body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.deps.requestTimeoutMs),
      });
      const text = await readLimited(res, 64 * 1024);
      verdict = this.adapter.interpret(res.status, text);
    } catch (err) {
      verdict = networkVerdict(err, this.deps.requestTimeoutMs);
    }
    const fields = { target: c.name, type: c.type, part: part.index, parts: part.total, bytes: Buffer.byteLength(req.body), duration_ms: Date.now() - started };
    if (verdict.ok) {
      this.deps.count(c, 'sent', 'ok');
      this.deps.log('debug', 'message delivered', fields);
    } else {
      this.deps.count(c, 'failed', verdict.reason);
      this.deps.log('warn', 'message not delivered', { ...fields, reason: verdict.reason, detail: verdict.detail });
      if (verdict.reason === 'rate_limited') this.queue.block(c.cooldownMs);
    }
    return verdict;
  }
}

function raceDeadline<T>(p: Promise<T>, deadline: AbortSignal): Promise<T | undefined> {
  if (deadline.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve) => {
    const onAbort = (): void => resolve(undefined);
    deadline.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        deadline.removeEventListener('abort', onAbort);
        resolve(v);
      },
      () => {
        deadline.removeEventListener('abort', onAbort);
        resolve(undefined);
      },
    );
  });
}

function networkVerdict(err: unknown, timeoutMs: number): ServiceVerdict {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
    return { ok: false, reason: 'timeout', detail: `no answer within ${timeoutMs} ms` };
  }
  // Only the error code: messages may quote the URL, which carries the robot's credential.
  const code = e?.cause?.code ?? e?.name ?? 'error';
  return { ok: false, reason: 'network', detail: `request failed: ${code}` };
}

async function readLimited(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= max) {
      await reader.cancel();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}
