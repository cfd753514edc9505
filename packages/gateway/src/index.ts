export { GatewayMetrics, createGatewayMetrics } from './gateway';
export { configureGatewayMetrics, gatewayMetrics, instrumentedFetch } from './default';
export { normalizeErrorMessage } from './labels';
export { STATUS_NAMES } from './channels';
export type {
  ChannelInfo,
  ChannelStatus,
  GatewayMetricsOptions,
  ModelFailure,
  ModelRequest,
  ModelRequestMeta,
  TokenUsage,
  TrackOptions,
} from './types';
