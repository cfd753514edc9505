import type { Meter, MeterProvider } from '@opentelemetry/api';
import type { LeanRegistry } from '@vigil/catalog';

/** Options of {@link createGatewayMetrics}. Settings resolve: this option, then the environment variable, then the default. */
export interface GatewayMetricsOptions {
  /**
   * The meter the instruments are created from.
   * @default meterProvider.getMeter('@vigil/gateway', version), else the global provider's (the one @vigil/node registers)
   */
  meter?: Meter;
  /**
   * The meter provider to take the meter from (tests: `inProcessMetrics().meterProvider`).
   * @default the global meter provider from @opentelemetry/api
   */
  meterProvider?: MeterProvider;
  /**
   * Where `new_api_channel_status` lives: vigil's lean registry, whose series can be replaced, so a channel
   * has one series whatever its status history (an OTel observable gauge keeps every label set it ever saw).
   * @default leanRegistry() (the process-wide one @vigil/node hands to its readers)
   */
  registry?: LeanRegistry;
  /**
   * `site_id` label of every gateway metric. Env `SITE_ID` (as the seed).
   * @default 'default'
   */
  siteId?: string;
  /**
   * Distinct `error_message` values kept per channel and model; later new messages are recorded as "other".
   * Env `VIGIL_GATEWAY_MAX_ERROR_MESSAGES`.
   * @default 20
   */
  maxErrorMessages?: number;
  /**
   * Longest `error_message`, in characters, after normalisation. Env `VIGIL_GATEWAY_ERROR_MESSAGE_LENGTH`.
   * @default 100
   */
  errorMessageLength?: number;
  /**
   * Distinct `model_name` values kept per channel; later new models are recorded as "other".
   * Env `VIGIL_GATEWAY_MAX_MODELS_PER_CHANNEL`.
   * @default 100
   */
  maxModelsPerChannel?: number;
  /**
   * The fetch that {@link GatewayMetrics.fetch} wraps.
   * @default globalThis.fetch
   */
  fetch?: typeof fetch;
  /**
   * Largest non-streamed JSON response read for its `usage`; larger bodies pass through without token counts.
   * Env `VIGIL_GATEWAY_MAX_JSON_BYTES`.
   * @default 1048576 (1 MiB)
   */
  maxJsonBytes?: number;
  /**
   * How long to wait for the body of a non-2xx upstream answer (for its `error.message`) before the response
   * is handed to the caller; after it the message is the status text. Env `VIGIL_GATEWAY_ERROR_BODY_TIMEOUT_MS`.
   * @default 2000
   */
  errorBodyTimeoutMs?: number;
}

/** Which upstream channel and model a request goes to. */
export interface ModelRequestMeta {
  /** Channel id (New API's channel id). */
  channelId: string | number;
  /** Channel name. @default 'unknown' */
  channelName?: string;
  /** Channel type (openai, azure, anthropic, or New API's numeric type). @default 'unknown' */
  channelType?: string | number;
  /** Model name. @default for fetch: the `model` of the JSON request body; else 'unknown' */
  model?: string;
}

/** A channel as `setChannelStatus` takes it. */
export interface ChannelInfo {
  /** Channel id: one series per channel id. */
  channelId: string | number;
  /** Channel name. @default 'unknown' */
  channelName?: string;
  /** Channel type. @default 'unknown' */
  channelType?: string | number;
}

/** The seed's channel status codes, by code or by name. */
export type ChannelStatus = 1 | 2 | 3 | 4 | 'enabled' | 'manually_disabled' | 'auto_disabled' | 'deleted';

/** What failed: an upstream HTTP status or an error code, and its message. */
export interface ModelFailure {
  /** error_code: HTTP status (429, 503) or a code (timeout, ECONNRESET). @default 'unknown' */
  code?: string | number;
  /** The error message; normalised and truncated into error_message. @default '' */
  message?: string;
}

/** Token usage of one request. */
export interface TokenUsage {
  /** Prompt / input tokens. */
  input?: number;
  /** Completion / output tokens. */
  output?: number;
}

/**
 * One upstream model call. It ends exactly once: the first of succeed / fail / abort counts, later ones are
 * ignored, and new_api_active_requests goes back down at that moment.
 */
export interface ModelRequest {
  /** The model_name label this request is counted under. */
  readonly model: string;
  /** Whether the request has ended. */
  readonly ended: boolean;
  /** The first streamed token arrived: records time to first token (once). */
  firstToken(): void;
  /** Adds token usage (new_api_model_input_tokens_total / output). */
  tokens(usage: TokenUsage): void;
  /** The upstream answered successfully. */
  succeed(): void;
  /** The upstream failed: an HTTP status / code and message, or anything thrown. */
  fail(failure?: ModelFailure | unknown): void;
  /** The client went away (or the caller cancelled): status "aborted", not an upstream error. */
  abort(): void;
}

/** Options of {@link GatewayMetrics.track}. */
export interface TrackOptions {
  /** The client's abort signal: a throw while it is aborted counts as an abort, not an error. @default undefined */
  signal?: AbortSignal;
}
