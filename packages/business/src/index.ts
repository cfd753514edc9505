export { BusinessMetrics, createBusinessMetrics } from './business';
export { businessMetrics, captureProcessErrors, configureBusinessMetrics } from './default';
export { aiTask, creditsOperation, monitorAiTask, monitorCreditsOperation } from './decorators';
export {
  apiAbuse,
  completeAiTask,
  consumeCredits,
  loginFailed,
  markActive,
  markRegistered,
  observeCreditsBalance,
  paymentFailed,
  purchaseCredits,
  recordError,
  refundCredits,
  securityEvent,
  submitAiTask,
  suspiciousAccess,
  trackAiTask,
  uploadFailed,
} from './api';
export { errorTypeOf } from './labels';
export { unhandledRejectionsMode } from './process-errors';
export type { UnhandledRejectionsMode } from './process-errors';
export type { UserCounts } from './users';
export type {
  AiTaskCompletion,
  AiTaskHandle,
  AiTaskOptions,
  AiTaskStatus,
  AiTaskSubmission,
  AiTaskTicket,
  BusinessMetricsOptions,
  CreditsOperation,
  CreditsOptions,
  MonitorAiTaskOptions,
  MonitorCreditsOptions,
  RedisClientLike,
  SecuritySeverity,
} from './types';
