import { metrics, type Meter } from '@opentelemetry/api';
import { logOnce, numberSetting, stringSetting } from '@vigil/catalog';
import { Credits } from './credits';
import { Errors } from './errors';
import { BoundedValues, nameValue } from './labels';
import { installProcessErrorCapture } from './process-errors';
import { hllCommands } from './redis';
import { Security } from './security';
import type { Shared } from './shared';
import { registerSystemInfo, systemInfoLabels } from './system-info';
import { AiTasks } from './tasks';
import type {
  AiTaskCompletion,
  AiTaskHandle,
  AiTaskOptions,
  AiTaskSubmission,
  BusinessMetricsOptions,
  CreditsOperation,
  CreditsOptions,
  SecuritySeverity,
} from './types';
import { UserActivity, type UserCounts } from './users';
import { VERSION } from './version';

export const SCOPE = '@vigil/business';

/**
 * Business metrics of an AI platform (seed 004 §2–3): AI tasks, credits, users, errors, security, system_info.
 * Every method records and returns; none throws into the application.
 */
export class BusinessMetrics {
  /** @internal */
  readonly tasks: AiTasks;
  /** @internal */
  readonly credits: Credits;
  private readonly errors: Errors;
  private readonly security: Security;
  private readonly users: UserActivity;
  private readonly removeSystemInfo: (() => void) | undefined;
  private uncapture: (() => void) | undefined;
  private closed = false;

  constructor(options: BusinessMetricsOptions = {}) {
    const meter: Meter = options.meter ?? (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE, VERSION);
    const clock = typeof options.clock === 'function' ? options.clock : Date.now;
    this.errors = new Errors(meter);
    const shared: Shared = {
      meter,
      clock,
      defaultUserRole: nameValue(options.defaultUserRole, 'user'),
      services: new BoundedValues('AI service', 50),
      modes: new BoundedValues('AI task mode', 20),
      roles: new BoundedValues('user_role', 20),
      recordError: (e, component) => this.errors.record(e, component),
    };
    this.tasks = new AiTasks(shared, numberSetting('VIGIL_AI_TASK_TIMEOUT_SECONDS', options.aiTaskTimeoutSeconds, 3600, { min: 0 }) * 1000);
    this.credits = new Credits(shared);
    this.security = new Security(meter);

    let redis = undefined;
    if (options.redis !== undefined && options.redis !== null) {
      redis = hllCommands(options.redis);
      if (!redis) {
        logOnce('business:redis-shape', 'warn', 'the redis option has no pfadd/pfcount/expire (ioredis), pfAdd/pfCount/expire (node-redis) or sendCommand; counting users in-process');
      }
    }
    this.users = new UserActivity(meter, {
      redis,
      clock,
      windowMs: numberSetting('VIGIL_ACTIVE_USERS_WINDOW_SECONDS', options.activeWindowSeconds, 300, { min: 1 }) * 1000,
      maxUsers: numberSetting('VIGIL_USERS_MAX_TRACKED', options.maxTrackedUsers, 100_000, { min: 1, integer: true }),
      prefix: stringSetting('VIGIL_USERS_REDIS_PREFIX', options.redisKeyPrefix, 'vigil:{users}:'),
      salt: stringSetting('VIGIL_USER_ID_SALT', options.userIdSalt, ''),
      refreshMs: numberSetting('VIGIL_USERS_REFRESH_SECONDS', options.usersRefreshSeconds, 15, { min: 0.05 }) * 1000,
      flushMs: numberSetting('VIGIL_USERS_FLUSH_MS', options.usersFlushMs, 1000, { min: 10 }),
      timeoutMs: numberSetting('VIGIL_USERS_REDIS_TIMEOUT_MS', options.redisTimeoutMs, 2000, { min: 10 }),
    });
    this.removeSystemInfo = options.systemInfo === false ? undefined : registerSystemInfo(meter, systemInfoLabels(options.serviceName, options.serviceVersion));
  }

  // ------------------------------------------------------------ AI tasks

  /**
   * Runs one AI task call and counts it: ai_tasks_submitted_total at the start, then ai_tasks_total
   * success (with ai_task_duration_seconds) or failed (with ai_service_failures_total and
   * application_errors_total{component="ai_service_<service>"}). Returns exactly what fn returns
   * (a promise stays a promise of the same value) and rethrows what it throws.
   */
  trackAiTask<R>(service: string, fn: () => R, options?: AiTaskOptions): R {
    return this.tasks.track(service, fn, options);
  }

