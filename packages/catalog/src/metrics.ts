import type { DerivedEntry, RecordedEntry } from './types';

export type { RecordedEntry } from './types';

// Keeps label keys as literal types so instruments are checked by the compiler.
function recorded<const L extends string>(e: Omit<RecordedEntry<L>, 'kind'>): RecordedEntry<L> {
  return Object.freeze({ kind: 'recorded', ...e });
}
function derived<const L extends string>(e: Omit<DerivedEntry<L>, 'kind'>): DerivedEntry<L> {
  return Object.freeze({ kind: 'derived', ...e });
}

const GATEWAY = ['gateway-guide'] as const;
const BUSINESS = ['business-monitoring'] as const;
const VIGIL = ['vigil'] as const;
const CHANNEL = ['channel_id', 'channel_name', 'channel_type'] as const;

// ---------------------------------------------------------------- HTTP (004 §1.1, 方案1)

export const httpRequestsTotal = recorded({
  name: 'http_requests_total',
  type: 'counter',
  unit: '',
  help: 'Total HTTP requests',
  labels: ['method', 'endpoint', 'status_code', 'user_role'],
  seeds: BUSINESS,
});

export const httpRequestDurationSeconds = recorded({
  name: 'http_request_duration_seconds',
  type: 'histogram',
  unit: 's',
  help: 'HTTP request duration in seconds',
  labels: ['method', 'endpoint'],
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
  seeds: BUSINESS,
});

export const httpConcurrentConnections = recorded({
  name: 'http_concurrent_connections',
  type: 'gauge',
  upDown: true,
  unit: '',
  help: 'Current number of concurrent connections',
  labels: [],
  seeds: BUSINESS,
  note: 'Counts HTTP requests in flight, as the seed\'s middleware does.',
});

// ---------------------------------------------------------------- PostgreSQL (004 §1.2)

export const dbQueryDurationSeconds = recorded({
  name: 'db_query_duration_seconds',
  type: 'histogram',
  unit: 's',
  help: 'Database query duration in seconds',
  labels: ['table', 'operation'],
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0],
  seeds: BUSINESS,
});

export const dbConnectionPoolSize = recorded({
  name: 'db_connection_pool_size',
  type: 'gauge',
  unit: '',
  help: 'Database connection pool size',
  labels: ['pool'],
  seeds: BUSINESS,
  note: 'The pool\'s maximum number of clients. The `pool` label (user@host:port/database or a given name) keeps several pools apart.',
});

export const dbConnectionPoolUsage = recorded({
  name: 'db_connection_pool_usage',
  type: 'gauge',
  unit: '',
  help: 'Database connection pool usage',
  labels: ['pool'],
  seeds: BUSINESS,
  note: 'Clients checked out of the pool. The seed\'s indicator list calls it 连接池使用率 (usage ratio); the ratio is db_connection_pool_usage / db_connection_pool_size, as its DatabaseConnectionPoolExhausted alert computes.',
});

export const dbConnectionPoolWaiting = recorded({
  name: 'db_connection_pool_waiting',
  type: 'gauge',
  unit: '',
  help: 'Requests waiting for a database connection from the pool',
  labels: ['pool'],
  seeds: VIGIL,
});

export const dbSlowQueriesTotal = recorded({
  name: 'db_slow_queries_total',
  type: 'counter',
  unit: '',
  help: 'Database queries slower than the slow-query threshold',
  labels: ['table', 'operation'],
  seeds: BUSINESS,
});

export const dbDeadlocksTotal = recorded({
  name: 'db_deadlocks_total',
  type: 'counter',
  unit: '',
  help: 'Database statements aborted by a deadlock (SQLSTATE 40P01)',
  labels: ['table', 'operation'],
  seeds: BUSINESS,
});

// ---------------------------------------------------------------- Redis (004 §1.3, 方案1)

export const cacheOperationsTotal = recorded({
  name: 'cache_operations_total',
  type: 'counter',
  unit: '',
  help: 'Total cache operations',
  labels: ['operation', 'result'],
  seeds: BUSINESS,
  note: 'result is hit / miss for reads, success / error for the rest; cache_hit_rate is derived from it.',
});

