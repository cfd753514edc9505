export { createRelay } from './relay';
export type { Relay } from './relay';
export { readConfigFile, RelayConfigError } from './config';
export { PayloadError } from './payload';
export { dingtalkSign, feishuSign } from './services';
export { SEVERITY_EMOJI, DEFAULT_EMOJI, RESOLVED_EMOJI } from './template';
export { alertRelayNotificationsTotal, alertRelayQueueDepth, alertRelayRequestsTotal } from './metric-names';
export type {
  AuthConfigInput,
  BasicAuthInput,
  DurationString,
  LogRecord,
  RateLimitInput,
  RelayAddress,
  RelayConfigInput,
  RelayOptions,
  RouteConfigInput,
  TargetConfigInput,
  TargetType,
  TemplateLanguage,
} from './types';
