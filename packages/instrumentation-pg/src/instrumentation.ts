// pg + pg-pool -> the documented db_* metrics (004 §1.2), with no code change.
//
// Where it measures. Every statement pg's JavaScript client runs is a `Query`
// object (pg/lib/query.js), whichever way the app called `client.query` or
// `pool.query`: a string, a query config `{ text, values, name }`, a name-only
// prepared statement, a promise, a callback, a callback inside the config.
// vigil wraps three methods of Query.prototype:
//
//   submit(connection)            the statement goes to the server: start time
//   handleReadyForQuery(conn)     it finished: duration
//   handleError(err, conn)        it failed: duration, error class, deadlock
//
// So vigil never touches the app's arguments, callbacks or the promise pg
// returns: the app gets pg's own promise (same object, same rejection, and an
// unhandled rejection stays unhandled), pg's own callback invocation and pg's
// own error objects. Nothing is allocated per query. The duration is the
// statement's time on the connection (sent -> result), not time spent waiting
// for a pool client (that shows in db_connection_pool_waiting) or queued behind
// another query on the same client (a pattern pg 8 deprecates).
//
// Submittables: a pg `Query` instance given to client.query is measured like
// any other. Other submittables (pg-cursor, pg-query-stream, custom ones) are
// passed through untouched and not measured: they page through results under
// the app's control, so their "duration" is not a query duration.
//
// Failed connection attempts are seen by wrapping the callback pg passes to
// the internal Client.prototype._connect (both the callback and the promise
// form of connect(), and every pool connect, go through it), again without
// touching what the app gets back.
//
// Pools: pg-pool's Pool.prototype.newClient (every pool calls it to open its
// first client) adds the pool to a set of live pools held by WeakRef; a pool
// that ended (or was collected) leaves at the next read. Observable gauges read
// them at collection time: size = options.max, usage = totalCount - idleCount
// (clients checked out), waiting = waitingCount.
//
// Next to the upstream @opentelemetry/instrumentation-pg (traces): it wraps
// Client.prototype.query/connect and Pool.prototype.connect/end; vigil wraps
// none of those, so neither removes the other's patches.
import type { BatchObservableCallback, Meter, Observable } from '@opentelemetry/api';
import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
  isWrapped,
  safeExecuteInTheMiddle,
} from '@opentelemetry/instrumentation';
import {
  applicationErrorsTotal,
  createObservableGauge,
  dbConnectionPoolSize,
  dbConnectionPoolUsage,
  dbConnectionPoolWaiting,
  dbDeadlocksTotal,
  dbQueryDurationSeconds,
  dbSlowQueriesTotal,
  leanRegistry,
  logOnce,
  numberSetting,
  type HistogramSeries,
  type LeanHistogramFamily,
  type LeanValueFamily,
} from '@vigil/catalog';
import { nowMs } from '@vigil/catalog/clock';
import { DEADLOCK_DETECTED, errorType, sqlState } from './errors';
import type {
  ClientPrototype,
  ConnectionLike,
  PgDefaults,
  PgModule,
  PoolLike,
  PoolPrototype,
  QueryLike,
  QueryPrototype,
} from './internal-types';
import { cleanName, defaultPoolName, poolInfo, PoolSet } from './pools';
import { StatementCache, TABLE_UNKNOWN, type StatementInfo } from './sql';
import type { PgInstrumentationConfig, PgPoolInfo } from './types';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version';

/** pg versions whose Query / Client internals this package knows. */
const PG_VERSIONS = ['>=8.0.0 <9'];
/** pg-pool versions with totalCount / idleCount / waitingCount and options.max. */
const PG_POOL_VERSIONS = ['>=2.0.0 <4'];

/** Default of slowQueryMs. */
export const DEFAULT_SLOW_QUERY_MS = 1000;
const DEFAULT_CACHE_ENTRIES = 1000;
const DEFAULT_CACHED_LENGTH = 4096;

/** The `component` label of application_errors_total for database errors. */
export const DATABASE_COMPONENT = 'database';