export const cacheOperationDurationSeconds = recorded({
  name: 'cache_operation_duration_seconds',
  type: 'histogram',
  unit: 's',
  help: 'Cache operation duration in seconds',
  labels: ['operation'],
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0],
  seeds: BUSINESS,
  note: 'The seed gives no buckets; these span sub-millisecond local hits to a second.',
});

export const cacheSizeBytes = recorded({
  name: 'cache_size_bytes',
  type: 'gauge',
  unit: 'By',
  help: 'Memory used by the cache server (INFO memory used_memory)',
  labels: ['server'],
  seeds: BUSINESS,
});

export const redisMemoryUsageRatio = recorded({
  name: 'redis_memory_usage_ratio',
  type: 'gauge',
  unit: '1',
  help: 'Redis used memory over maxmemory (over total system memory when no maxmemory is set)',
  labels: ['server'],
  seeds: BUSINESS,
});

// ---------------------------------------------------------------- Users (004 §2.1, 方案1)

export const activeUsersCurrent = recorded({
  name: 'active_users_current',
  type: 'gauge',
  unit: '',
  help: 'Current number of active users',
  labels: [],
  seeds: BUSINESS,
  note: 'Distinct users seen in the recent activity window.',
});

export const dailyActiveUsers = recorded({
  name: 'daily_active_users',
  type: 'gauge',
  unit: '',
  help: 'Distinct users active today (UTC)',
  labels: [],
  seeds: BUSINESS,
});

export const monthlyActiveUsers = recorded({
  name: 'monthly_active_users',
  type: 'gauge',
  unit: '',
  help: 'Distinct users active in the last 30 days',
  labels: [],
  seeds: BUSINESS,
});

export const newUsersRegisteredTotal = recorded({
  name: 'new_users_registered_total',
  type: 'counter',
  unit: '',
  help: 'New user registrations',
  labels: [],
  seeds: BUSINESS,
  note: 'The counter behind the seed\'s new_users_registered, which is the derived daily count.',
});

export const userRetentionRate = recorded({
  name: 'user_retention_rate',
  type: 'gauge',
  unit: '1',
  help: 'Share of yesterday\'s active users who are active again today',
  labels: [],
  seeds: BUSINESS,
  note: 'Needs set intersection, which PromQL cannot do, so it is computed in-process from the distinct-user sets.',
});

// ---------------------------------------------------------------- AI tasks (004 §2.2, 方案1, 方案2)

export const aiTasksTotal = recorded({
  name: 'ai_tasks_total',
  type: 'counter',
  unit: '',
  help: 'Total AI tasks by outcome',
  labels: ['service', 'status', 'user_role'],
  seeds: BUSINESS,
  note: 'status is success / failed / pending. The seed\'s help text says "submitted"; submissions are ai_tasks_submitted_total.',
});

export const aiTasksSubmittedTotal = recorded({
  name: 'ai_tasks_submitted_total',
  type: 'counter',
  unit: '',
  help: 'AI tasks submitted',
  labels: ['service'],
  seeds: BUSINESS,
});

export const aiTaskDurationSeconds = recorded({
  name: 'ai_task_duration_seconds',
  type: 'histogram',
  unit: 's',
  help: 'AI task processing duration',
  labels: ['service', 'mode'],
  buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1200],
  seeds: BUSINESS,
});

export const aiServiceFailuresTotal = recorded({
  name: 'ai_service_failures_total',
  type: 'counter',
  unit: '',
  help: 'Failed calls to AI services',
  labels: ['service', 'error_type'],
  seeds: BUSINESS,
});

// ---------------------------------------------------------------- Credits (004 §2.3, 方案1, 方案2)

export const creditsOperationsTotal = recorded({
  name: 'credits_operations_total',
  type: 'counter',
  unit: '',
  help: 'Total credits operations',
  labels: ['operation', 'user_role'],
  seeds: BUSINESS,
  note: 'operation is consume / refund / purchase.',
});

