import { expect } from 'chai';
import type * as PgModule from 'pg';
import { dbQueryDurationSeconds, LeanRegistry } from '@vigil/catalog';
import {
  freePort,
  inProcessMetrics,
  parseMetrics,
  pgConfig,
  registryText,
  requireServices,
  sampleValue,
  samplesOf,
  type InProcessMetrics,
  type Sample,
} from '@vigil/testing';
import { PgInstrumentation, type PgInstrumentationConfig } from '../src';

const baseConfig: PgInstrumentationConfig = { poolName: (p) => p.applicationName };
// Created in before(): the instrumentation exists before this file requires pg. Another
// package's tests may have loaded pg already; require-in-the-middle still patches it on the
// first require after the hook exists, so the require (not a hoisted import) gets the patched
// library. after() disables it again, so tests of other packages run against plain pg.
let instrumentation: PgInstrumentation;
let pg: typeof PgModule;

/**
 * Applies or removes this instance's patches on the loaded pg directly. In one process the first
 * instrumentation to see a module keeps it (require-in-the-middle caches the patched module), so
 * if another package's tests patched pg first, this makes this instance the active one; it is
 * also how the tests compare pg with and without vigil. (The --require / --import paths are
 * tested in spawned processes, preload.test.ts.)
 */
function patchPg(on: boolean): void {
  const definition = instrumentation.getModuleDefinitions().find((d) => d.name === 'pg')!;
  if (on) definition.patch!(pg);
  else definition.unpatch!(pg);
}

type Client = PgModule.Client;
type Pool = PgModule.Pool;
type Result = PgModule.QueryResult;

const DB = pgConfig();
const DEFAULT_POOL = `${DB.user}@${DB.host}:${DB.port}/${DB.database}`;

let metrics: InProcessMetrics;

async function scrape(): Promise<Sample[]> {
  return parseMetrics(await metrics.scrape());
}
function value(samples: Sample[], name: string, labels: Record<string, string>): number {
  return sampleValue(samples, name, labels) ?? 0;
}
function queries(samples: Sample[], table: string, operation: string): number {
  return value(samples, 'db_query_duration_seconds_count', { table, operation });
}
function errors(samples: Sample[], errorType: string): number {
  return value(samples, 'application_errors_total', { error_type: errorType, component: 'database' });
}
function poolGauges(samples: Sample[], pool: string) {
  return {
    size: sampleValue(samples, 'db_connection_pool_size', { pool }),
    usage: sampleValue(samples, 'db_connection_pool_usage', { pool }),
    waiting: sampleValue(samples, 'db_connection_pool_waiting', { pool }),
  };
}

async function connected(extra: PgModule.ClientConfig = {}): Promise<Client> {
  const c = new pg.Client({ ...DB, ...extra });
  await c.connect();
  return c;
}