const START: unique symbol = Symbol('vigil.pg.start');
const NAMED_TEXT: unique symbol = Symbol('vigil.pg.text');
/** START after the query was recorded (a query is recorded once). */
const DONE = -1;

interface TaggedQuery extends QueryLike {
  [START]?: number;
  [NAMED_TEXT]?: string;
}

const NO_TEXT: StatementInfo = Object.freeze({ operation: 'other', table: TABLE_UNKNOWN });
const SCOPE = { name: PACKAGE_NAME, version: PACKAGE_VERSION };

/**
 * A statement's labels (table, operation), and its db_query_duration_seconds series once it has
 * recorded: a cached statement then records without looking its labels up (callgrind: 430 of the
 * ~900 instructions vigil spent per query).
 */
class Statement {
  readonly labels: readonly [string, string];
  private series: HistogramSeries | undefined = undefined;
  /** The family's generation the series belongs to: a clear() drops the family's series. */
  private generation = -1;
  constructor(info: StatementInfo) {
    this.labels = [info.table, info.operation];
  }

  /**
   * Its series in the family. The overflow series is never kept: each measurement that goes
   * there is counted in vigil_metric_overflow_total by the family's lookup.
   */
  duration(family: LeanHistogramFamily): HistogramSeries {
    if (this.generation === family.generation) return this.series!;
    const series = family.get(this.labels);
    if (!family.isOverflow(series)) {
      this.series = series;
      this.generation = family.generation;
    }
    return series;
  }
}

/** Settings and families resolved from one config. */
interface State {
  readonly slowSeconds: number;
  readonly cache: StatementCache<Statement>;
  /** Queries without a text (a submittable that names none). */
  readonly textless: Statement;
  readonly duration: LeanHistogramFamily;
  readonly slow: LeanValueFamily;
  readonly deadlocks: LeanValueFamily;
  readonly errors: LeanValueFamily;
  readonly poolName: PgInstrumentationConfig['poolName'];
}

interface Gauges {
  readonly meter: Meter;
  readonly callback: BatchObservableCallback;
  readonly observables: Observable[];
}

// Label scratch array: families copy values when they create a series.
const errorLabels: string[] = ['', DATABASE_COMPONENT];

function moduleExports<T>(mod: unknown): T {
  const m = mod as { [Symbol.toStringTag]?: unknown; default?: unknown };
  return (m && m[Symbol.toStringTag] === 'Module' && m.default ? m.default : m) as T;
}

/** The class whose prototype owns pg.Pool's newClient / connect (pg-pool's Pool). */
function poolClassOf(pg: PgModule | undefined): { prototype: PoolPrototype } | undefined {
  let proto: object | null | undefined = pg?.Pool?.prototype;
  for (let i = 0; proto && i < 8; i++, proto = Object.getPrototypeOf(proto)) {
    const own = (name: string) => Object.prototype.hasOwnProperty.call(proto, name);
    if (own('newClient') || own('connect')) return { prototype: proto as PoolPrototype };
  }
  return undefined;
}

function wholeNumber(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  logOnce(`setting:${name}:${String(v).slice(0, 40)}`, 'warn', `${name}=${String(v).slice(0, 40)} is not a whole number >= 0; using ${fallback}`);
  return fallback;
}

/**
 * Metrics for PostgreSQL through `pg` 8 and `pg-pool` 2–3: `db_query_duration_seconds`,
 * `db_slow_queries_total`, `db_deadlocks_total` by `table` and `operation`, failed queries in
 * `application_errors_total{component="database"}`, and `db_connection_pool_size`,
 * `db_connection_pool_usage`, `db_connection_pool_waiting` by `pool`.
 */
export class PgInstrumentation extends InstrumentationBase<PgInstrumentationConfig> {
  // `declare`: these are set from the base constructor (setConfig, _updateMetricInstruments),
  // before field initialisers would run, so they must not have initialisers.
  declare private _state: State;
  declare private _gauges: Gauges | undefined;
  declare private _livePools: PoolSet | undefined;
  declare private _pgDefaults: PgDefaults | undefined;

