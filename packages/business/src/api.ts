// One-line functions on the default instance (see default.ts).
import { businessMetrics } from './default';
import type {
  AiTaskCompletion,
  AiTaskHandle,
  AiTaskOptions,
  AiTaskSubmission,
  CreditsOptions,
  SecuritySeverity,
} from './types';

/** Runs one AI task call and counts it (see BusinessMetrics.trackAiTask). */
export function trackAiTask<R>(service: string, fn: () => R, options?: AiTaskOptions): R {
  return businessMetrics().trackAiTask(service, fn, options);
}
/** Submits a long-running AI task; settle the returned handle later. */
export function submitAiTask(submission: AiTaskSubmission): AiTaskHandle {
  return businessMetrics().submitAiTask(submission);
}
/** Counts the outcome of a task submitted in another process. */
export function completeAiTask(completion: AiTaskCompletion): void {
  businessMetrics().completeAiTask(completion);
}
/** A credits consumption. */
export function consumeCredits(amount: number, options?: CreditsOptions): void {
  businessMetrics().consumeCredits(amount, options);
}
/** A credits refund. */
export function refundCredits(amount: number, options?: CreditsOptions): void {
  businessMetrics().refundCredits(amount, options);
}
/** A credits purchase. */
export function purchaseCredits(amount: number, options?: CreditsOptions): void {
  businessMetrics().purchaseCredits(amount, options);
}
/** One observation of a user's credits balance. */
export function observeCreditsBalance(balance: number): void {
  businessMetrics().observeCreditsBalance(balance);
}
/** The user did something now. */
export function markActive(userId: string | number): void {
  businessMetrics().markActive(userId);
}
/** A new user registered (and is active). */
export function markRegistered(userId?: string | number): void {
  businessMetrics().markRegistered(userId);
}
/** application_errors_total{error_type, component}. */
export function recordError(err: unknown, component: string): void {
  businessMetrics().recordError(err, component);
}
/** payment_failures_total{reason}. */
export function paymentFailed(reason: string): void {
  businessMetrics().paymentFailed(reason);
}
/** file_upload_failures_total{reason}. */
export function uploadFailed(reason: string): void {
  businessMetrics().uploadFailed(reason);
}
/** security_events_total{event_type, severity}. */
export function securityEvent(eventType: string, severity?: SecuritySeverity): void {
  businessMetrics().securityEvent(eventType, severity);
}
/** login_failures_total{reason} + security_events_total{event_type="login_failure"}. */
export function loginFailed(reason: string, severity?: SecuritySeverity): void {
  businessMetrics().loginFailed(reason, severity);
}
/** api_abuse_detected_total{rule} + security_events_total{event_type="api_abuse"}. */
export function apiAbuse(rule: string, severity?: SecuritySeverity): void {
  businessMetrics().apiAbuse(rule, severity);
}
/** suspicious_access_patterns_total{pattern} + security_events_total{event_type="suspicious_access"}. */
export function suspiciousAccess(pattern: string, severity?: SecuritySeverity): void {
  businessMetrics().suspiciousAccess(pattern, severity);
}