export const creditsConsumedTotal = recorded({
  name: 'credits_consumed_total',
  type: 'counter',
  unit: '',
  help: 'Credits consumed (amount)',
  labels: ['user_role'],
  seeds: BUSINESS,
});

export const creditsPurchasedTotal = recorded({
  name: 'credits_purchased_total',
  type: 'counter',
  unit: '',
  help: 'Credits purchased (amount)',
  labels: ['user_role'],
  seeds: BUSINESS,
});

export const userCreditsBalance = recorded({
  name: 'user_credits_balance',
  type: 'histogram',
  unit: '',
  help: 'User credits balance distribution',
  labels: [],
  buckets: [0, 10, 50, 100, 500, 1000, 5000, Infinity],
  seeds: BUSINESS,
});

// ---------------------------------------------------------------- Errors (004 §3.1, 方案1)

export const applicationErrorsTotal = recorded({
  name: 'application_errors_total',
  type: 'counter',
  unit: '',
  help: 'Total application errors',
  labels: ['error_type', 'component'],
  seeds: BUSINESS,
});

export const paymentFailuresTotal = recorded({
  name: 'payment_failures_total',
  type: 'counter',
  unit: '',
  help: 'Failed payments',
  labels: ['reason'],
  seeds: BUSINESS,
});

export const fileUploadFailuresTotal = recorded({
  name: 'file_upload_failures_total',
  type: 'counter',
  unit: '',
  help: 'Failed file uploads',
  labels: ['reason'],
  seeds: BUSINESS,
});

// ---------------------------------------------------------------- Security (004 §3.2, 方案1)

export const securityEventsTotal = recorded({
  name: 'security_events_total',
  type: 'counter',
  unit: '',
  help: 'Security-related events',
  labels: ['event_type', 'severity'],
  seeds: BUSINESS,
  note: 'event_type login_failure, api_abuse, suspicious_access, ...; the seed\'s security alerts read this counter.',
});

export const loginFailuresTotal = recorded({
  name: 'login_failures_total',
  type: 'counter',
  unit: '',
  help: 'Failed logins',
  labels: ['reason'],
  seeds: BUSINESS,
});

export const apiAbuseDetectedTotal = recorded({
  name: 'api_abuse_detected_total',
  type: 'counter',
  unit: '',
  help: 'API abuse detections',
  labels: ['rule'],
  seeds: BUSINESS,
  note: 'The counter behind the seed\'s api_abuse_detected, which is derived from it.',
});

export const suspiciousAccessPatternsTotal = recorded({
  name: 'suspicious_access_patterns_total',
  type: 'counter',
  unit: '',
  help: 'Suspicious access patterns detected',
  labels: ['pattern'],
  seeds: BUSINESS,
  note: 'The counter behind the seed\'s suspicious_access_patterns, which is derived from it.',
});

// ---------------------------------------------------------------- System info (方案1 Info)

export const systemInfo = recorded({
  name: 'system_info',
  type: 'gauge',
  unit: '',
  help: 'System information',
  labels: ['service_name', 'service_version', 'node_version', 'vigil_version'],
  seeds: BUSINESS,
  note: 'The seed\'s prometheus_client Info, exposed as a value-1 gauge.',
});

// ---------------------------------------------------------------- AI gateway (000, Prometheus Metrics 说明)

export const newApiModelRequestsTotal = recorded({
  name: 'new_api_model_requests_total',
  type: 'counter',
  unit: '',
  help: 'Model requests',
  labels: [...CHANNEL, 'model_name', 'status', 'error_code', 'site_id'],
  seeds: GATEWAY,
  note: 'status is success, error (the upstream failed) or aborted (the client went away first: neither a success nor a channel failure); error_code is the upstream HTTP status or error code, empty otherwise.',
});

