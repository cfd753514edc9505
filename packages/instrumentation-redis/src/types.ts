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
   * Report `cache_size_bytes{server}` (INFO memory `used_memory`) and
   * `redis_memory_usage_ratio{server}` (`used_memory` over `maxmemory`, or over
   * `total_system_memory` when `maxmemory` is 0) for every Redis server the process is connected
   * to, `server` being host:port as the application configured it (or the socket path). The
   * readings are taken in the background over one extra, dedicated connection per server (named
   * `vigil-info`, opened with the address, TLS options and credentials of one of the application's
   * clients); switch this off where that connection is not wanted or the Redis user may not run
   * INFO. Environment variable `VIGIL_REDIS_MEMORY_METRICS` (true / false).
   * @default true
   */
  memoryMetrics?: boolean;

  /**
   * How often, in milliseconds, INFO memory is read from each server (the first reading comes at
   * most one second after the first connection). A scrape reports the latest reading and never
   * waits on Redis. A server the process no longer has a ready connection to disappears from the
   * gauges at the next reading. Environment variable `VIGIL_REDIS_MEMORY_REFRESH_INTERVAL_MS`.
   * A number from 100 to 3600000.
   * @default 15000 (Prometheus' default scrape interval)
   */
  memoryRefreshIntervalMs?: number;

  /**
   * How long, in milliseconds, an INFO memory may go unanswered before vigil abandons it and
   * closes its dedicated connection (a new one is opened for the next reading); the server keeps
   * its last reading meanwhile. Environment variable `VIGIL_REDIS_MEMORY_TIMEOUT_MS`.
   * A number from 1 to 60000.
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