  constructor(config: PgInstrumentationConfig = {}) {
    super(PACKAGE_NAME, PACKAGE_VERSION, config);
  }

  override setConfig(config: PgInstrumentationConfig = {}): void {
    super.setConfig(config);
    const c = this._config;
    const registry = c.registry ?? leanRegistry();
    this._state = {
      slowSeconds: numberSetting('VIGIL_DB_SLOW_QUERY_MS', c.slowQueryMs, DEFAULT_SLOW_QUERY_MS, { min: 1 }) / 1000,
      cache: new StatementCache(
        wholeNumber('maxTableCacheEntries', c.maxTableCacheEntries, DEFAULT_CACHE_ENTRIES),
        wholeNumber('maxCachedStatementLength', c.maxCachedStatementLength, DEFAULT_CACHED_LENGTH),
        (info) => new Statement(info),
      ),
      textless: new Statement(NO_TEXT),
      duration: registry.histogram(dbQueryDurationSeconds, SCOPE),
      slow: registry.values(dbSlowQueriesTotal, SCOPE),
      deadlocks: registry.values(dbDeadlocksTotal, SCOPE),
      errors: registry.values(applicationErrorsTotal, SCOPE),
      poolName: typeof c.poolName === 'function' ? c.poolName : undefined,
    };
  }

  private get _pools(): PoolSet {
    return (this._livePools ??= new PoolSet());
  }

  protected override _updateMetricInstruments(): void {
    const previous = this._gauges;
    if (previous) {
      try {
        previous.meter.removeBatchObservableCallback(previous.callback, previous.observables);
      } catch {
        // A meter that cannot remove a callback is being shut down: nothing to keep.
      }
    }
    const meter = this.meter;
    const size = createObservableGauge(meter, dbConnectionPoolSize);
    const usage = createObservableGauge(meter, dbConnectionPoolUsage);
    const waiting = createObservableGauge(meter, dbConnectionPoolWaiting);
    const callback: BatchObservableCallback = (result) => {
      try {
        for (const [pool, r] of this._pools.read()) {
          const attributes = { pool };
          result.observe(size, r.size, attributes);
          result.observe(usage, r.usage, attributes);
          result.observe(waiting, r.waiting, attributes);
        }
      } catch (e) {
        this._internalError('reading pool gauges', e);
      }
    };
    const observables = [size, usage, waiting];
    meter.addBatchObservableCallback(callback, observables);
    this._gauges = { meter, callback, observables };
  }

  protected init() {
    const patchQueryFile = (Query: unknown) => {
      this._patchQuery(moduleExports<{ prototype: QueryPrototype }>(Query));
      return Query;
    };
    const unpatchQueryFile = (Query: unknown) => this._unpatchQuery(moduleExports<{ prototype: QueryPrototype }>(Query));
    const patchClientFile = (Client: unknown) => {
      this._patchClient(moduleExports<{ prototype: ClientPrototype }>(Client));
      return Client;
    };
    const unpatchClientFile = (Client: unknown) => this._unpatchClient(moduleExports<{ prototype: ClientPrototype }>(Client));
    return [
      new InstrumentationNodeModuleDefinition(
        'pg',
        PG_VERSIONS,
        (mod: unknown) => {
          const pg = moduleExports<PgModule>(mod);
          this._pgDefaults = pg?.defaults;
          this._patchQuery(pg?.Query ?? pg?.Client?.Query);
          this._patchClient(pg?.Client);
          // pg.Pool extends pg-pool's Pool: patch it here too, so pools are seen even when
          // pg-pool was loaded before vigil or pg carries its own copy of it.
          this._patchPool(poolClassOf(pg));
          return mod;
        },
        (mod: unknown) => {
          const pg = moduleExports<PgModule>(mod);
          this._unpatchQuery(pg?.Query ?? pg?.Client?.Query);
          this._unpatchClient(pg?.Client);
          this._unpatchPool(poolClassOf(pg));
        },
        [
          new InstrumentationNodeModuleFile('pg/lib/query.js', PG_VERSIONS, patchQueryFile, unpatchQueryFile),
          new InstrumentationNodeModuleFile('pg/lib/client.js', PG_VERSIONS, patchClientFile, unpatchClientFile),
        ],
      ),
      new InstrumentationNodeModuleDefinition(
        'pg-pool',
        PG_POOL_VERSIONS,
        (mod: unknown) => {
          this._patchPool(moduleExports<{ prototype: PoolPrototype }>(mod));
          return mod;
        },
        (mod: unknown) => this._unpatchPool(moduleExports<{ prototype: PoolPrototype }>(mod)),
      ),
    ];
  }

