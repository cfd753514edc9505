import { metrics, type Meter } from '@opentelemetry/api';
import {
  createCounter,
  createHistogram,
  createUpDownCounter,
  leanRegistry,
  logOnce,
  newApiActiveRequests,
  newApiModelInputTokensTotal,
  newApiModelOutputTokensTotal,
  newApiModelRequestDurationSeconds,
  newApiModelRequestErrorsTotal,
  newApiModelRequestsTotal,
  newApiModelTimeToFirstTokenSeconds,
  numberSetting,
  stringSetting,
} from '@vigil/catalog';
import { channelBoard, statusCode } from './channels';
import { endWithThrown, observedFetch, type FetchDeps } from './fetch';
import { BoundedValues, nameValue } from '@vigil/catalog';
import { codeValue, normalizeErrorMessage } from './labels';
import { ModelRequestImpl, type BaseAttributes, type RequestSink } from './request';
import type { ChannelInfo, ChannelStatus, GatewayMetricsOptions, ModelRequest, ModelRequestMeta, TrackOptions } from './types';
import { VERSION } from './version';

export const SCOPE = '@vigil/gateway';

/** What failed, from a { code, message } or anything thrown: HTTP status first (the seed's error_code), then a code. */
function describe(failure: unknown): { code: unknown; message: unknown } {
  if (failure === undefined || failure === null) return { code: 'unknown', message: '' };
  if (typeof failure !== 'object') return { code: 'unknown', message: String(failure) };
  const f = failure as {
    status?: unknown;
    statusCode?: unknown;
    code?: unknown;
    message?: unknown;
    name?: unknown;
    error?: { code?: unknown; message?: unknown };
    cause?: { code?: unknown };
  };
  const code = f.status ?? f.statusCode ?? f.code ?? f.error?.code ?? f.cause?.code ?? (f.name === 'TimeoutError' ? 'timeout' : failure instanceof Error ? 'exception' : 'unknown');
  return { code, message: f.message ?? f.error?.message ?? '' };
}

/**
 * The AI-gateway metrics of seed 000 (new_api_*), plus tokens and time to first token.
 * Nothing here throws into the gateway.
 */
export class GatewayMetrics {
  /** The `site_id` label value. */
  readonly siteId: string;
  private readonly sink: RequestSink;
  private readonly board: ReturnType<typeof channelBoard>;
  private readonly channels = new BoundedValues('channel_id', 1000);
  private readonly models: BoundedValues;
  private readonly messages: BoundedValues;
  private readonly codes = new BoundedValues('error_code', 100);
  private readonly messageLength: number;
  private readonly attrs = new Map<string, BaseAttributes>();
  private readonly deps: FetchDeps;

  constructor(options: GatewayMetricsOptions = {}) {
    const meter: Meter = options.meter ?? (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE, VERSION);
    this.siteId = nameValue(stringSetting('SITE_ID', options.siteId, 'default'), 'default', 64);
    this.messageLength = numberSetting('VIGIL_GATEWAY_ERROR_MESSAGE_LENGTH', options.errorMessageLength, 100, { min: 8, max: 1000, integer: true });
    this.messages = new BoundedValues('error_message', numberSetting('VIGIL_GATEWAY_MAX_ERROR_MESSAGES', options.maxErrorMessages, 20, { min: 1, integer: true }));
    this.models = new BoundedValues('model_name', numberSetting('VIGIL_GATEWAY_MAX_MODELS_PER_CHANNEL', options.maxModelsPerChannel, 100, { min: 1, integer: true }));
    this.board = channelBoard(options.registry ?? leanRegistry());
    this.sink = {
      active: createUpDownCounter(meter, newApiActiveRequests),
      requests: createCounter(meter, newApiModelRequestsTotal),
      duration: createHistogram(meter, newApiModelRequestDurationSeconds),
      errors: createCounter(meter, newApiModelRequestErrorsTotal),
      inputTokens: createCounter(meter, newApiModelInputTokensTotal),
      outputTokens: createCounter(meter, newApiModelOutputTokensTotal),
      ttft: createHistogram(meter, newApiModelTimeToFirstTokenSeconds),
      failure: (channelId, model, failure) => {
        const d = describe(failure);
        return {
          code: this.codes.get(codeValue(d.code)),
          message: this.messages.get(normalizeErrorMessage(d.message, this.messageLength), `${channelId}\u0000${model}`),
        };
      },
    };
    this.deps = {
      start: (meta) => this.startRequest(meta),
      fetchImpl: options.fetch,
      maxJsonBytes: numberSetting('VIGIL_GATEWAY_MAX_JSON_BYTES', options.maxJsonBytes, 1 << 20, { min: 0, integer: true }),
      errorBodyTimeoutMs: numberSetting('VIGIL_GATEWAY_ERROR_BODY_TIMEOUT_MS', options.errorBodyTimeoutMs, 2000, { min: 0 }),
    };
  }

