import type { Meter, MeterProvider } from '@opentelemetry/api';
import type { BusinessMetrics } from './business';

/**
 * A Redis client for the distinct-user counts: an ioredis `Redis` / `Cluster`,
 * a node-redis client, or anything with `pfadd` / `pfcount` / `expire` (or
 * node-redis' `pfAdd` / `pfCount` / `expire`, or `sendCommand(args[])`).
 * vigil only ever sends PFADD, PFCOUNT and EXPIRE.
 */
export type RedisClientLike = object;

/** Options of {@link createBusinessMetrics}. Settings resolve: this option, then the environment variable, then the default. */
export interface BusinessMetricsOptions {
  /**
   * The meter the instruments are created from.
   * @default meterProvider.getMeter('@vigil/business', version), else the global provider's (the one @vigil/node registers)
   */
  meter?: Meter;
  /**
   * The meter provider to take the meter from (tests: `inProcessMetrics().meterProvider`).
   * @default the global meter provider from @opentelemetry/api
   */
  meterProvider?: MeterProvider;
  /**
   * Redis client for distinct-user counts shared by every instance (HyperLogLogs).
   * Without one, users are counted exactly but per process.
   * @default undefined (in-process counting)
   */
  redis?: RedisClientLike;
  /**
   * Window of `active_users_current`, in seconds. Env `VIGIL_ACTIVE_USERS_WINDOW_SECONDS`.
   * With Redis it is rounded up to whole minutes plus the current minute.
   * @default 300
   */
  activeWindowSeconds?: number;
  /**
   * How often the Redis-backed user counts are re-read, in seconds. Env `VIGIL_USERS_REFRESH_SECONDS`.
   * @default 15
   */
  usersRefreshSeconds?: number;
  /**
   * How often buffered user ids are sent to Redis, in milliseconds. Env `VIGIL_USERS_FLUSH_MS`.
   * @default 1000
   */
  usersFlushMs?: number;
  /**
   * Time limit of one Redis round (flush or refresh), in milliseconds. Env `VIGIL_USERS_REDIS_TIMEOUT_MS`.
   * @default 2000
   */
  redisTimeoutMs?: number;
  /**
   * Prefix of the Redis keys. Env `VIGIL_USERS_REDIS_PREFIX`. The `{...}` hash tag keeps every key in one
   * Redis Cluster slot, which multi-key PFCOUNT needs. Give each environment its own prefix.
   * @default 'vigil:{users}:'
   */
  redisKeyPrefix?: string;
  /**
   * Secret mixed into the hash of user ids before they are sent to Redis (HMAC-SHA-256). Env `VIGIL_USER_ID_SALT`.
   * Every instance must use the same value. Without it ids are hashed with plain SHA-256.
   * @default '' (plain SHA-256)
   */
  userIdSalt?: string;
  /**
   * Most users tracked in-process (without Redis); further new users are not counted and a warning is logged once.
   * Env `VIGIL_USERS_MAX_TRACKED`.
   * @default 100000
   */
  maxTrackedUsers?: number;
  /**
   * An AI task handle not settled within this many seconds is counted as `pending` (its outcome was never
   * reported). Env `VIGIL_AI_TASK_TIMEOUT_SECONDS`.
   * @default 3600
   */
  aiTaskTimeoutSeconds?: number;
  /**
   * user_role when a call gives none (the seed's decorators use "user").
   * @default 'user'
   */
  defaultUserRole?: string;
  /**
   * Register the `system_info` series.
   * @default true
   */
  systemInfo?: boolean;
  /**
   * service_name of `system_info`.
   * @default OTEL_SERVICE_NAME, else service.name of OTEL_RESOURCE_ATTRIBUTES, else 'unknown_service:node'
   */
  serviceName?: string;
  /**
   * service_version of `system_info`.
   * @default service.version of OTEL_RESOURCE_ATTRIBUTES, else npm_package_version, else 'unknown'
   */
  serviceVersion?: string;
  /**
   * Clock in epoch milliseconds (tests use a fixed one).
   * @default Date.now
   */
  clock?: () => number;
}

/** Labels of an AI task. */
export interface AiTaskOptions {
  /**
   * `mode` of ai_task_duration_seconds (fast / relax / ...).
   * @default 'default'
   */
  mode?: string;
  /**
   * `user_role` of ai_tasks_total.
   * @default the instance's defaultUserRole ('user')
   */
  userRole?: string;
}

