// The default instance behind instrumentedFetch(): created on first use from
// the global meter provider (the one @vigil/node registers), re-created if
// that provider changes later.
import { metrics, type MeterProvider } from '@opentelemetry/api';
import { GatewayMetrics } from './gateway';
import type { GatewayMetricsOptions, ModelRequestMeta } from './types';

let instance: GatewayMetrics | undefined;
let boundProvider: MeterProvider | undefined;
let configured: GatewayMetricsOptions | undefined;

/** The default instance (created on first use). */
export function gatewayMetrics(): GatewayMetrics {
  const explicit = configured?.meter !== undefined || configured?.meterProvider !== undefined;
  const provider = metrics.getMeterProvider();
  if (instance !== undefined && (explicit || provider === boundProvider)) return instance;
  const old = instance;
  boundProvider = provider;
  instance = new GatewayMetrics(configured);
  old?.shutdown();
  return instance;
}

/** Replaces the default instance with one built from these options. Returns it. */
export function configureGatewayMetrics(options: GatewayMetricsOptions = {}): GatewayMetrics {
  configured = { ...options };
  const old = instance;
  instance = undefined;
  old?.shutdown();
  return gatewayMetrics();
}

/** fetch() to an OpenAI-compatible upstream, measured as one model request of the default instance. */
export function instrumentedFetch(meta: ModelRequestMeta, input: string | URL | Request, init?: RequestInit): Promise<Response> {
  return gatewayMetrics().fetch(meta, input, init);
}