export const newApiModelRequestDurationSeconds = recorded({
  name: 'new_api_model_request_duration_seconds',
  type: 'histogram',
  unit: 's',
  help: 'Model request duration in seconds',
  labels: [...CHANNEL, 'model_name', 'site_id'],
  buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300],
  seeds: GATEWAY,
  note: 'The seed gives no buckets; these resolve its ModelHighLatency threshold (p95 > 30 s).',
});

export const newApiModelRequestErrorsTotal = recorded({
  name: 'new_api_model_request_errors_total',
  type: 'counter',
  unit: '',
  help: 'Model request errors',
  labels: [...CHANNEL, 'model_name', 'error_code', 'error_message', 'site_id'],
  seeds: GATEWAY,
  note: 'error_message is normalised (numbers, ids, quoted values stripped) and truncated to stay low-cardinality.',
});

export const newApiChannelStatus = recorded({
  name: 'new_api_channel_status',
  type: 'gauge',
  unit: '',
  help: 'Channel status (1=enabled, 2=manually_disabled, 3=auto_disabled, 4=deleted)',
  labels: [...CHANNEL, 'status', 'site_id'],
  seeds: GATEWAY,
  note: 'One series per channel: the value is the status code, the status label its name.',
});

export const newApiActiveRequests = recorded({
  name: 'new_api_active_requests',
  type: 'gauge',
  upDown: true,
  unit: '',
  help: 'Model requests in flight',
  labels: [...CHANNEL, 'model_name', 'site_id'],
  seeds: GATEWAY,
});

export const newApiModelInputTokensTotal = recorded({
  name: 'new_api_model_input_tokens_total',
  type: 'counter',
  unit: '',
  help: 'Prompt (input) tokens reported by upstream models',
  labels: [...CHANNEL, 'model_name', 'site_id'],
  seeds: VIGIL,
  note: 'Beyond the seed, as the current New API upstream records.',
});

export const newApiModelOutputTokensTotal = recorded({
  name: 'new_api_model_output_tokens_total',
  type: 'counter',
  unit: '',
  help: 'Completion (output) tokens reported by upstream models',
  labels: [...CHANNEL, 'model_name', 'site_id'],
  seeds: VIGIL,
  note: 'Beyond the seed, as the current New API upstream records.',
});

export const newApiModelTimeToFirstTokenSeconds = recorded({
  name: 'new_api_model_time_to_first_token_seconds',
  type: 'histogram',
  unit: 's',
  help: 'Time to the first streamed token of a model response',
  labels: [...CHANNEL, 'model_name', 'site_id'],
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
  seeds: VIGIL,
  note: 'Beyond the seed, as the current New API upstream records.',
});

// ---------------------------------------------------------------- Node.js runtime (prom-client's names)

export const processCpuUserSecondsTotal = recorded({
  name: 'process_cpu_user_seconds_total',
  type: 'counter',
  unit: 's',
  help: 'Total user CPU time spent in seconds',
  labels: [],
  seeds: VIGIL,
});

export const processCpuSystemSecondsTotal = recorded({
  name: 'process_cpu_system_seconds_total',
  type: 'counter',
  unit: 's',
  help: 'Total system CPU time spent in seconds',
  labels: [],
  seeds: VIGIL,
});

export const processCpuSecondsTotal = recorded({
  name: 'process_cpu_seconds_total',
  type: 'counter',
  unit: 's',
  help: 'Total user and system CPU time spent in seconds',
  labels: [],
  seeds: VIGIL,
});

export const processResidentMemoryBytes = recorded({
  name: 'process_resident_memory_bytes',
  type: 'gauge',
  unit: 'By',
  help: 'Resident memory size in bytes',
  labels: [],
  seeds: VIGIL,
});

export const processStartTimeSeconds = recorded({
  name: 'process_start_time_seconds',
  type: 'gauge',
  unit: 's',
  help: 'Start time of the process since unix epoch in seconds',
  labels: [],
  seeds: VIGIL,
});

export const nodejsHeapSizeUsedBytes = recorded({
  name: 'nodejs_heap_size_used_bytes',
  type: 'gauge',
  unit: 'By',
  help: 'V8 heap used in bytes',
  labels: [],
  seeds: VIGIL,
});

