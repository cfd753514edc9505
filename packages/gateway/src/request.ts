// One upstream model call: in flight from start to its single end.
import type { Counter, Histogram, UpDownCounter } from '@opentelemetry/api';
import {
  logOnce,
  type AttributesOf,
  type newApiActiveRequests,
  type newApiModelInputTokensTotal,
  type newApiModelOutputTokensTotal,
  type newApiModelRequestDurationSeconds,
  type newApiModelRequestErrorsTotal,
  type newApiModelRequestsTotal,
  type newApiModelTimeToFirstTokenSeconds,
} from '@vigil/catalog';
import { nowMs } from '@vigil/catalog/clock';
import type { ModelFailure, ModelRequest, TokenUsage } from './types';

/** The instruments and label helpers a request records into. */
export interface RequestSink {
  active: UpDownCounter<AttributesOf<typeof newApiActiveRequests>>;
  requests: Counter<AttributesOf<typeof newApiModelRequestsTotal>>;
  duration: Histogram<AttributesOf<typeof newApiModelRequestDurationSeconds>>;
  errors: Counter<AttributesOf<typeof newApiModelRequestErrorsTotal>>;
  inputTokens: Counter<AttributesOf<typeof newApiModelInputTokensTotal>>;
  outputTokens: Counter<AttributesOf<typeof newApiModelOutputTokensTotal>>;
  ttft: Histogram<AttributesOf<typeof newApiModelTimeToFirstTokenSeconds>>;
  /** error_code and error_message of a failure, bounded. */
  failure(channelId: string, model: string, failure: unknown): { code: string; message: string };
}

/** Labels shared by every gateway metric of one request, in the catalog's order. */
export interface BaseAttributes {
  channel_id: string;
  channel_name: string;
  channel_type: string;
  model_name: string;
  site_id: string;
}

function guard(what: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    logOnce(`gateway:failed:${what}`, 'warn', `recording ${what} failed: ${String(e)}`);
  }
}

function tokenCount(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

export class ModelRequestImpl implements ModelRequest {
  private done = false;
  private sawFirstToken = false;
  private readonly start = nowMs();

  constructor(
    private readonly sink: RequestSink,
    private readonly attrs: BaseAttributes,
  ) {
    guard('active request', () => sink.active.add(1, attrs));
  }

  get model(): string {
    return this.attrs.model_name;
  }
  get ended(): boolean {
    return this.done;
  }

  private seconds(): number {
    return (nowMs() - this.start) / 1000;
  }

  firstToken(): void {
    if (this.done || this.sawFirstToken) return;
    this.sawFirstToken = true;
    guard('time to first token', () => this.sink.ttft.record(this.seconds(), this.attrs));
  }

  tokens(usage: TokenUsage): void {
    guard('tokens', () => {
      const input = tokenCount(usage?.input);
      const output = tokenCount(usage?.output);
      if (input !== undefined && input > 0) this.sink.inputTokens.add(input, this.attrs);
      if (output !== undefined && output > 0) this.sink.outputTokens.add(output, this.attrs);
    });
  }

  succeed(): void {
    this.end('success');
  }

  fail(failure?: ModelFailure | unknown): void {
    this.end('error', failure);
  }

  abort(): void {
    this.end('aborted');
  }

  private end(status: 'success' | 'error' | 'aborted', failure?: unknown): void {
    if (this.done) return;
    this.done = true;
    const a = this.attrs;
    // In-flight first: whatever else fails, the gauge goes back down.
    guard('active request', () => this.sink.active.add(-1, a));
    guard('model request', () => {
      const f = status === 'error' ? this.sink.failure(a.channel_id, a.model_name, failure) : undefined;
      this.sink.requests.add(1, {
        channel_id: a.channel_id,
        channel_name: a.channel_name,
        channel_type: a.channel_type,
        model_name: a.model_name,
        status,
        error_code: f?.code ?? '',
        site_id: a.site_id,
      });
      if (status !== 'aborted') this.sink.duration.record(this.seconds(), a);
      if (f) {
        this.sink.errors.add(1, {
          channel_id: a.channel_id,
          channel_name: a.channel_name,
          channel_type: a.channel_type,
          model_name: a.model_name,
          error_code: f.code,
          error_message: f.message,
          site_id: a.site_id,
        });
      }
    });
  }
}