  // ---------------------------------------------------------------- patching

  private _patchQuery(Query: { prototype: QueryPrototype } | undefined): void {
    const proto = Query?.prototype;
    if (!proto) return;
    if (typeof proto.submit !== 'function' || typeof proto.handleReadyForQuery !== 'function' || typeof proto.handleError !== 'function') {
      logOnce('instrumentation-pg:query-shape', 'warn', '@vigil/instrumentation-pg: this pg has no Query.submit/handleReadyForQuery/handleError; query metrics are off');
      return;
    }
    const inst = this;
    this._wrap(proto, 'submit', (original) =>
      function submit(this: TaggedQuery) {
        inst._onSubmit(this, arguments[0]);
        return (original as Function).apply(this, arguments);
      } as QueryPrototype['submit'],
    );
    this._wrap(proto, 'handleReadyForQuery', (original) =>
      function handleReadyForQuery(this: TaggedQuery) {
        // A row that failed to parse makes pg report the query through handleError instead.
        if (!this._canceledDueToError) inst._onFinish(this, false, undefined);
        return (original as Function).apply(this, arguments);
      } as QueryPrototype['handleReadyForQuery'],
    );
    this._wrap(proto, 'handleError', (original) =>
      function handleError(this: TaggedQuery) {
        inst._onFinish(this, true, this._canceledDueToError || arguments[0]);
        return (original as Function).apply(this, arguments);
      } as QueryPrototype['handleError'],
    );
  }

  private _unpatchQuery(Query: { prototype: QueryPrototype } | undefined): void {
    const proto = Query?.prototype;
    if (!proto) return;
    for (const name of ['submit', 'handleReadyForQuery', 'handleError'] as const) {
      if (isWrapped(proto[name])) this._unwrap(proto, name);
    }
  }

  private _patchClient(Client: { prototype: ClientPrototype } | undefined): void {
    const proto = Client?.prototype;
    if (!proto || typeof proto._connect !== 'function') return;
    const inst = this;
    this._wrap(proto, '_connect', (original) =>
      function _connect(this: unknown, callback: unknown) {
        if (typeof callback !== 'function') return (original as Function).apply(this, arguments);
        const args = Array.prototype.slice.call(arguments);
        args[0] = function connected(this: unknown, err: unknown) {
          if (err) inst._onConnectError(err);
          return (callback as Function).apply(this, arguments);
        };
        return (original as Function).apply(this, args);
      } as ClientPrototype['_connect'],
    );
  }

  private _unpatchClient(Client: { prototype: ClientPrototype } | undefined): void {
    const proto = Client?.prototype;
    if (proto && isWrapped(proto._connect)) this._unwrap(proto, '_connect');
  }

  /**
   * Pools are seen through Pool.prototype.newClient, which every pool calls to open its first
   * client (before any caller can wait). Not through connect/end: the upstream
   * @opentelemetry/instrumentation-pg wraps those with shimmer, which unwraps whatever wrapper
   * it finds first, so the two would remove each other's patches. A pool that ended is
   * dropped when the gauges are read. pg-pool versions without newClient fall back to connect.
   */
  private _patchPool(Pool: { prototype: PoolPrototype } | undefined): void {
    const proto = Pool?.prototype;
    if (!proto) return;
    const method = typeof proto.newClient === 'function' ? 'newClient' : typeof proto.connect === 'function' ? 'connect' : undefined;
    if (!method) return;
    const inst = this;
    this._wrap(proto, method, (original) =>
      function (this: PoolLike) {
        inst._trackPool(this);
        return (original as Function).apply(this, arguments);
      } as PoolPrototype['connect'],
    );
  }

