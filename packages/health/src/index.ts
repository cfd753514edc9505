export type {
  Authorize,
  CheckFunction,
  CheckOptions,
  CheckResult,
  CustomCheckReturn,
  HandlerOptions,
  Health,
  HealthCheck,
  HealthOptions,
  HealthReport,
  MetricSource,
  PostgresCheckOptions,
  RedisCheckOptions,
  SourceMetric,
  StatsOptions,
} from './types';
export { customCheck, DEFAULT_TIMEOUT_MS, postgresCheck, redisCheck } from './checks';
export { createHealth, DEFAULT_MIN_INTERVAL_MS, DEFAULT_REFRESH_INTERVAL_MS, PROCESS_HEALTH_KEY, processHealth, statusCodeOf } from './health';
export {
  DEFAULT_LIVE_PATHS,
  DEFAULT_READY_PATHS,
  expressHealth,
  fastifyHealth,
  healthRequestHandler,
  koaHealth,
} from './handlers';
export type {
  ExpressHealthMiddleware,
  FastifyHealthPlugin,
  FastifyInstanceLike,
  FastifyReplyLike,
  FastifyRequestLike,
  HealthRequestHandler,
  KoaContextLike,
  KoaHealthMiddleware,
} from './handlers';
export { computeStats, DEFAULT_STATS_PATH, METRIC_SOURCE_KEY, SEED_AI_SERVICES } from './stats';
export { MAX_MESSAGE_LENGTH } from './message';