export const nodejsHeapSizeTotalBytes = recorded({
  name: 'nodejs_heap_size_total_bytes',
  type: 'gauge',
  unit: 'By',
  help: 'V8 heap size in bytes',
  labels: [],
  seeds: VIGIL,
});

export const nodejsExternalMemoryBytes = recorded({
  name: 'nodejs_external_memory_bytes',
  type: 'gauge',
  unit: 'By',
  help: 'Memory of C++ objects bound to JavaScript objects, in bytes',
  labels: [],
  seeds: VIGIL,
});

export const nodejsEventloopLagP50Seconds = recorded({
  name: 'nodejs_eventloop_lag_p50_seconds',
  type: 'gauge',
  unit: 's',
  help: 'The median of the event loop delay since the previous collection',
  labels: [],
  seeds: VIGIL,
});

export const nodejsEventloopLagP99Seconds = recorded({
  name: 'nodejs_eventloop_lag_p99_seconds',
  type: 'gauge',
  unit: 's',
  help: 'The 99th percentile of the event loop delay since the previous collection',
  labels: [],
  seeds: VIGIL,
});

export const nodejsEventloopLagMaxSeconds = recorded({
  name: 'nodejs_eventloop_lag_max_seconds',
  type: 'gauge',
  unit: 's',
  help: 'The maximum of the event loop delay since the previous collection',
  labels: [],
  seeds: VIGIL,
});

export const nodejsGcDurationSeconds = recorded({
  name: 'nodejs_gc_duration_seconds',
  type: 'histogram',
  unit: 's',
  help: 'Garbage collection duration by kind',
  labels: ['kind'],
  buckets: [0.001, 0.01, 0.1, 1, 2, 5],
  seeds: VIGIL,
});

// ---------------------------------------------------------------- vigil itself

export const vigilMetricOverflowTotal = recorded({
  name: 'vigil_metric_overflow_total',
  type: 'counter',
  unit: '',
  help: 'Measurements folded into the overflow series because a metric reached its series limit',
  labels: ['metric'],
  seeds: VIGIL,
});

export const healthCheckStatus = recorded({
  name: 'health_check_status',
  type: 'gauge',
  unit: '',
  help: 'Result of the last health check (1 healthy, 0 unhealthy)',
  labels: ['check'],
  seeds: VIGIL,
});

export const alertRelayNotificationsTotal = recorded({
  name: 'alert_relay_notifications_total',
  type: 'counter',
  unit: '',
  help: 'Chat messages the alert relay delivered or failed to deliver',
  labels: ['target', 'result', 'reason'],
  seeds: VIGIL,
});

export const alertRelayRequestsTotal = recorded({
  name: 'alert_relay_requests_total',
  type: 'counter',
  unit: '',
  help: 'Alertmanager webhook requests the alert relay answered, by route and HTTP status code',
  labels: ['route', 'code'],
  seeds: VIGIL,
});

export const alertRelayQueueDepth = recorded({
  name: 'alert_relay_queue_depth',
  type: 'gauge',
  unit: '',
  help: 'Chat messages waiting for their target\'s rate limit',
  labels: ['target'],
  seeds: VIGIL,
});

// ---------------------------------------------------------------- Derived indicators (recording rules)

export const httpErrorsRate = derived({
  name: 'http_errors_rate',
  help: 'Share of HTTP requests answered with a 5xx status over 5 minutes',
  labels: [],
  unit: 'percentunit',
  expr: '(sum(rate(http_requests_total{status_code=~"5.."}[5m])) or vector(0)) / sum(rate(http_requests_total[5m]))',
  seeds: BUSINESS,
});

export const cacheHitRate = derived({
  name: 'cache_hit_rate',
  help: 'Share of cache reads that were hits over 5 minutes (0..1)',
  labels: [],
  unit: 'percentunit',
  expr: '(sum(rate(cache_operations_total{result="hit"}[5m])) or vector(0)) / sum(rate(cache_operations_total{result=~"hit|miss"}[5m]))',
  seeds: BUSINESS,
  note: 'The seed\'s code keeps a per-process Gauge; a ratio is only right across instances as a rule over the counters. "or vector(0)" keeps a cache that only misses at 0 instead of no value.',
});