  private attributes(meta: ModelRequestMeta | undefined): BaseAttributes {
    const channelId = this.channels.get(nameValue(meta?.channelId, 'unknown', 64));
    const channelName = nameValue(meta?.channelName, 'unknown', 100);
    const channelType = nameValue(meta?.channelType, 'unknown', 64);
    const model = this.models.get(nameValue(meta?.model, 'unknown', 100), channelId);
    const key = `${channelId}\u0000${channelName}\u0000${channelType}\u0000${model}`;
    let a = this.attrs.get(key);
    if (a === undefined) {
      a = { channel_id: channelId, channel_name: channelName, channel_type: channelType, model_name: model, site_id: this.siteId };
      if (this.attrs.size < 10_000) this.attrs.set(key, a);
    }
    return a;
  }

  /**
   * Starts one upstream model call: new_api_active_requests += 1 until the request ends (succeed / fail /
   * abort, exactly once). Prefer {@link track} or {@link fetch}, which always end it.
   */
  startRequest(meta: ModelRequestMeta): ModelRequest {
    let a: BaseAttributes;
    try {
      a = this.attributes(meta);
    } catch (e) {
      logOnce('gateway:meta', 'warn', `bad model request labels (${String(e)}); counting it under "unknown"`);
      a = { channel_id: 'unknown', channel_name: 'unknown', channel_type: 'unknown', model_name: 'unknown', site_id: this.siteId };
    }
    return new ModelRequestImpl(this.sink, a);
  }

  /**
   * Runs fn as one model call and guarantees it ends: success when fn returns (unless fn ended it
   * itself), abort when fn throws while options.signal is aborted (or with an AbortError), error otherwise.
   * fn's result and exception pass through.
   */
  async track<T>(meta: ModelRequestMeta, fn: (request: ModelRequest) => T | Promise<T>, options: TrackOptions = {}): Promise<T> {
    const req = this.startRequest(meta);
    try {
      const value = await fn(req);
      if (!req.ended) req.succeed();
      return value;
    } catch (e) {
      if (!req.ended) {
        const status = (e as { status?: unknown } | null)?.status ?? (e as { statusCode?: unknown } | null)?.statusCode;
        if (typeof status === 'number') req.fail(e);
        else endWithThrown(req, e, options.signal, 'exception');
      }
      throw e;
    }
  }

  /**
   * fetch() to an OpenAI-compatible upstream, measured as one model call. The model is meta.model or the
   * JSON body's `model`; the request ends when the response body ends, fails or is cancelled; usage and
   * time to first token come from the JSON body or the SSE stream. The caller gets the upstream's bytes.
   */
  fetch(meta: ModelRequestMeta, input: string | URL | Request, init?: RequestInit): Promise<Response> {
    return observedFetch(this.deps, meta, input, init);
  }

  /** new_api_channel_status of a channel: 1 enabled, 2 manually disabled, 3 auto disabled, 4 deleted. One series per channel. */
  setChannelStatus(channel: ChannelInfo, status: ChannelStatus): void {
    try {
      const code = statusCode(status);
      if (code === undefined) {
        // One line for the first bad status: a key per value would log every distinct bad value.
        logOnce('gateway:channel-status', 'warn', `channel status ${String(status).slice(0, 40)} is not 1-4 or enabled / manually_disabled / auto_disabled / deleted; ignored (said once)`);
        return;
      }
      const id = nameValue(channel?.channelId, 'unknown', 64);
      this.board.set(this, this.siteId, id, nameValue(channel?.channelName, 'unknown', 100), nameValue(channel?.channelType, 'unknown', 64), code);
    } catch (e) {
      logOnce('gateway:channel-status-failed', 'warn', `recording a channel status failed: ${String(e)}`);
    }
  }

  /** Removes a channel's new_api_channel_status series altogether. */
  removeChannel(channelId: string | number): void {
    this.board.remove(this.siteId, nameValue(channelId, 'unknown', 64));
  }

  /** Removes this instance's channel status series. Requests still in flight are unaffected. */
  shutdown(): void {
    this.board.removeOwner(this);
  }
}

/** A GatewayMetrics instance of its own. */
export function createGatewayMetrics(options?: GatewayMetricsOptions): GatewayMetrics {
  return new GatewayMetrics(options);
}