  private _unpatchPool(Pool: { prototype: PoolPrototype } | undefined): void {
    const proto = Pool?.prototype;
    if (!proto) return;
    if (isWrapped(proto.newClient)) this._unwrap(proto, 'newClient');
    if (isWrapped(proto.connect)) this._unwrap(proto, 'connect');
  }

  // ---------------------------------------------------------------- recording

  private _onSubmit(query: TaggedQuery, connection: unknown): void {
    // The clock is read before the try block: inside one it is twice as costly (catalog's clock.ts).
    const start = nowMs();
    try {
      query[START] = start;
      const { text, name } = query;
      if ((typeof text !== 'string' || text === '') && typeof name === 'string') {
        // A name-only call of a prepared statement: the text is the connection's.
        const con = connection as ConnectionLike & { submittedNamedStatements?: Record<string, unknown> };
        const prepared = con?.parsedStatements?.[name] ?? con?.submittedNamedStatements?.[name];
        if (typeof prepared === 'string') query[NAMED_TEXT] = prepared;
      }
    } catch (e) {
      this._internalError('timing a query', e);
    }
  }

  private _onFinish(query: TaggedQuery, failed: boolean, err: unknown): void {
    const end = nowMs();
    try {
      const start = query[START];
      if (start === DONE) return;
      query[START] = DONE;
      const s = this._state;
      const text = typeof query.text === 'string' && query.text !== '' ? query.text : query[NAMED_TEXT];
      const statement = typeof text === 'string' ? s.cache.get(text) : s.textless;
      const labels = statement.labels;
      if (start !== undefined) {
        const seconds = (end - start) / 1000;
        statement.duration(s.duration).record(seconds);
        if (seconds > s.slowSeconds) s.slow.get(labels).add(1);
      }
      if (failed) {
        if (sqlState(err) === DEADLOCK_DETECTED) s.deadlocks.get(labels).add(1);
        errorLabels[0] = errorType(err);
        s.errors.get(errorLabels).add(1);
      }
    } catch (e) {
      this._internalError('recording a query', e);
    }
  }

  private _onConnectError(err: unknown): void {
    try {
      errorLabels[0] = errorType(err);
      this._state.errors.get(errorLabels).add(1);
    } catch (e) {
      this._internalError('recording a connection error', e);
    }
  }

  private _trackPool(pool: PoolLike): void {
    try {
      const pools = this._pools;
      if (pools.has(pool) || pool.ending) return;
      const info = poolInfo(pool.options, this._pgDefaults);
      pools.add(pool, this._poolName(info));
    } catch (e) {
      this._internalError('tracking a pool', e);
    }
  }

  private _poolName(info: PgPoolInfo): string {
    const hook = this._state.poolName;
    if (hook) {
      const name = safeExecuteInTheMiddle(
        () => hook(info),
        (e) => {
          if (e) logOnce('instrumentation-pg:poolName', 'warn', `@vigil/instrumentation-pg: the poolName hook threw (${String((e as Error)?.message ?? e).slice(0, 200)}); using the default pool name`);
        },
        true,
      );
      const clean = cleanName(name);
      if (clean !== undefined) return clean;
    }
    return defaultPoolName(info);
  }

  private _internalError(what: string, e: unknown): void {
    const message = String((e as Error)?.message ?? e).slice(0, 200);
    logOnce(`instrumentation-pg:${what}`, 'warn', `@vigil/instrumentation-pg: error while ${what} (${message}); the app is unaffected, this metric may be incomplete`);
  }
}