  /** A task submitted now that finishes later: counts the submission and returns the handle to settle it. */
  submitAiTask(submission: AiTaskSubmission): AiTaskHandle {
    return this.tasks.submit(submission);
  }

  /** Counts the outcome of a task submitted elsewhere (another process): the duration runs from ticket.submittedAt. */
  completeAiTask(completion: AiTaskCompletion): void {
    this.tasks.complete(completion);
  }

  // ------------------------------------------------------------ credits

  /** A consumption: credits_operations_total{operation="consume"}, credits_consumed_total += amount, the balance after it. */
  consumeCredits(amount: number, options?: CreditsOptions): void {
    this.credits.record('consume', amount, options);
  }

  /** A refund: credits_operations_total{operation="refund"} (and the balance after it, when given). */
  refundCredits(amount: number, options?: CreditsOptions): void {
    this.credits.record('refund', amount, options);
  }

  /** A purchase: credits_operations_total{operation="purchase"}, credits_purchased_total += amount, the balance after it. */
  purchaseCredits(amount: number, options?: CreditsOptions): void {
    this.credits.record('purchase', amount, options);
  }

  /** Any credits operation by name. */
  creditsOperation(operation: CreditsOperation, amount?: number, options?: CreditsOptions): void {
    this.credits.record(operation, amount, options);
  }

  /** One observation of a user's balance in user_credits_balance. */
  observeCreditsBalance(balance: number): void {
    this.credits.observeBalance(balance);
  }

  // ------------------------------------------------------------ users

  /** The user did something now. Cheap: never waits on Redis. The id never becomes a label. */
  markActive(userId: string | number): void {
    this.users.markActive(userId);
  }

  /** A registration: new_users_registered_total += 1, and the new user is active. */
  markRegistered(userId?: string | number): void {
    this.users.markRegistered(userId);
  }

  /** The distinct-user counts a scrape would report now (undefined with Redis before its first answer). */
  userCounts(): UserCounts | undefined {
    return this.users.counts();
  }

  /** Whether distinct users are counted in Redis (shared) rather than in-process. */
  get usersShared(): boolean {
    return this.users.shared;
  }

  /** With Redis: sends buffered user ids now and re-reads the counts. Never rejects. */
  flush(): Promise<void> {
    return this.users.flush();
  }

  // ------------------------------------------------------------ errors

  /** application_errors_total{error_type, component}: error_type is err's class name (or code), or err itself when a string. */
  recordError(err: unknown, component: string): void {
    this.errors.record(err, component);
  }

  /**
   * Counts uncaught exceptions and unhandled rejections in application_errors_total{component="process"},
   * without changing how the process reacts to them. Returns the function that stops counting.
   */
  captureProcessErrors(): () => void {
    if (!this.uncapture) {
      const stop = installProcessErrorCapture((e) => this.errors.record(e, 'process'));
      this.uncapture = () => {
        stop();
        this.uncapture = undefined;
      };
    }
    return this.uncapture;
  }

  /** payment_failures_total{reason}. */
  paymentFailed(reason: string): void {
    this.errors.paymentFailed(reason);
  }

  /** file_upload_failures_total{reason}. */
  uploadFailed(reason: string): void {
    this.errors.uploadFailed(reason);
  }

  // ------------------------------------------------------------ security

  /** security_events_total{event_type, severity}. */
  securityEvent(eventType: string, severity: SecuritySeverity = 'warning'): void {
    this.security.event(eventType, severity);
  }

  /** login_failures_total{reason} and security_events_total{event_type="login_failure"} (severity default warning). */
  loginFailed(reason: string, severity?: SecuritySeverity): void {
    this.security.loginFailed(reason, severity);
  }

  /** api_abuse_detected_total{rule} and security_events_total{event_type="api_abuse"} (severity default critical). */
  apiAbuse(rule: string, severity?: SecuritySeverity): void {
    this.security.apiAbuse(rule, severity);
  }

  /** suspicious_access_patterns_total{pattern} and security_events_total{event_type="suspicious_access"} (severity default warning). */
  suspiciousAccess(pattern: string, severity?: SecuritySeverity): void {
    this.security.suspiciousAccess(pattern, severity);
  }

  // ------------------------------------------------------------ lifecycle

  /** Stops timers and listeners, sends buffered user ids, removes the observable callbacks. Never rejects. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.uncapture?.();
    this.tasks.shutdown();
    this.removeSystemInfo?.();
    await this.users.shutdown();
  }
}

/** A BusinessMetrics instance of its own (tests, several meters, a Redis client). */
export function createBusinessMetrics(options?: BusinessMetricsOptions): BusinessMetrics {
  return new BusinessMetrics(options);
}
