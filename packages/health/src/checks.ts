// The checks: PostgreSQL (SELECT 1), Redis (PING) and custom functions, each
// answering within its timeout. Clients are duck-typed, so neither pg nor a
// Redis client is a dependency of this package.
import { logOnce } from '@vigil/catalog';
import { cleanMessage, errorText } from './message';
import type {
  CheckFunction,
  CheckOptions,
  CheckResult,
  CustomCheckReturn,
  HealthCheck,
  PostgresCheckOptions,
  RedisCheckOptions,
} from './types';

/** Timeout of a check when neither the check nor the health object sets one. */
export const DEFAULT_TIMEOUT_MS = 2000;
/** Longest accepted timeout (10 minutes): anything longer is a mistake. */
export const MAX_TIMEOUT_MS = 600_000;

/** A valid timeout, or undefined (with one log line) when `value` is not one. */
export function validTimeout(value: unknown, where: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (Number.isFinite(n) && n >= 1 && n <= MAX_TIMEOUT_MS) return Math.round(n);
  logOnce(`health:timeout:${where}:${String(value)}`, 'warn', `${where}: timeoutMs=${String(value).slice(0, 40)} is not a number of milliseconds between 1 and ${MAX_TIMEOUT_MS}; using the default`);
  return undefined;
}

type Probe = (signal: AbortSignal, timeoutMs: number) => CheckResult | Promise<CheckResult>;

interface Attempt {
  readonly promise: Promise<CheckResult>;
  readonly controller: AbortController;
}

export function timedOut(ms: number): CheckResult {
  return { healthy: false, message: `timed out after ${ms} ms` };
}

/** A check: runs its probe with a timeout, one attempt at a time. */
class Check implements HealthCheck {
  private attempt: Attempt | undefined;

  constructor(
    readonly name: string,
    readonly timeoutMs: number | undefined,
    private readonly probe: Probe,
    private readonly failure: (err: unknown) => string,
  ) {}

  run(timeoutMs?: number): Promise<CheckResult> {
    const ms = validTimeout(timeoutMs, `check ${this.name}`) ?? this.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // A dependency that hangs keeps its attempt pending; later runs wait on that same attempt
    // (and time out again) instead of stacking queries or PINGs behind it.
    const attempt = (this.attempt ??= this.start(ms));
    return new Promise<CheckResult>((resolve) => {
      const timer = setTimeout(() => {
        resolve(timedOut(ms));
        // Tells a custom check that honours its signal to give up (fetch, AbortSignal-aware clients).
        attempt.controller.abort(new Error(`timed out after ${ms} ms`));
      }, ms);
      void attempt.promise.then((result) => {
        clearTimeout(timer);
        resolve(result);
      });
    });
  }

  private start(ms: number): Attempt {
    const controller = new AbortController();
    const promise = (async (): Promise<CheckResult> => {
      try {
        return await this.probe(controller.signal, ms);
      } catch (err) {
        if (controller.signal.aborted) return timedOut(ms);
        return { healthy: false, message: this.failure(err) };
      }
    })();
    const attempt: Attempt = { promise, controller };
    // Cleared once settled (a later microtask than the assignment in run(), even for a probe that throws at once).
    void promise.then(() => {
      if (this.attempt === attempt) this.attempt = undefined;
    });
    return attempt;
  }
}

// ---------------------------------------------------------------- PostgreSQL

interface QueryCapable {
  query(...args: unknown[]): unknown;
}

function strings(...values: unknown[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    if (typeof v !== 'string' || v === '') continue;
    out.push(v);
    // A URL's password appears in errors both decoded and as written.
    if (v.includes('://')) {
      try {
        const u = new URL(v);
        if (u.password) out.push(u.password, decodeURIComponent(u.password));
        if (u.username && u.password) out.push(`${u.username}:${u.password}`);
      } catch {
        // not a URL: the string itself is enough
      }
    }
  }
  return out;
}

