import type { InstrumentationConfig } from '@opentelemetry/instrumentation';
import type { LeanRegistry } from '@vigil/catalog';

/** What vigil knows about a pg-pool Pool when it names it. Never holds the password. */
export interface PgPoolInfo {
  /** The user the pool connects as (pool option, connection string, PGUSER, then the OS user). */
  readonly user: string;
  /** Host name, address or socket directory (option, connection string, PGHOST, then `localhost`). */
  readonly host: string;
  /** Port (option, connection string, PGPORT, then 5432). */
  readonly port: number;
  /** Database (option, connection string, PGDATABASE, then the user name). */
  readonly database: string;
  /** The pool's `application_name` option (or PGAPPNAME), if any. */
  readonly applicationName: string | undefined;
  /** The pool's maximum number of clients. */
  readonly max: number;
}

/**
 * Configuration of {@link PgInstrumentation}. Every setting resolves in vigil's order:
 * this code option, then the environment variable named, then the default.
 */
export interface PgInstrumentationConfig extends InstrumentationConfig {
  /**
   * A query slower than this many milliseconds counts in `db_slow_queries_total{table,operation}`
   * (whether it succeeded or failed). Environment variable `VIGIL_DB_SLOW_QUERY_MS`.
   * Must be a number >= 1; a bad value logs once and falls back to the default.
   * One second matches the seed's largest finite `db_query_duration_seconds` bucket (1.0)
   * and PostgreSQL's customary `log_min_duration_statement` setting.
   * @default 1000
   */
  slowQueryMs?: number;

  /**
   * Names a pool for the `pool` label of `db_connection_pool_size`, `db_connection_pool_usage` and
   * `db_connection_pool_waiting`. Called once per pool, when the pool first hands out a client.
   * Return a name, or undefined for the default. The result is trimmed, stripped of control
   * characters and cut to 128 characters. A hook that throws logs once and the default is used.
   * Pools that end up with the same name are added together under it.
   * Example: `poolName: (pool) => pool.applicationName`.
   * @default `user@host:port/database` of the pool (never the password)
   */
  poolName?: (pool: PgPoolInfo) => string | undefined;

  /**
   * How many statement texts keep their analysed `table` and `operation` labels in memory.
   * 0 analyses every statement anew (a linear scan of its text).
   * @default 1000
   */
  maxTableCacheEntries?: number;

  /**
   * Statement texts longer than this many characters are analysed each time and never kept in
   * the cache, so the cache holds at most `maxTableCacheEntries * maxCachedStatementLength` characters.
   * @default 4096
   */
  maxCachedStatementLength?: number;

  /**
   * Where the per-query metrics accumulate. @vigil/node hands the process-wide registry to its
   * readers; tests may give their own.
   * @default leanRegistry() from @vigil/catalog (the process-wide registry)
   */
  registry?: LeanRegistry;
}