/** A submitted AI task, as {@link BusinessMetrics.submitAiTask} takes it. */
export interface AiTaskSubmission extends AiTaskOptions {
  /** AI service name (midjourney, flux, ...). */
  service: string;
  /**
   * Your task id, carried for your own use (never a label).
   * @default undefined
   */
  id?: string;
}

/** What a task completed in another process carries: the submission plus its outcome. */
export interface AiTaskTicket extends AiTaskOptions {
  /** AI service name. */
  service: string;
  /** When the task was submitted: epoch milliseconds, a Date, or an ISO string. */
  submittedAt: number | Date | string;
  /** Your task id (never a label). @default undefined */
  id?: string;
}

/** Outcome of an AI task. `pending`: the outcome was never reported (expired / lost). */
export type AiTaskStatus = 'success' | 'failed' | 'pending';

/** Input of {@link BusinessMetrics.completeAiTask}. */
export interface AiTaskCompletion extends AiTaskTicket {
  /** The outcome. */
  status: AiTaskStatus;
  /** The failure (its class name or code becomes error_type) when status is failed. @default undefined */
  error?: unknown;
}

/** A long-running AI task, submitted now and settled later. Every method is safe to call more than once: only the first settlement counts. */
export interface AiTaskHandle {
  readonly service: string;
  readonly mode: string;
  readonly userRole: string;
  /** Your task id, if given. */
  readonly id?: string;
  /** Submission time, epoch milliseconds. */
  readonly submittedAt: number;
  /** Whether the task has been settled (or handed off). */
  readonly settled: boolean;
  /** The task succeeded: counts success and records its duration. */
  succeed(): void;
  /** The task failed: counts failed, ai_service_failures_total and application_errors_total. */
  fail(error?: unknown): void;
  /** The task's outcome will never be known (expired upstream, lost): counts pending. */
  expire(): void;
  /**
   * The task will be completed in another process: settles this handle without counting an outcome and returns
   * the serialisable ticket to hand to `completeAiTask({ ...ticket, status })` there.
   */
  handoff(): AiTaskTicket;
}

/** Options of a credits operation. */
export interface CreditsOptions {
  /** `user_role` label. @default the instance's defaultUserRole ('user') */
  userRole?: string;
  /** The user's balance after the operation, observed in user_credits_balance. @default undefined (not observed) */
  balance?: number;
}

/** A credits operation of the seed: consume, refund or purchase. */
export type CreditsOperation = 'consume' | 'refund' | 'purchase';

/** Severity of a security event. */
export type SecuritySeverity = 'info' | 'low' | 'medium' | 'warning' | 'high' | 'critical';

/** Options of the AI-task decorator and wrapper. Values may be computed from the call's arguments. */
export interface MonitorAiTaskOptions<Args extends unknown[] = unknown[]> {
  /** `mode` label, or a function of the call's arguments (called with the method's `this`). @default 'default' */
  mode?: string | ((...args: Args) => string | undefined);
  /** `user_role` label, or a function of the call's arguments. @default the instance's defaultUserRole ('user') */
  userRole?: string | ((...args: Args) => string | undefined);
  /** The instance to record into. @default the default instance (`businessMetrics()`), resolved at call time */
  metrics?: BusinessMetrics;
}

/** Options of the credits decorator and wrapper. */
export interface MonitorCreditsOptions<Args extends unknown[] = unknown[], R = unknown> {
  /** `user_role` label, or a function of the call's arguments. @default the instance's defaultUserRole ('user') */
  userRole?: string | ((...args: Args) => string | undefined);
  /**
   * The credits amount of the call (credits_consumed_total / credits_purchased_total), from its result and arguments.
   * @default undefined (amount not recorded)
   */
  amount?: (result: Awaited<R>, ...args: Args) => number | undefined;
  /**
   * The balance after the call (user_credits_balance).
   * @default for 'consume', the result's numeric `credit` property (as the seed does); none for the others
   */
  balance?: (result: Awaited<R>, ...args: Args) => number | undefined;
  /** The instance to record into. @default the default instance, resolved at call time */
  metrics?: BusinessMetrics;
}