function field(o: unknown, key: string): unknown {
  if (o === null || (typeof o !== 'object' && typeof o !== 'function')) return undefined;
  try {
    return (o as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** The secrets a pg Pool or Client knows, to keep them out of messages. */
function pgSecrets(client: unknown): string[] {
  const options = field(client, 'options');
  const params = field(client, 'connectionParameters');
  return strings(
    field(options, 'password'),
    field(options, 'connectionString'),
    field(params, 'password'),
    field(params, 'connectionString'),
    field(client, 'password'),
    field(client, 'connectionString'),
  );
}

/**
 * Checks PostgreSQL by sending `SELECT 1` through a `pg` Pool or Client (anything with `query()`).
 * Healthy: "Database is accessible"; unhealthy: "Database error: <reason>" or "timed out after N ms".
 * With a pg Pool, a query that hangs past the timeout is also cancelled by pg (`query_timeout`),
 * which releases the pooled connection.
 */
export function postgresCheck(poolOrClient: unknown, options: PostgresCheckOptions = {}): HealthCheck {
  const name = nameOption(options.name, 'Database');
  const sql = typeof options.query === 'string' && options.query.trim() !== '' ? options.query : 'SELECT 1';
  const usable = typeof field(poolOrClient, 'query') === 'function';
  if (!usable) {
    logOnce(`health:pg:not-client:${name}`, 'warn', `postgresCheck(${name}): the value given is not a pg Pool or Client (it has no query()); the check reports unhealthy`);
  }
  // pg accepts a query config with a per-query timeout; other query() functions get the plain text.
  const isPg = field(poolOrClient, 'options') !== undefined || field(poolOrClient, 'connectionParameters') !== undefined;
  return new Check(
    name,
    validTimeout(options.timeoutMs, `postgresCheck(${name})`),
    async (_signal, ms) => {
      if (!usable) return { healthy: false, message: `${name} error: not a pg Pool or Client (it has no query())` };
      const client = poolOrClient as QueryCapable;
      await (isPg ? client.query({ text: sql, query_timeout: ms }) : client.query(sql));
      return { healthy: true, message: `${name} is accessible` };
    },
    (err) => cleanMessage(`${name} error: ${errorText(err)}`, pgSecrets(poolOrClient)),
  );
}

// ---------------------------------------------------------------- Redis

interface PingCapable {
  ping(): unknown;
}

/** The secrets an ioredis or node-redis client knows. */
function redisSecrets(client: unknown): string[] {
  const options = field(client, 'options');
  return strings(
    field(options, 'password'),
    field(options, 'url'),
    field(field(options, 'redisOptions'), 'password'),
    field(field(options, 'socket'), 'password'),
  );
}

/**
 * Checks Redis with PING through an ioredis client (Redis or Cluster) or a node-redis client (anything with `ping()`).
 * Healthy: "Redis is accessible"; unhealthy: "Redis error: <reason>" or "timed out after N ms".
 * As in the seed, no client at all (null / undefined) is healthy with "Redis not configured".
 */
export function redisCheck(client: unknown, options: RedisCheckOptions = {}): HealthCheck {
  const name = nameOption(options.name, 'Redis');
  const timeoutMs = validTimeout(options.timeoutMs, `redisCheck(${name})`);
  if (client === null || client === undefined) {
    logOnce(`health:redis:none:${name}`, 'info', `redisCheck(${name}): no client given; the check reports "${name} not configured" (healthy), as the seed does`);
    return new Check(name, timeoutMs, () => ({ healthy: true, message: `${name} not configured` }), () => '');
  }
  const usable = typeof field(client, 'ping') === 'function';
  if (!usable) {
    logOnce(`health:redis:not-client:${name}`, 'warn', `redisCheck(${name}): the value given is not an ioredis or node-redis client (it has no ping()); the check reports unhealthy`);
  }
  return new Check(
    name,
    timeoutMs,
    async () => {
      if (!usable) return { healthy: false, message: `${name} error: not a Redis client (it has no ping())` };
      await (client as PingCapable).ping();
      return { healthy: true, message: `${name} is accessible` };
    },
    (err) => cleanMessage(`${name} error: ${errorText(err)}`, redisSecrets(client)),
  );
}

// ---------------------------------------------------------------- custom

function interpret(name: string, r: CustomCheckReturn): CheckResult {
  if (r === true || r === undefined) return { healthy: true, message: `${name} is healthy` };
  if (r === false) return { healthy: false, message: `${name} is unhealthy` };
  if (r !== null && typeof r === 'object' && typeof (r as { healthy?: unknown }).healthy === 'boolean') {
    const healthy = (r as { healthy: boolean }).healthy;
    const m = (r as { message?: unknown }).message;
    const message = m === undefined || m === null || m === '' ? `${name} is ${healthy ? 'healthy' : 'unhealthy'}` : cleanMessage(String(m));
    return { healthy, message };
  }
  return { healthy: false, message: `${name} check returned ${r === null ? 'null' : typeof r}; expected true/false or { healthy, message }` };
}

/**
 * A check from your own async function: `true` (or nothing) is healthy, `false` is not, or return
 * `{ healthy, message }`. A throw is unhealthy with "<name> error: <message>". The function gets an
 * AbortSignal that fires at the timeout.
 */
export function customCheck(name: string, fn: CheckFunction, options: CheckOptions = {}): HealthCheck {
  const label = nameOption(name, 'Custom check');
  const usable = typeof fn === 'function';
  if (!usable) {
    logOnce(`health:custom:not-fn:${label}`, 'warn', `customCheck(${label}): the check is not a function; it reports unhealthy`);
  }
  return new Check(
    label,
    validTimeout(options.timeoutMs, `customCheck(${label})`),
    async (signal) => {
      if (!usable) return { healthy: false, message: `${label} error: the check is not a function` };
      return interpret(label, await fn(signal));
    },
    (err) => cleanMessage(`${label} error: ${errorText(err)}`),
  );
}

function nameOption(name: unknown, fallback: string): string {
  if (typeof name !== 'string') return fallback;
  const clean = cleanMessage(name).slice(0, 64);
  return clean === '' ? fallback : clean;
}

/** Whether a value is a check made by this package (or one shaped like it). */
export function isHealthCheck(v: unknown): v is HealthCheck {
  return v !== null && typeof v === 'object' && typeof (v as HealthCheck).run === 'function' && typeof (v as HealthCheck).name === 'string';
}