export const aiTaskSuccessRate = derived({
  name: 'ai_task_success_rate',
  help: 'Share of finished AI tasks that succeeded over 5 minutes, by service',
  labels: ['service'],
  unit: 'percentunit',
  expr: '(sum by (service) (rate(ai_tasks_total{status="success"}[5m])) or 0 * sum by (service) (rate(ai_tasks_total{status=~"success|failed"}[5m]))) / sum by (service) (rate(ai_tasks_total{status=~"success|failed"}[5m]))',
  seeds: BUSINESS,
});

export const aiTaskDurationAvg = derived({
  name: 'ai_task_duration_avg',
  help: 'Average AI task duration over 5 minutes, by service',
  labels: ['service'],
  unit: 's',
  expr: 'sum by (service) (rate(ai_task_duration_seconds_sum[5m])) / sum by (service) (rate(ai_task_duration_seconds_count[5m]))',
  seeds: BUSINESS,
});

export const aiServiceUsageDistribution = derived({
  name: 'ai_service_usage_distribution',
  help: 'Each AI service\'s share of task submissions over 1 hour',
  labels: ['service'],
  unit: 'percentunit',
  expr: 'sum by (service) (rate(ai_tasks_submitted_total[1h])) / ignoring (service) group_left () sum(rate(ai_tasks_submitted_total[1h]))',
  seeds: BUSINESS,
});

export const avgUserCredits = derived({
  name: 'avg_user_credits',
  help: 'Average of the user credit balances observed over 1 hour',
  labels: [],
  unit: 'short',
  expr: 'sum(rate(user_credits_balance_sum[1h])) / sum(rate(user_credits_balance_count[1h]))',
  seeds: BUSINESS,
});

export const creditConversionRate = derived({
  name: 'credit_conversion_rate',
  help: 'Credits consumed over credits purchased in the last day',
  labels: [],
  unit: 'percentunit',
  expr: 'sum(increase(credits_consumed_total[1d])) / sum(increase(credits_purchased_total[1d]))',
  seeds: BUSINESS,
});

export const newUsersRegistered = derived({
  name: 'new_users_registered',
  help: 'New user registrations in the last day',
  labels: [],
  unit: 'short',
  expr: 'sum(increase(new_users_registered_total[1d]))',
  seeds: BUSINESS,
});

export const apiAbuseDetected = derived({
  name: 'api_abuse_detected',
  help: 'API abuse detections in the last 5 minutes, by rule',
  labels: ['rule'],
  unit: 'short',
  expr: 'sum by (rule) (increase(api_abuse_detected_total[5m]))',
  seeds: BUSINESS,
});

export const suspiciousAccessPatterns = derived({
  name: 'suspicious_access_patterns',
  help: 'Suspicious access patterns detected in the last 5 minutes, by pattern',
  labels: ['pattern'],
  unit: 'short',
  expr: 'sum by (pattern) (increase(suspicious_access_patterns_total[5m]))',
  seeds: BUSINESS,
});

export const newApiModelSuccessRate = derived({
  name: 'new_api_model_success_rate',
  help: 'Share of successful model requests over 5 minutes, by site, channel and model',
  labels: ['site_id', 'channel_id', 'channel_name', 'model_name'],
  unit: 'percentunit',
  expr: '(sum by (site_id, channel_id, channel_name, model_name) (rate(new_api_model_requests_total{status="success"}[5m])) or 0 * sum by (site_id, channel_id, channel_name, model_name) (rate(new_api_model_requests_total{status=~"success|error"}[5m]))) / sum by (site_id, channel_id, channel_name, model_name) (rate(new_api_model_requests_total{status=~"success|error"}[5m]))',
  seeds: GATEWAY,
  note: 'The success-rate query of the seed\'s Grafana panels, as a rule; requests the client aborted count neither way.',
});
