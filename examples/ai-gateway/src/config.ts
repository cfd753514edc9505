// The demo's settings, from the environment (the same names docker-compose.yml sets).
import { randomBytes } from 'node:crypto';

/** Fault rates of one mock upstream channel (shares of requests, 0..1). */
export interface FaultRates {
  /** Answer 429 (rate limit). */
  rateLimit: number;
  /** Answer 500 / 502 / 503. */
  serverError: number;
  /** Never answer (the gateway's upstream timeout ends the request). */
  timeout: number;
  /** Cut a streamed answer in the middle. */
  streamCut: number;
}

export interface DemoConfig {
  /** PORT: the gateway's port (0: any free port). */
  port: number;
  /** HOST: the address to listen on. */
  host: string;
  /** PGHOST / PGPORT / PGUSER / PGPASSWORD / PGDATABASE. */
  pg: { host: string; port: number; user: string; password: string | undefined; database: string };
  /** REDIS_URL. */
  redisUrl: string;
  /** SITE_ID (the gateway metrics read it themselves; shown in the start-up line). */
  siteId: string;
  /** ADMIN_TOKEN: bearer token of /admin/* and /monitoring/stats. */
  adminToken: string;
  /** Whether ADMIN_TOKEN was generated because none was set. */
  adminTokenGenerated: boolean;
  /** DEMO_REDIS_PREFIX: prefix of every Redis key the demo writes. */
  redisPrefix: string;
  /** DEMO_UPSTREAM_TIMEOUT_MS: how long the gateway waits for an upstream. */
  upstreamTimeoutMs: number;
  /** DEMO_MAX_RETRIES: other channels tried after a failed upstream call (one-api's RetryTimes). */
  maxRetries: number;
  /** DEMO_FAULTS: JSON {"<channel id>": {rateLimit, serverError, timeout, streamCut}} over the defaults. */
  faults: Record<string, Partial<FaultRates>>;
  /** DEMO_FAIL_CHANNELS: channel ids whose upstream fails every request from the start. */
  failChannels: string[];
  /** DEMO_AUTO_DISABLE_*: one-api's automatic channel disabling. */
  autoDisable: { windowMs: number; minRequests: number; threshold: number; cooldownMs: number };
  /** DEMO_RATE_LIMIT_PER_SECOND: API requests per user and second before 429 (API abuse). */
  rateLimitPerSecond: number;
  /** DEMO_MAX_UPLOAD_BYTES: largest accepted upload. */
  maxUploadBytes: number;
  /** DEMO_TASK_FAILURE_RATE: share of image tasks that fail. */
  taskFailureRate: number;
  /** DEMO_TASK_EXPIRE_RATE: share of image tasks whose outcome is lost upstream (counted pending). */
  taskExpireRate: number;
  /** DEMO_TASK_SECONDS: [min, max] seconds an image task takes. */
  taskSeconds: [number, number];
}

function num(name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    console.error(`ai-gateway: ${name}="${raw}" is not a number from ${min} to ${max}; using ${fallback}`);
    return fallback;
  }
  return n;
}

function faults(): Record<string, Partial<FaultRates>> {
  const raw = process.env.DEMO_FAULTS;
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, Partial<FaultRates>>;
  } catch {
    // reported below
  }
  console.error('ai-gateway: DEMO_FAULTS is not a JSON object like {"2":{"serverError":0.5}}; ignoring it');
  return {};
}

export function loadConfig(): DemoConfig {
  const env = process.env;
  const adminToken = env.ADMIN_TOKEN?.trim();
  const taskMin = num('DEMO_TASK_MIN_SECONDS', 1, 0, 3600);
  return {
    port: num('PORT', 3000, 0, 65535),
    host: env.HOST?.trim() || '0.0.0.0',
    pg: {
      host: env.PGHOST || '127.0.0.1',
      port: num('PGPORT', 5432, 1, 65535),
      user: env.PGUSER || 'postgres',
      password: env.PGPASSWORD || undefined,
      database: env.PGDATABASE || 'test',
    },
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    siteId: env.SITE_ID || 'default',
    adminToken: adminToken || randomBytes(18).toString('base64url'),
    adminTokenGenerated: !adminToken,
    redisPrefix: env.DEMO_REDIS_PREFIX || 'demo:',
    upstreamTimeoutMs: num('DEMO_UPSTREAM_TIMEOUT_MS', 2500, 100, 600_000),
    maxRetries: num('DEMO_MAX_RETRIES', 2, 0, 10),
    faults: faults(),
    failChannels: (env.DEMO_FAIL_CHANNELS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    autoDisable: {
      windowMs: num('DEMO_AUTO_DISABLE_WINDOW_SECONDS', 60, 1, 86_400) * 1000,
      minRequests: num('DEMO_AUTO_DISABLE_MIN_REQUESTS', 20, 1, 1_000_000),
      threshold: num('DEMO_AUTO_DISABLE_THRESHOLD', 0.5, 0, 1),
      cooldownMs: num('DEMO_AUTO_DISABLE_COOLDOWN_SECONDS', 30, 1, 86_400) * 1000,
    },
    rateLimitPerSecond: num('DEMO_RATE_LIMIT_PER_SECOND', 20, 1, 1_000_000),
    maxUploadBytes: num('DEMO_MAX_UPLOAD_BYTES', 1024 * 1024, 1, 1024 * 1024 * 1024),
    taskFailureRate: num('DEMO_TASK_FAILURE_RATE', 0.1, 0, 1),
    taskExpireRate: num('DEMO_TASK_EXPIRE_RATE', 0.03, 0, 1),
    taskSeconds: [taskMin, Math.max(taskMin, num('DEMO_TASK_MAX_SECONDS', 4, 0, 3600))],
  };
}