async function until(check: () => Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The ways an app runs one statement; each returns pg's result. */
type Runner = (text: string, values?: unknown[]) => Promise<Result>;
function callbackToPromise(start: (cb: (err: Error | null | undefined, res: Result) => void) => void): Promise<Result> {
  return new Promise((resolve, reject) => start((err, res) => (err ? reject(err) : resolve(res))));
}
function runners(client: Client, pool: Pool): Record<string, Runner> {
  return {
    'Client, promise, (text, values)': (text, values) => client.query(text, values),
    'Client, callback, (text, values, cb)': (text, values) =>
      callbackToPromise((cb) => (values ? client.query(text, values, cb) : client.query(text, cb))),
    'Client, promise, query config { text, values }': (text, values) => client.query({ text, values }),
    'Client, callback inside the query config': (text, values) =>
      callbackToPromise((callback) => client.query({ text, values, callback } as PgModule.QueryConfig)),
    'Pool, promise, (text, values)': (text, values) => pool.query(text, values),
    'Pool, callback, (text, values, cb)': (text, values) =>
      callbackToPromise((cb) => (values ? pool.query(text, values, cb) : pool.query(text, cb))),
    'Pool, promise, query config { text, values }': (text, values) => pool.query({ text, values }),
  };
}

// Every statement kind, with the labels it must get.
const KINDS: Array<[string, unknown[] | undefined, string, string]> = [
  ['CREATE TABLE vigil_pg_kinds (id int PRIMARY KEY, v text)', undefined, 'vigil_pg_kinds', 'create'],
  ['CREATE TABLE vigil_pg_kinds_copy (id int, v text)', undefined, 'vigil_pg_kinds_copy', 'create'],
  ['INSERT INTO vigil_pg_kinds (id, v) VALUES ($1, $2), ($3, $4)', [1, 'a', 2, 'b'], 'vigil_pg_kinds', 'insert'],
  ['SELECT v FROM vigil_pg_kinds WHERE id = $1', [1], 'vigil_pg_kinds', 'select'],
  ['SELECT k.v FROM "public"."vigil_pg_kinds" k JOIN vigil_pg_kinds_copy c ON c.id = k.id', undefined, 'vigil_pg_kinds', 'select'],
  ['UPDATE vigil_pg_kinds SET v = $2 WHERE id = $1', [1, 'c'], 'vigil_pg_kinds', 'update'],
  ['WITH c AS (SELECT id FROM vigil_pg_kinds) SELECT count(*) FROM c', undefined, 'vigil_pg_kinds', 'select'],
  ['INSERT INTO vigil_pg_kinds_copy SELECT * FROM vigil_pg_kinds', undefined, 'vigil_pg_kinds_copy', 'insert'],
  ['UPDATE vigil_pg_kinds_copy SET v = k.v FROM vigil_pg_kinds k WHERE k.id = vigil_pg_kinds_copy.id', undefined, 'vigil_pg_kinds_copy', 'update'],
  ['DELETE FROM vigil_pg_kinds_copy USING vigil_pg_kinds k WHERE k.id = vigil_pg_kinds_copy.id', undefined, 'vigil_pg_kinds_copy', 'delete'],
  ['MERGE INTO vigil_pg_kinds t USING (SELECT 3 AS id) s ON t.id = s.id WHEN NOT MATCHED THEN INSERT (id, v) VALUES (s.id, $1)', ['m'], 'vigil_pg_kinds', 'merge'],
  ['DELETE FROM vigil_pg_kinds WHERE id = $1', [2], 'vigil_pg_kinds', 'delete'],
  ['BEGIN', undefined, 'none', 'begin'],
  ['SAVEPOINT vigil_sp', undefined, 'none', 'savepoint'],
  ['LOCK TABLE vigil_pg_kinds IN SHARE MODE', undefined, 'vigil_pg_kinds', 'lock'],
  ['ROLLBACK TO SAVEPOINT vigil_sp', undefined, 'none', 'savepoint'],
  ['COMMIT', undefined, 'none', 'commit'],
  ['BEGIN', undefined, 'none', 'begin'],
  ['ROLLBACK', undefined, 'none', 'rollback'],
  ['SET search_path TO public', undefined, 'none', 'set'],
  ['SHOW search_path', undefined, 'none', 'show'],
  ['DO $$ BEGIN PERFORM 1; END $$', undefined, 'none', 'do'],
  ['CALL vigil_pg_proc()', undefined, 'none', 'call'],
  ['COPY (SELECT * FROM vigil_pg_kinds) TO STDOUT', undefined, 'vigil_pg_kinds', 'copy'],
  ['ALTER TABLE vigil_pg_kinds ADD COLUMN w int', undefined, 'vigil_pg_kinds', 'alter'],
  ['TRUNCATE vigil_pg_kinds', undefined, 'vigil_pg_kinds', 'truncate'],
  ['EXPLAIN SELECT * FROM vigil_pg_kinds', undefined, 'unknown', 'other'],
  ['DROP TABLE vigil_pg_kinds', undefined, 'vigil_pg_kinds', 'drop'],
  ['DROP TABLE vigil_pg_kinds_copy', undefined, 'vigil_pg_kinds_copy', 'drop'],
];

describe('PgInstrumentation against PostgreSQL', function () {
  this.timeout(60_000);
  let setup: Client;

  before(async () => {
    await requireServices('postgres');
    instrumentation = new PgInstrumentation(baseConfig);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    pg = require('pg') as typeof PgModule;
    patchPg(true);
    metrics = inProcessMetrics([instrumentation]);
    setup = await connected();
    await setup.query(`
      DROP TABLE IF EXISTS vigil_pg_kinds, vigil_pg_kinds_copy, vigil_pg_named, vigil_pg_slow, vigil_pg_deadlock, vigil_pg_same, vigil_pg_sub;
      CREATE OR REPLACE PROCEDURE vigil_pg_proc() LANGUAGE plpgsql AS $$ BEGIN PERFORM 1; END $$;
      CREATE TABLE vigil_pg_named (id int PRIMARY KEY, v text);
      INSERT INTO vigil_pg_named VALUES (1, 'one'), (2, 'two');
      CREATE TABLE vigil_pg_slow (id int);
      INSERT INTO vigil_pg_slow VALUES (1);
      CREATE TABLE vigil_pg_deadlock (id int PRIMARY KEY, n int);
      INSERT INTO vigil_pg_deadlock VALUES (1, 0), (2, 0);
      CREATE TABLE vigil_pg_sub (id int);
    `);
  });

  after(async () => {
    instrumentation.setConfig(baseConfig);
    await setup?.query('DROP TABLE IF EXISTS vigil_pg_named, vigil_pg_slow, vigil_pg_deadlock, vigil_pg_same, vigil_pg_sub; DROP PROCEDURE IF EXISTS vigil_pg_proc()');
    await setup?.end();
    await metrics?.shutdown();
    instrumentation?.disable();
    if (pg) patchPg(false);
  });

  afterEach(() => instrumentation.setConfig(baseConfig));

  it('records every statement kind through Client and Pool, promise and callback, text and query config', async () => {
    const client = await connected();
    // One client in the pool keeps BEGIN ... COMMIT on one session.
    const pool = new pg.Pool({ ...DB, max: 1 });
    const ways = runners(client, pool);
    const expected = new Map<string, number>();
    for (const [, , table, operation] of KINDS) {
      const key = `${table}|${operation}`;
      expected.set(key, (expected.get(key) ?? 0) + Object.keys(ways).length);
    }
    const before = await scrape();
    for (const [way, run] of Object.entries(ways)) {
      for (const [text, values] of KINDS) {
        try {
          await run(text, values);
        } catch (e) {
          throw new Error(`${way}: ${text} failed: ${(e as Error).message}`);
        }
      }
    }
    const after = await scrape();
    for (const [key, n] of expected) {
      const [table, operation] = key.split('|') as [string, string];
      expect(queries(after, table, operation) - queries(before, table, operation), `${table}/${operation}`).to.equal(n);
    }
    // The histogram has the seed's buckets.
    const les = samplesOf(after, 'db_query_duration_seconds_bucket', { table: 'vigil_pg_kinds', operation: 'insert' }).map((s) => s.labels.le);
    expect(les).to.deep.equal([...dbQueryDurationSeconds.buckets!.filter((b) => b !== Infinity).map(String), '+Inf']);
    await client.end();
    await pool.end();
  });

  it('records named prepared statements, including name-only calls, through Client and Pool', async () => {
    const client = await connected();
    const pool = new pg.Pool({ ...DB, max: 1 });
    const before = await scrape();
    const byId = { name: 'vigil_named_by_id', text: 'SELECT v FROM vigil_pg_named WHERE id = $1' };
    expect((await client.query({ ...byId, values: [1] })).rows).to.deep.equal([{ v: 'one' }]);
    expect((await client.query({ ...byId, values: [2] })).rows).to.deep.equal([{ v: 'two' }]);
    // Name only: pg runs the statement prepared on this connection.
    expect((await client.query({ name: byId.name, values: [1] } as PgModule.QueryConfig)).rows).to.deep.equal([{ v: 'one' }]);
    const viaCallback = await callbackToPromise((cb) => client.query({ ...byId, values: [2] }, cb));
    expect(viaCallback.rows).to.deep.equal([{ v: 'two' }]);
    expect((await pool.query({ ...byId, values: [1] })).rows).to.deep.equal([{ v: 'one' }]);
    expect((await pool.query({ ...byId, values: [2] })).rows).to.deep.equal([{ v: 'two' }]);
    const after = await scrape();
    expect(queries(after, 'vigil_pg_named', 'select') - queries(before, 'vigil_pg_named', 'select')).to.equal(6);
    await client.end();
    await pool.end();
  });

  it('returns exactly what pg returns without it: same results, same errors, same objects', async () => {
    const script: Array<[string, unknown[]?]> = [
      ['SELECT id, v, now() > $1::timestamptz AS later FROM vigil_pg_named ORDER BY id', ['2000-01-01']],
      ['SELECT 1 AS a; SELECT 2 AS b'],
      ['INSERT INTO vigil_pg_named VALUES ($1, $2) RETURNING *', [3, 'three']],
      ['INSERT INTO vigil_pg_named VALUES ($1, $2)', [3, 'again']], // unique violation
      ['SELECT * FROM vigil_pg_missing'], // undefined table
      ['SELECT $1::int', ['not a number']], // invalid text representation
      ['DELETE FROM vigil_pg_named WHERE id = $1', [3]],
      [''], // empty query
    ];
    const shape = (r: unknown) => {
      if (r instanceof Error) {
        const e = r as PgModule.DatabaseError;
        return { error: e.constructor.name, isDatabaseError: e instanceof pg.DatabaseError, code: e.code, message: e.message, detail: e.detail };
      }
      const results = (Array.isArray(r) ? r : [r]) as Result[];
      return results.map((x) => ({ command: x.command, rowCount: x.rowCount, rows: x.rows.map((row) => ({ ...row, later: undefined })), fields: x.fields.map((f) => [f.name, f.dataTypeID]) }));
    };
    async function runAll(): Promise<unknown[]> {
      const client = await connected();
      const pool = new pg.Pool({ ...DB, max: 2 });
      const out: unknown[] = [];
      for (const [text, values] of script) {
        out.push(shape(await client.query(text, values).catch((e: unknown) => e)));
        out.push(shape(await callbackToPromise((cb) => client.query(text, values ?? [], cb)).catch((e: unknown) => e)));
        out.push(shape(await pool.query(text, values).catch((e: unknown) => e)));
      }
      // What the call itself returns.
      const p = client.query('SELECT 1');
      out.push({ promise: p instanceof Promise, constructor: p.constructor.name });
      await p;
      out.push({ callbackReturns: client.query('SELECT 1', () => undefined) });
      const q = new pg.Query('SELECT 1 AS q');
      out.push({ submittableReturnedAsIs: client.query(q) === q });
      await new Promise((r) => q.on('end', r));
      await client.end();
      await pool.end();
      return out;
    }
    patchPg(false);
    const without = await runAll();
    patchPg(true);
    const before = await scrape();
    const withIt = await runAll();
    const after = await scrape();
    expect(withIt).to.deep.equal(without);
    // ...and it did measure the second run.
    expect(queries(after, 'vigil_pg_named', 'insert') - queries(before, 'vigil_pg_named', 'insert')).to.equal(6);
    // The INSERT of id 3 succeeds once, then violates the key twice; the next one three times.
    expect(errors(after, 'integrity_constraint_violation') - errors(before, 'integrity_constraint_violation')).to.equal(5);
    expect(errors(after, 'syntax_error_or_access_rule_violation') - errors(before, 'syntax_error_or_access_rule_violation')).to.equal(3);
    expect(errors(after, 'data_exception') - errors(before, 'data_exception')).to.equal(3);
  });

  it('passes other submittables (pg-cursor, pg-query-stream style) through untouched, and measures a pg.Query given as one', async () => {
    const client = await connected();
    const before = await scrape();
    const rows: unknown[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    // The smallest Submittable pg accepts: it drives the protocol itself.
    const submittable = {
      submit(connection: { query(text: string): void }) {
        connection.query('SELECT id FROM vigil_pg_sub');
      },
      handleRowDescription() {},
      handleDataRow(msg: { fields: unknown[] }) {
        rows.push(msg.fields);
      },
      handleCommandComplete() {},
      handleEmptyQuery() {},
      handlePortalSuspended() {},
      handleCopyInResponse() {},
      handleCopyData() {},
      handleError(err: Error) {
        throw err;
      },
      handleReadyForQuery() {
        done();
      },
    };
    const returned = client.query(submittable as unknown as PgModule.Submittable);
    expect(returned).to.equal(submittable);
    await finished;
    let after = await scrape();
    expect(queries(after, 'vigil_pg_sub', 'select') - queries(before, 'vigil_pg_sub', 'select')).to.equal(0);
    const q = new pg.Query('SELECT id FROM vigil_pg_sub');
    expect(client.query(q)).to.equal(q);
    await new Promise((r) => q.on('end', r));
    after = await scrape();
    expect(queries(after, 'vigil_pg_sub', 'select') - queries(before, 'vigil_pg_sub', 'select')).to.equal(1);
    await client.end();
  });

  it('counts a real slow query (pg_sleep) over slowQueryMs, and over VIGIL_DB_SLOW_QUERY_MS', async () => {
    const client = await connected();
    const slow = () => value(samplesOfNow, 'db_slow_queries_total', { table: 'vigil_pg_slow', operation: 'select' });
    let samplesOfNow = await scrape();
    const start = slow();
    instrumentation.setConfig({ ...baseConfig, slowQueryMs: 150 });
    await client.query('SELECT pg_sleep(0.3) FROM vigil_pg_slow');
    await client.query('SELECT id FROM vigil_pg_slow'); // fast: not counted
    samplesOfNow = await scrape();
    expect(slow() - start).to.equal(1);
    const prev = process.env.VIGIL_DB_SLOW_QUERY_MS;
    process.env.VIGIL_DB_SLOW_QUERY_MS = '150';
    try {
      instrumentation.setConfig(baseConfig);
      await callbackToPromise((cb) => client.query('SELECT pg_sleep(0.3) FROM vigil_pg_slow', cb));
      await client.query('SELECT id FROM vigil_pg_slow');
    } finally {
      if (prev === undefined) delete process.env.VIGIL_DB_SLOW_QUERY_MS;
      else process.env.VIGIL_DB_SLOW_QUERY_MS = prev;
    }
    samplesOfNow = await scrape();
    expect(slow() - start).to.equal(2);
    // At the default (1000 ms) a 0.3 s query is not slow.
    instrumentation.setConfig(baseConfig);
    await client.query('SELECT pg_sleep(0.3) FROM vigil_pg_slow');
    samplesOfNow = await scrape();
    expect(slow() - start).to.equal(2);
    // The duration histogram saw them in the (0.25, 0.5] bucket.
    const le025 = value(samplesOfNow, 'db_query_duration_seconds_bucket', { table: 'vigil_pg_slow', operation: 'select', le: '0.25' });
    const le05 = value(samplesOfNow, 'db_query_duration_seconds_bucket', { table: 'vigil_pg_slow', operation: 'select', le: '0.5' });
    expect(le05 - le025).to.be.at.least(3);
    await client.end();
  });

  it('counts a real deadlock (SQLSTATE 40P01) in db_deadlocks_total and application_errors_total, and the app gets pg\'s error', async () => {
    const a = await connected();
    const b = await connected();
    const before = await scrape();
    await a.query('BEGIN');
    await b.query('BEGIN');
    await a.query('UPDATE vigil_pg_deadlock SET n = n + 1 WHERE id = 1');
    await b.query('UPDATE vigil_pg_deadlock SET n = n + 1 WHERE id = 2');
    // Opposite order: each waits for the other; PostgreSQL aborts one after deadlock_timeout.
    const results = await Promise.allSettled([
      a.query('UPDATE vigil_pg_deadlock SET n = n + 1 WHERE id = 2'),
      b.query('UPDATE vigil_pg_deadlock SET n = n + 1 WHERE id = 1'),
    ]);
    await a.query('ROLLBACK');
    await b.query('ROLLBACK');
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).to.have.length(1);
    const err = rejected[0]!.reason as PgModule.DatabaseError;
    expect(err).to.be.instanceOf(pg.DatabaseError);
    expect(err.code).to.equal('40P01');
    const after = await scrape();
    expect(value(after, 'db_deadlocks_total', { table: 'vigil_pg_deadlock', operation: 'update' }) - value(before, 'db_deadlocks_total', { table: 'vigil_pg_deadlock', operation: 'update' })).to.equal(1);
    expect(errors(after, 'deadlock_detected') - errors(before, 'deadlock_detected')).to.equal(1);
    await a.end();
    await b.end();
  });

  it('shows a pool driven to exhaustion: usage == size and waiters while they wait, then back to idle', async () => {
    const pool = new pg.Pool({ ...DB, max: 2, application_name: 'vigil-exhaust' });
    const held = [await pool.connect(), await pool.connect()];
    const waiting = [pool.query('SELECT 1 AS one'), pool.query('SELECT 2 AS two'), pool.query('SELECT 3 AS three')];
    let during = poolGauges(await scrape(), 'vigil-exhaust');
    expect(during).to.deep.equal({ size: 2, usage: 2, waiting: 3 });
    held[0]!.release();
    await waiting[0];
    during = poolGauges(await scrape(), 'vigil-exhaust');
    expect(during.usage).to.equal(2);
    expect(during.waiting).to.be.lessThan(3);
    held[1]!.release();
    const rows = (await Promise.all(waiting)).map((r) => r.rows[0]);
    expect(rows).to.deep.equal([{ one: 1 }, { two: 2 }, { three: 3 }]);
    expect(poolGauges(await scrape(), 'vigil-exhaust')).to.deep.equal({ size: 2, usage: 0, waiting: 0 });
    await pool.end();
    // An ended pool reads 0, so an exhaustion alert cannot stay stuck on its last value.
    expect(poolGauges(await scrape(), 'vigil-exhaust')).to.deep.equal({ size: 0, usage: 0, waiting: 0 });
  });

  it('names pools user@host:port/database by default, adds up pools of one name, and falls back when the hook throws', async () => {
    const first = new pg.Pool({ ...DB, password: 'vigil-secret-password', max: 2 });
    const second = new pg.Pool({ ...DB, max: 3 });
    await first.query('SELECT 1');
    await second.query('SELECT 1');
    let text = await metrics.scrape();
    expect(poolGauges(parseMetrics(text), DEFAULT_POOL)).to.deep.equal({ size: 5, usage: 0, waiting: 0 });
    expect(text).to.not.include('vigil-secret-password');
    await first.end();
    await second.end();

    const url = `postgres://${DB.user}:vigil-secret-password@${DB.host}:${DB.port}/${DB.database}?application_name=vigil-from-url`;
    const fromUrl = new pg.Pool({ connectionString: url, max: 4 });
    await fromUrl.query('SELECT 1');
    text = await metrics.scrape();
    expect(poolGauges(parseMetrics(text), 'vigil-from-url').size).to.equal(4);
    expect(text).to.not.include('vigil-secret-password');
    await fromUrl.end();

    const lines: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      instrumentation.setConfig({
        poolName: () => {
          throw new Error('hook failed');
        },
      });
      const hooked = new pg.Pool({ ...DB, max: 7 });
      await hooked.query('SELECT 1');
      expect(poolGauges(await scrape(), DEFAULT_POOL).size).to.equal(7);
      const again = new pg.Pool({ ...DB, max: 1 });
      await again.query('SELECT 1');
      await hooked.end();
      await again.end();
    } finally {
      process.stderr.write = write;
    }
    expect(lines.filter((l) => l.includes('poolName hook threw'))).to.have.length(1);
  });

  it('counts a statement cancelled by statement_timeout (57014) and pg\'s client-side query_timeout', async () => {
    const client = await connected({ statement_timeout: 100 });
    const before = await scrape();
    const err = (await client.query('SELECT pg_sleep(2) FROM vigil_pg_slow').catch((e: unknown) => e)) as PgModule.DatabaseError;
    expect(err).to.be.instanceOf(pg.DatabaseError);
    expect(err.code).to.equal('57014');
    let after = await scrape();
    expect(errors(after, 'query_canceled') - errors(before, 'query_canceled')).to.equal(1);
    expect(queries(after, 'vigil_pg_slow', 'select') - queries(before, 'vigil_pg_slow', 'select')).to.equal(1);
    await client.end();

    const timed = await connected({ query_timeout: 100 });
    const timeout = (await timed.query('SELECT pg_sleep(0.5) FROM vigil_pg_slow').catch((e: unknown) => e)) as Error;
    expect(timeout.message).to.equal('Query read timeout');
    await until(async () => errors(await scrape(), 'query_timeout') - errors(before, 'query_timeout') === 1, 'query_timeout to be counted');
    await timed.end().catch(() => undefined);
    after = await scrape();
    expect(errors(after, 'query_timeout') - errors(before, 'query_timeout')).to.equal(1);
  });

  it('counts a refused connection once, and the app gets pg\'s own error', async () => {
    const port = await freePort(); // nothing listens there
    const attempt = async () => {
      const viaPromise = (await new pg.Client({ ...DB, port }).connect().catch((e: unknown) => e)) as NodeJS.ErrnoException;
      const viaCallback = await new Promise<NodeJS.ErrnoException>((resolve) => new pg.Client({ ...DB, port }).connect((e: Error | undefined) => resolve(e as NodeJS.ErrnoException)));
      const pool = new pg.Pool({ ...DB, port });
      const viaPool = (await pool.query('SELECT 1').catch((e: unknown) => e)) as NodeJS.ErrnoException;
      await pool.end();
      return [viaPromise, viaCallback, viaPool].map((e) => ({ class: e.constructor.name, code: e.code, message: e.message, syscall: e.syscall, port: (e as { port?: number }).port }));
    };
    patchPg(false);
    const without = await attempt();
    patchPg(true);
    const before = await scrape();
    const withIt = await attempt();
    const after = await scrape();
    expect(withIt).to.deep.equal(without);
    expect(withIt.map((e) => e.code)).to.deep.equal(['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED']);
    expect(errors(after, 'connection_error') - errors(before, 'connection_error')).to.equal(3);
  });

  it('never puts SQL text, parameter values or error details into labels', async () => {
    const client = await connected();
    const pool = new pg.Pool({ ...DB, max: 1 });
    await client.query('CREATE TEMP TABLE vigil_pg_same (k text PRIMARY KEY)');
    await client.query("INSERT INTO vigil_pg_same VALUES ('vigil-secret-literal')");
    await client.query('INSERT INTO vigil_pg_same VALUES ($1)', ['vigil-secret-param']).catch(() => undefined);
    await client.query('INSERT INTO vigil_pg_same VALUES ($1)', ['vigil-secret-param']).catch(() => undefined); // duplicate key: detail names the value
    await client.query("SELECT * FROM vigil_pg_same WHERE k = 'vigil-secret-where' /* vigil-secret-comment */");
    await pool.query('SELECT $1::text AS vigil_secret_alias', ['vigil-secret-pool']);
    await client.query("SELECT * FROM vigil_secret_missing WHERE k = 'vigil-secret-error'").catch(() => undefined);
    const text = await metrics.scrape();
    expect(text).to.not.match(/vigil-secret|vigil_secret_alias|SELECT|INSERT/);
    await client.end();
    await pool.end();
  });

  it('past the cardinality limit, counts every query of a cached statement as an overflow; after a clear() records anew', async () => {
    const registry = new LeanRegistry();
    registry.cardinalityLimit = 1;
    const named = 'SELECT v FROM vigil_pg_named WHERE id = $1';
    const read = async (key: Record<string, string>) => value(parseMetrics(await registryText(registry)), 'db_query_duration_seconds_count', key);
    const overflows = async () => value(parseMetrics(await registryText(registry)), 'vigil_metric_overflow_total', { metric: 'db_query_duration_seconds' });
    instrumentation.setConfig({ ...baseConfig, registry });
    try {
      const client = await connected();
      await client.query(named, [1]); // the one series the limit allows
      for (let i = 0; i < 5; i++) await client.query('SELECT 1');
      expect(await read({ table: 'vigil_pg_named', operation: 'select' })).to.equal(1);
      expect(await read({ otel_metric_overflow: 'true' })).to.equal(5);
      expect(await overflows(), 'each overflowing query counted, not only the first of its statement').to.equal(5);

      // The family starts over (as after a fork): statements cached before record into its new series.
      registry.histogram(dbQueryDurationSeconds, { name: 'test' }).clear();
      for (let i = 0; i < 2; i++) await client.query(named, [1]);
      for (let i = 0; i < 3; i++) await client.query('SELECT 1');
      await client.end();
      expect(await read({ table: 'vigil_pg_named', operation: 'select' })).to.equal(2);
      expect(await read({ otel_metric_overflow: 'true' })).to.equal(3);
      expect(await overflows()).to.equal(8);
    } finally {
      instrumentation.setConfig(baseConfig);
    }
  });

  it('swallows its own failures, logs them once, and leaves the app\'s results alone', async () => {
    const broken = { get() { throw new Error('vigil internal failure'); } };
    const registry = { histogram: () => broken, values: () => broken } as unknown as LeanRegistry;
    const lines: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
    let rows: unknown[] = [];
    let err: unknown;
    try {
      instrumentation.setConfig({ ...baseConfig, registry });
      const client = await connected();
      for (let i = 0; i < 5; i++) rows = (await client.query('SELECT v FROM vigil_pg_named WHERE id = $1', [1])).rows;
      err = await client.query('SELECT * FROM vigil_pg_missing').catch((e: unknown) => e);
      await client.end();
    } finally {
      process.stderr.write = write;
      instrumentation.setConfig(baseConfig);
    }
    expect(rows).to.deep.equal([{ v: 'one' }]);
    expect((err as PgModule.DatabaseError).code).to.equal('42P01');
    const said = lines.filter((l) => l.includes('@vigil/instrumentation-pg') && l.includes('vigil internal failure'));
    expect(said).to.have.length(1);
    expect(said[0]).to.match(/^\[vigil\] warn: /);
  });
});
