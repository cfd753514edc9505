import type { InstrumentationConfig } from '@opentelemetry/instrumentation';
import type { LeanRegistry } from '@vigil/catalog';

/**
 * Configuration of {@link RedisInstrumentation}. Every setting resolves in vigil's order:
 * this code option, then the environment variable named, then the default. A bad value logs
 * one line and the default is used.
 */
export interface RedisInstrumentationConfig extends InstrumentationConfig {
  /**
   * Redis command names (case-insensitive) that keep their own value of the `operation` label of
   * `cache_operations_total` and `cache_operation_duration_seconds`; every other command is
   * `operation="other"`. The value is the lower-case command name, except DEL and UNLINK, which
   * are `delete` (the seed's get / set / delete); listing `delete` means both DEL and UNLINK.
   * Whether a command counts hit / miss or success / error does not depend on this list, so
   * `cache_hit_rate` stays exact when a read command is folded into `other`.
   * Environment variable `VIGIL_REDIS_OPERATIONS` (comma-separated). At most 200 names; a name
   * that is not a plausible command name (letters, digits, `.`, `_`, `-`, `|`, 1..40 characters)
   * logs once and is left out.
   * @default the list in the package README: get, mget, getex, getdel, hget, hmget, hgetall,
   *   exists, hexists, set, setex, psetex, setnx, mset, getset, append, incr, incrby, incrbyfloat,
   *   decr, decrby, del and unlink (as `delete`), expire, pexpire, expireat, persist, ttl, pttl,
   *   hset, hmset, hsetnx, hdel, hincrby, hlen, lpush, rpush, lpop, rpop, lrange, llen, ltrim,
   *   sadd, srem, smembers, sismember, scard, zadd, zrem, zrange, zrangebyscore, zscore, zincrby,
   *   zcard, eval, evalsha, publish, scan, ping
   */
  operations?: readonly string[];

  /**
   * Report `cache_size_bytes{server}` and `redis_memory_usage_ratio{server}` for every Redis server
   * the process is connected to. The readings come from `INFO memory` over one extra, dedicated
   * connection per server (named `vigil-info`), opened at the first metrics collection with the
   * same options as the application's client; switch this off where that connection is not
   * wanted or the Redis user may not run INFO.
   * Environment variable `VIGIL_REDIS_MEMORY_METRICS` (true / false).
   * @default true
   */
  memoryMetrics?: boolean;

  /**
   * A memory reading younger than this many milliseconds is reported as it is; an older one is
   * read again (INFO memory) when metrics are collected. 0 reads at every collection.
   * Environment variable `VIGIL_REDIS_MEMORY_REFRESH_INTERVAL_MS`. A number from 0 to 3600000.
   * @default 15000 (Prometheus' default scrape interval)
   */
  memoryRefreshIntervalMs?: number;

  /**
   * The longest a metrics collection waits for fresh memory readings, in milliseconds, and the
   * time after which an unanswered INFO is abandoned (its connection is closed and opened anew
   * next time). When it passes, the collection goes on with the last reading each server gave,
   * so a Redis that stops answering never stalls `/metrics`.
   * Environment variable `VIGIL_REDIS_MEMORY_TIMEOUT_MS`. A number from 1 to 60000.
   * @default 500
   */
  memoryTimeoutMs?: number;

  /**
   * Where the per-command metrics accumulate. @vigil/node hands the process-wide registry to its
   * readers; tests may give their own.
   * @default leanRegistry() from @vigil/catalog (the process-wide registry)
   */
  registry?: LeanRegistry;
}
