#!/usr/bin/env node
// PostgreSQL overhead benchmark: queries per second of `SELECT 1` and of an indexed
// primary-key lookup in a 100k-row table, through pg's Pool — against the real PostgreSQL
// server, and against an in-process fake server that answers the same rows (the Node-side
// cost alone, without the network and the database's own noise) — with no instrumentation
// (baseline), with @vigil/instrumentation-pg (metrics, as @vigil/node wires them), and with
// the upstream @opentelemetry/instrumentation-pg (tracing every query into a span processor
// that counts and drops spans, with an AsyncLocalStorage context manager and its own
// db.client.operation.duration metric going to a MeterProvider, as a traced app runs it).
//
// Every measurement runs in its own child process (one contender's patches, JIT state and
// garbage never touch another's); the contenders of a workload run back to back, in an order
// that rotates round after round, so drift of a shared machine hits them alike. The table
// shows, per workload and contender: median queries/s; the median over rounds of queries/s
// relative to the baseline measured next to it in the same round; and the Node process's CPU
// time (user + system) per query, which a busy machine disturbs less than throughput —
// baseline CPU / contender CPU is the throughput ratio when the Node process is the bottleneck.
// A second baseline process ("A/A control") is measured like a contender: its ratio to the
// baseline shows how far the machine's own noise moves these numbers. A second table pairs
// tighter still: one process with both instrumentations loaded, switched on and off between
// short slices (see alternateChild). Last, vigil's own work
// per query is measured in isolation (pg's Query lifecycle on a stub connection), which noise
// from elsewhere barely touches.
//
//   node bench/pg.js [--rounds 11] [--slices 150] [--slice-ms 300] [--ms 1000] [--warmup-ms 400] [--pool 4] [--concurrency 8]
//
// writes bench/results/pg.md.
//
// Instruction counts instead of time (--instructions): each contender runs a fixed number of
// queries under `valgrind --tool=callgrind` (deterministic V8: --single-threaded, fixed hash and
// random seeds, a fixed young generation), and the instructions the Node process executes
// between the end of its warm-up and the end of its measured queries are divided by the
// queries. Waiting (for PostgreSQL, for the scheduler) costs no instructions, so on a shared
// machine this repeats where time does not. "steady" also leaves out major GC and libc's
// malloc, which land in one run's window and not another's. Against the fake server the count
// includes the fake server's own work (it runs in the same process): the same in every
// contender, so the differences are the instrumentation's, the percentages smaller.
//
//   node bench/pg.js --instructions [--runs 2] [--jobs 1] [--steps 6000] [--warmup-steps 10000]
//       [--servers postgres,fake] [--queries select1,lookup] [--contenders baseline,vigil,otel] [--pool 4] [--concurrency 8]
//
// writes bench/results/pg-instructions.md and .json. Needs valgrind (callgrind_annotate too).
// One callgrind run takes one to two minutes (about 3 to 6 ms per query under callgrind), the
// whole default run about 30 minutes. The warm-up is long because V8 (--single-threaded: its
// compiler runs on the main thread and counts) is still optimizing pg, pg-pool and the
// instrumentations for the first ~8,000 queries: per-query counts fall about six-fold over them
// and are flat (within ~1.5% from one 2,000-query block to the next) after that.
// Timers under callgrind's ~50x slowdown: @vigil/instrumentation-pg has none of its own (the pool
// gauges are read at collection); its slow-query threshold is a duration, stretched 50x in the
// counting child (slowQueryMs 50 s) so that no query counts as slow only because of callgrind.
// pg-pool's 10 s idle timeout never fires (the pool is never idle between the marks), and the
// upstream contender's spans go to a processor with no timer.
//
// Needs PostgreSQL (PGHOST / PGPORT / PGUSER / PGDATABASE, default postgres@127.0.0.1:5432/test)
// and the built packages (`tsc -b`). Creates the table vigil_bench_users (100,000 rows,
// primary key id) once and leaves it for the next run.
'use strict';
const fs = require('node:fs');
const { callgrindChild, eachAtMost, fmt, lastJsonLine, median, nodeChild, opt, writeResults } = require('./lib/common');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const TABLE = 'vigil_bench_users';
const ROWS = 100_000;

/** Set in the children of --instructions: fixed query counts, window marks for callgrind. */
const counting = process.env.VIGIL_BENCH_COUNT === '1';
/** Callgrind runs the process about 50 times slower: wall-clock thresholds are stretched by this much. */
const CALLGRIND_SLOWDOWN = 50;

const db = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
  database: process.env.PGDATABASE ?? 'test',
  password: process.env.PGPASSWORD,
};

const QUERIES = {
  select1: { title: '`SELECT 1`', text: 'SELECT 1', values: () => undefined, table: 'none' },
  lookup: {
    title: `indexed lookup (\`SELECT ... FROM ${TABLE} WHERE id = $1\`, ${ROWS.toLocaleString('en-US')} rows)`,
    text: `SELECT id, name, email, credits FROM ${TABLE} WHERE id = $1`,
    values: (i) => [1 + ((i * 7919) % ROWS)],
    table: TABLE,
  },
};
const SERVERS = {
  postgres: 'PostgreSQL',
  fake: 'in-process fake server',
};
// workload = `${server}:${query}`
const WORKLOADS = {};
for (const server of Object.keys(SERVERS)) {
  for (const [name, q] of Object.entries(QUERIES)) WORKLOADS[`${server}:${name}`] = { ...q, server };
}

// ---------------------------------------------------------------- the fake server

// A socket that speaks just enough of the PostgreSQL wire protocol to pg: trust
// authentication, then for every simple query or Sync one canned result (the same rows
// PostgreSQL returns for the two queries). pg's own Connection, serializer and parser run
// unchanged over it, so this measures everything on the Node side of a query — pg, pg-pool
// and the instrumentation — with no network, no PostgreSQL and no other process involved.
function fakeServerStream() {
  const { EventEmitter } = require('node:events');
  const msg = (type, body) => {
    const b = Buffer.alloc(5 + body.length);
    b.write(type, 0, 'latin1');
    b.writeInt32BE(4 + body.length, 1);
    body.copy(b, 5);
    return b;
  };
  const int16 = (n) => { const b = Buffer.alloc(2); b.writeInt16BE(n); return b; };
  const int32 = (n) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
  const cstr = (s) => Buffer.from(`${s}\0`, 'utf8');
  const rowDescription = (fields) => msg('T', Buffer.concat([int16(fields.length), ...fields.map(([name, oid, len]) => Buffer.concat([cstr(name), int32(0), int16(0), int32(oid), int16(len), int32(-1), int16(0)]))]));
  const dataRow = (values) => msg('D', Buffer.concat([int16(values.length), ...values.map((v) => { const b = Buffer.from(v); return Buffer.concat([int32(b.length), b]); })]));
  const ready = msg('Z', Buffer.from('I'));
  const results = {
    select1: Buffer.concat([rowDescription([['?column?', 23, 4]]), dataRow(['1']), msg('C', cstr('SELECT 1')), ready]),
    lookup: Buffer.concat([
      rowDescription([['id', 23, 4], ['name', 25, -1], ['email', 25, -1], ['credits', 23, 4]]),
      dataRow(['4242', 'user 4242', 'user4242@example.com', '242']),
      msg('C', cstr('SELECT 1')),
      ready,
    ]),
  };
  const startup = Buffer.concat([msg('R', int32(0)), msg('S', Buffer.concat([cstr('server_version'), cstr('15.0')])), msg('K', Buffer.concat([int32(1), int32(2)])), ready]);
  const parseComplete = msg('1', Buffer.alloc(0));
  const bindComplete = msg('2', Buffer.alloc(0));

  class FakeSocket extends EventEmitter {
    writable = true;
    started = false;
    pending = [];
    parsed = false;
    lastText = '';
    setNoDelay() {}
    setKeepAlive() {}
    ref() {}
    unref() {}
    cork() {}
    uncork() {}
    connect() {
      setImmediate(() => this.emit('connect'));
    }
    reply(buf) {
      this.pending.push(buf);
      if (this.pending.length === 1) {
        setImmediate(() => {
          const out = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
          this.pending = [];
          this.emit('data', out);
        });
      }
    }
    result() {
      return this.lastText.includes(TABLE) ? results.lookup : results.select1;
    }
    write(buf, cb) {
      if (!this.started) {
        this.started = true;
        this.reply(startup);
      } else {
        for (let off = 0; off < buf.length; ) {
          const type = String.fromCharCode(buf[off]);
          const len = buf.readInt32BE(off + 1);
          const body = buf.subarray(off + 5, off + 1 + len);
          off += 1 + len;
          if (type === 'Q') {
            this.lastText = body.toString('utf8', 0, body.length - 1);
            this.reply(this.result());
          } else if (type === 'P') {
            const nameEnd = body.indexOf(0);
            this.lastText = body.toString('utf8', nameEnd + 1, body.indexOf(0, nameEnd + 1));
            this.parsed = true;
          } else if (type === 'S') {
            this.reply(Buffer.concat([...(this.parsed ? [parseComplete] : []), bindComplete, this.result()]));
            this.parsed = false;
          }
        }
      }
      if (typeof cb === 'function') cb();
      return true;
    }
    end() {
      setImmediate(() => this.emit('close'));
    }
    destroy() {
      this.end();
    }
  }
  return new FakeSocket();
}

// ---------------------------------------------------------------- child: one measurement

/** vigil as @vigil/node wires it: enabled before pg loads, a Prometheus reader over the lean registry and the meters. */
function setupVigil(workload) {
  const { PgInstrumentation } = require(path.join(root, 'packages/instrumentation-pg/build/src'));
  const { leanRegistry } = require(path.join(root, 'packages/catalog/build/src'));
  const { registerInstrumentations } = require('@opentelemetry/instrumentation');
  const { MeterProvider } = require('@opentelemetry/sdk-metrics');
  const { PrometheusExporter, PrometheusSerializer } = require('@opentelemetry/exporter-prometheus');
  const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, withoutTargetInfo: true, metricProducers: [leanRegistry()] });
  const meterProvider = new MeterProvider({ readers: [exporter] });
  // Counting: callgrind slows the process ~50 times; a query is "slow" (db_slow_queries_total) at
  // the same full-speed duration as without it, so that a slowed-down query is not counted slow.
  const instrumentation = new PgInstrumentation(counting ? { slowQueryMs: CALLGRIND_SLOWDOWN * 1000 } : {});
  registerInstrumentations({ instrumentations: [instrumentation], meterProvider });
  const seen = async () => {
    const text = new PrometheusSerializer(undefined, false, undefined, true, true).serialize((await exporter.collect()).resourceMetrics);
    const m = new RegExp(`^db_query_duration_seconds_count\\{table="${workload.table}",operation="select"\\} (\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  return { instrumentation, seen };
}

/** Upstream tracing: every query a span into a counting processor, ALS context manager, its metric to a MeterProvider. */
function setupOtel() {
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg');
  const { registerInstrumentations } = require('@opentelemetry/instrumentation');
  const { context, trace } = require('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
  const { TracerProvider } = require('@opentelemetry/sdk-trace');
  const { MeterProvider } = require('@opentelemetry/sdk-metrics');
  const { PrometheusExporter } = require('@opentelemetry/exporter-prometheus');
  let spans = 0;
  const counting = { onStart() {}, onEnd() { spans++; }, forceFlush: async () => {}, shutdown: async () => {} };
  const tracerProvider = new TracerProvider({ spanProcessors: [counting] });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(tracerProvider);
  const meterProvider = new MeterProvider({ readers: [new PrometheusExporter({ preventServerStart: true })] });
  const instrumentation = new PgInstrumentation();
  registerInstrumentations({ instrumentations: [instrumentation], tracerProvider, meterProvider });
  return {
    instrumentation,
    seen: async () => spans,
    // Tracing off entirely (for the alternating run's other slices): no context manager either.
    setTracing(on) {
      if (on) {
        context.setGlobalContextManager(contextManager);
        instrumentation.enable();
      } else {
        instrumentation.disable();
        context.disable();
      }
    },
  };
}

function makePool(pg, workload, poolSize) {
  return new pg.Pool({ ...db, max: poolSize, ...(workload.server === 'fake' ? { stream: fakeServerStream } : {}) });
}

/** Runs `concurrency` loops of pool.query for `duration` ms: queries, elapsed ms, CPU µs. */
async function drive(pool, workload, duration, concurrency) {
  let ops = 0;
  let i = 0;
  const start = performance.now();
  const deadline = start + duration;
  const worker = async () => {
    while (performance.now() < deadline) {
      await pool.query(workload.text, workload.values(i++));
      ops++;
    }
  };
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cpu = process.cpuUsage(cpu0);
  return { ops, elapsed: performance.now() - start, cpuMicros: cpu.user + cpu.system };
}

/** Runs exactly `count` queries, `concurrency` at a time, query i using values(i0 + i); no clock reads. */
async function driveCount(pool, workload, count, concurrency, i0) {
  let i = 0;
  const worker = async () => {
    while (i < count) await pool.query(workload.text, workload.values(i0 + i++));
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { ops: count, elapsed: NaN, cpuMicros: NaN };
}

async function child(variant, workloadName, ms, warmupMs, poolSize, concurrency) {
  const workload = WORKLOADS[workloadName];
  let check = async () => undefined;
  if (variant === 'vigil') check = setupVigil(workload).seen;
  else if (variant === 'otel') check = setupOtel().seen;
  const pg = require('pg');
  const pool = makePool(pg, workload, poolSize);
  let warm, measured;
  if (counting) {
    // ms and warmupMs are query counts. The warm-up runs in chunks of 1,000 queries, so that the
    // pool's drain and refill between two runs of queries (which the measured run starts with) is
    // compiled too, and not deoptimized and recompiled inside the window. process._getActiveHandles()
    // is called nowhere else: callgrind dumps its counters when it is entered (--dump-before),
    // around the measured queries.
    warm = { ops: 0 };
    for (let done = 0; done < warmupMs; done += 1000) warm.ops += (await driveCount(pool, workload, Math.min(1000, warmupMs - done), concurrency, done)).ops;
    process._getActiveHandles();
    measured = await driveCount(pool, workload, ms, concurrency, warmupMs);
    process._getActiveHandles();
  } else {
    const run = (duration) => drive(pool, workload, duration, concurrency);
    warm = await run(warmupMs);
    measured = await run(ms);
  }
  const { ops, elapsed, cpuMicros } = measured;
  // Honesty check: the instrumentation really saw every query (warm-up included).
  const seen = await check();
  if (seen !== undefined && seen < warm.ops + ops) throw new Error(`${variant} saw ${seen} queries, fewer than the ${warm.ops + ops} run`);
  await pool.end();
  process.stdout.write(JSON.stringify({ opsPerSec: (ops / elapsed) * 1000, cpuPerQuery: cpuMicros / ops, ops, seen }) + '\n');
}

// ---------------------------------------------------------------- child: alternating in one process

// The tightest pairing: one process with both instrumentations loaded, switched on and off
// (InstrumentationBase enable / disable patches and unpatches) between short slices, so the
// baseline and each contender are measured milliseconds apart on the same warm process and
// pool. Outside the upstream contender's slices its context manager is off too, so the baseline
// slices carry no tracing machinery. Per slice order rotates; prints per-contender lists of
// [queries/s, CPU µs per query].
async function alternateChild(workloadName, sliceMs, slices, poolSize, concurrency) {
  const workload = WORKLOADS[workloadName];
  const vigil = setupVigil(workload);
  const otel = setupOtel();
  const pg = require('pg');
  const pool = makePool(pg, workload, poolSize);
  const set = (variant) => {
    if (variant === 'vigil') vigil.instrumentation.enable();
    else vigil.instrumentation.disable();
    otel.setTracing(variant === 'otel');
  };
  const out = { baseline: [], vigil: [], otel: [] };
  const order = Object.keys(out);
  for (const v of order) {
    set(v);
    await drive(pool, workload, sliceMs, concurrency);
  }
  for (let i = 0; i < slices; i++) {
    for (let j = 0; j < order.length; j++) {
      const v = order[(i + j) % order.length];
      set(v);
      const before = [await vigil.seen(), await otel.seen()];
      const r = await drive(pool, workload, sliceMs, concurrency);
      const after = [await vigil.seen(), await otel.seen()];
      // Honesty check: each slice was seen by exactly the instrumentation that was on.
      const seen = { vigil: after[0] - before[0], otel: after[1] - before[1] };
      for (const name of ['vigil', 'otel']) {
        if (name === v ? seen[name] < r.ops : seen[name] !== 0) throw new Error(`${v} slice: ${name} saw ${seen[name]} of ${r.ops} queries`);
      }
      out[v].push([(r.ops / r.elapsed) * 1000, r.cpuMicros / r.ops]);
    }
  }
  await pool.end();
  process.stdout.write(JSON.stringify(out) + '\n');
}

// ---------------------------------------------------------------- child: the hook's own cost

// The instrumentation's work per query, isolated: pg's Query lifecycle as the client drives it
// (construct, submit to a connection, ready-for-query) against a stub connection, with and
// without vigil's patches. ns per query, median of 15 batches of 100,000.
function hookChild(variant) {
  if (variant === 'vigil') {
    const { PgInstrumentation } = require(path.join(root, 'packages/instrumentation-pg/build/src'));
    new PgInstrumentation();
  }
  const pg = require('pg');
  const text = QUERIES.lookup.text;
  const con = { parsedStatements: {}, submittedNamedStatements: {}, stream: {}, query() {}, parse() {}, bind() {}, describe() {}, execute() {}, sync() {}, flush() {} };
  const batch = (n) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const q = new pg.Query(text, [i]);
      q.submit(con);
      q.handleReadyForQuery(con);
    }
    return Number(process.hrtime.bigint() - t0) / n;
  };
  batch(200_000);
  const xs = Array.from({ length: 15 }, () => batch(100_000));
  process.stdout.write(JSON.stringify({ nsPerQuery: median(xs) }) + '\n');
}

// ---------------------------------------------------------------- parent: setup, rounds, table

async function setup() {
  const pg = require('pg');
  const client = new pg.Client(db);
  await client.connect();
  const { rows } = await client.query(`SELECT to_regclass($1) IS NOT NULL AS exists`, [TABLE]);
  let ready = rows[0].exists && (await client.query(`SELECT count(*)::int AS n FROM ${TABLE}`)).rows[0].n === ROWS;
  if (!ready) {
    process.stderr.write(`creating ${TABLE} with ${ROWS} rows\n`);
    await client.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await client.query(`CREATE TABLE ${TABLE} (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, credits int NOT NULL)`);
    await client.query(`INSERT INTO ${TABLE} SELECT g, 'user ' || g, 'user' || g || '@example.com', g % 1000 FROM generate_series(1, ${ROWS}) g`);
    await client.query(`ANALYZE ${TABLE}`);
  }
  const plan = (await client.query(`EXPLAIN SELECT id, name, email, credits FROM ${TABLE} WHERE id = 42`)).rows.map((r) => r['QUERY PLAN']).join(' ');
  if (!/Index Scan/.test(plan)) throw new Error(`the lookup does not use the primary key index: ${plan}`);
  await client.end();
}

function childArgs(c, opts) {
  if (c.alternate) return [__filename, '--alternate', c.workload, String(opts.sliceMs), String(opts.slices), String(opts.pool), String(opts.concurrency)];
  return c.hook
    ? [__filename, '--hook', c.variant]
    : [__filename, '--child', c.variant, c.workload, String(opts.ms), String(opts.warmupMs), String(opts.pool), String(opts.concurrency)];
}

const runChild = (c, opts) => nodeChild(childArgs(c, opts), `${c.variant} ${c.workload ?? 'hook'}`);

const VARIANTS = {
  baseline: 'no instrumentation',
  control: 'A/A control (a second uninstrumented process)',
  vigil: '@vigil/instrumentation-pg (metrics)',
  otel: '@opentelemetry/instrumentation-pg 0.77 (tracing)',
};

async function main() {
  const opts = {
    rounds: opt('rounds', 11),
    ms: opt('ms', 1000),
    warmupMs: opt('warmup-ms', 400),
    pool: opt('pool', 4),
    concurrency: opt('concurrency', 8),
    sliceMs: opt('slice-ms', 300),
    slices: opt('slices', 150),
  };
  await setup();
  const contenders = [];
  for (const workload of Object.keys(WORKLOADS)) {
    for (const variant of Object.keys(VARIANTS)) contenders.push({ workload, variant, results: [], cpu: [] });
  }
  process.stderr.write(`pg bench: ${contenders.length} contenders x ${opts.rounds} rounds, ${opts.ms} ms each (after ${opts.warmupMs} ms warm-up), pool of ${opts.pool}, ${opts.concurrency} queries in flight, ${db.user}@${db.host}:${db.port}/${db.database}\n`);
  const workloads = Object.keys(WORKLOADS);
  const variants = Object.keys(VARIANTS);
  for (let round = 0; round < opts.rounds; round++) {
    // The contenders of one workload run back to back (so each is compared with a baseline
    // measured seconds apart), in an order that rotates every round.
    const order = [];
    for (const workload of round % 2 ? [...workloads].reverse() : workloads) {
      for (let i = 0; i < variants.length; i++) {
        const variant = variants[(i + round) % variants.length];
        order.push(contenders.find((c) => c.workload === workload && c.variant === variant));
      }
    }
    for (const c of order) {
      const r = await runChild(c, opts);
      c.results.push(r.opsPerSec);
      c.cpu.push(r.cpuPerQuery);
    }
    process.stderr.write(`round ${round + 1}/${opts.rounds} done\n`);
  }
  // Two views of the overhead. Queries/s is what the app gets, but on a shared machine it swings
  // with everything else running, so the ratio is taken per round (each contender against the
  // baseline measured next to it) and the median of those ratios is shown. Node CPU time per
  // query (user + system of the benchmark process) is far steadier: the baseline's CPU per query
  // divided by the contender's is the throughput ratio when the Node process is the bottleneck.
  const lines = [
    '| server | query | contender | queries/s (median) | queries/s vs baseline (median of per-round ratios) | middle half of the per-round ratios | Node CPU per query (median) | baseline CPU / contender CPU |',
    '|---|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const workload of Object.keys(WORKLOADS)) {
    const base = contenders.find((c) => c.workload === workload && c.variant === 'baseline');
    const baseCpu = median(base.cpu);
    for (const [variant, title] of Object.entries(VARIANTS)) {
      const c = contenders.find((x) => x.workload === workload && x.variant === variant);
      const ratios = c.results.map((v, i) => v / base.results[i]);
      const spread = variant === 'baseline' ? '' : fmt.middleHalf(ratios);
      const cpu = median(c.cpu);
      lines.push(
        `| ${SERVERS[WORKLOADS[workload].server]} | ${WORKLOADS[workload].title} | ${title} | ${Math.round(median(c.results)).toLocaleString('en-US')} | ${(median(ratios) * 100).toFixed(1)}% | ${spread} | ${cpu.toFixed(1)} µs | ${((baseCpu / cpu) * 100).toFixed(1)}% |`,
      );
    }
  }
  // Alternating in one process (see alternateChild).
  if (opts.slices > 0) {
    lines.push(
      '',
      `Alternating in one process (both instrumentations loaded, switched on and off between ${opts.sliceMs} ms slices, ${opts.slices} slices each, rotating order):`,
      '',
      '| server | query | contender | queries/s vs baseline (median of per-slice ratios) | 95% confidence interval of that median | middle half of the ratios | Node CPU per query (median) | baseline CPU / contender CPU |',
      '|---|---|---|---:|---:|---:|---:|---:|',
    );
    for (const workload of workloads) {
      const r = await runChild({ alternate: true, workload, variant: 'alternate' }, opts);
      const baseCpu = median(r.baseline.map((x) => x[1]));
      for (const variant of ['vigil', 'otel']) {
        // Each slice against the baseline slice of the same rotation.
        const ratios = r[variant].map((x, i) => x[0] / r.baseline[i][0]);
        const cpu = median(r[variant].map((x) => x[1]));
        lines.push(
          `| ${SERVERS[WORKLOADS[workload].server]} | ${WORKLOADS[workload].title} | ${VARIANTS[variant]} | ${(median(ratios) * 100).toFixed(1)}% | ${fmt.medianInterval(ratios)} | ${fmt.middleHalf(ratios)} | ${cpu.toFixed(1)} µs (baseline ${baseCpu.toFixed(1)} µs) | ${((baseCpu / cpu) * 100).toFixed(1)}% |`,
        );
      }
    }
  }

  // The hook's own cost, alternating baseline and vigil processes.
  const hook = { baseline: [], vigil: [] };
  for (let i = 0; i < 5; i++) {
    for (const variant of i % 2 ? ['vigil', 'baseline'] : ['baseline', 'vigil']) {
      hook[variant].push((await runChild({ hook: true, variant }, opts)).nsPerQuery);
    }
  }
  const hookBase = median(hook.baseline);
  const hookVigil = median(hook.vigil);
  const added = (hookVigil - hookBase) / 1000;
  const realCpu = Object.keys(QUERIES).map((q) => median(contenders.find((c) => c.workload === `postgres:${q}` && c.variant === 'baseline').cpu));
  lines.push(
    '',
    `vigil's own work per query, isolated (pg's Query lifecycle on a stub connection, 5 processes each): ` +
      `${hookBase.toFixed(0)} ns without, ${hookVigil.toFixed(0)} ns with vigil: ${(added * 1000).toFixed(0)} ns added per query ` +
      `(two clock reads are part of it), against ${realCpu.map((x) => `${x.toFixed(1)} µs`).join(' and ')} of Node CPU per query (median, baseline) ` +
      `for the two queries against PostgreSQL: ${realCpu.map((x) => `${((x / (x + added)) * 100).toFixed(2)}%`).join(' and ')} of baseline throughput when Node is the bottleneck.`,
  );
  const raw = contenders.map((c) => `${c.workload}/${c.variant}: ${c.results.map((x, i) => `${Math.round(x)} (${c.cpu[i].toFixed(1)} µs)`).join(', ')}`);
  const body =
    `${lines.join('\n')}\n\nPostgreSQL on the same machine; ` +
    `pg.Pool of ${opts.pool}, ${opts.concurrency} queries in flight; ${opts.rounds} rounds of ${opts.ms} ms per contender after ${opts.warmupMs} ms warm-up.\n\n` +
    `Per-round queries/s (Node CPU per query):\n${raw.map((r) => `- ${r}`).join('\n')}\n`;
  writeResults('pg', 'PostgreSQL (bench/pg.js)', `node bench/pg.js${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}`, body);
}

// ---------------------------------------------------------------- --instructions: callgrind

/** One contender under callgrind: instructions per query, total and steady, and the child's own report. */
async function runCounted(c, opts, dir, tag) {
  const t0 = Date.now();
  // Dump 2 is the measured window (dump 1: start-up and warm-up; dump 3: the rest).
  const { stdout, total, steady } = await callgrindChild(
    path.join(dir, `${tag}.cg`),
    [__filename, '--child', c.variant, c.workload, String(opts.steps), String(opts.warmupSteps), String(opts.pool), String(opts.concurrency)],
    { VIGIL_BENCH_COUNT: '1' },
  );
  const report = lastJsonLine(stdout);
  if (report.ops !== opts.steps) throw new Error(`${tag}: ${report.ops} queries measured, not ${opts.steps}`);
  return { total: total / opts.steps, steady: steady / opts.steps, seen: report.seen, seconds: (Date.now() - t0) / 1000 };
}

/** The contenders of --instructions (an A/A control is pointless: runs repeat within ~1%). */
const INSTRUCTION_VARIANTS = ['baseline', 'vigil', 'otel'];

async function instructions() {
  const opts = {
    runs: opt('runs', 2),
    jobs: opt('jobs', 1),
    steps: opt('steps', 6000),
    warmupSteps: opt('warmup-steps', 10000),
    pool: opt('pool', 4),
    concurrency: opt('concurrency', 8),
  };
  const servers = opt('servers', 'postgres,fake').split(',');
  const queries = opt('queries', 'select1,lookup').split(',');
  const variants = opt('contenders', 'baseline,vigil,otel').split(',');
  for (const v of variants) if (!INSTRUCTION_VARIANTS.includes(v)) throw new Error(`unknown contender ${v} (${INSTRUCTION_VARIANTS.join(', ')})`);
  if (!variants.includes('baseline')) throw new Error('the contenders must include baseline');
  if (servers.includes('postgres')) await setup();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-pg-'));
  const contenders = [];
  for (const server of servers) {
    for (const query of queries) {
      const workload = `${server}:${query}`;
      if (!WORKLOADS[workload]) throw new Error(`unknown workload ${workload}`);
      for (const variant of variants) contenders.push({ workload, variant, results: [] });
    }
  }
  // Run by run, every contender once, so a run's worth of every contender is done before the next.
  const tasks = [];
  for (let r = 0; r < opts.runs; r++) for (const c of contenders) tasks.push({ c, tag: `${c.workload.replace(':', '-')}-${c.variant}-${r}` });
  const t0 = Date.now();
  process.stderr.write(
    `pg bench, instructions: ${tasks.length} callgrind runs, ${opts.jobs} at a time, ${opts.steps} queries measured after ${opts.warmupSteps}, ` +
      `pool of ${opts.pool}, ${opts.concurrency} queries in flight, ${db.user}@${db.host}:${db.port}/${db.database}\n`,
  );
  try {
    await eachAtMost(opts.jobs, tasks, async (t) => {
      const r = await runCounted(t.c, opts, dir, t.tag);
      t.c.results.push(r);
      process.stderr.write(`${t.tag}: ${Math.round(r.total)} instructions/query (steady ${Math.round(r.steady)}), ${r.seconds.toFixed(0)} s\n`);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const minutes = (Date.now() - t0) / 60000;

  const int = fmt.int;
  const lines = [
    '| server | query | contender | instructions / query | steady | vs baseline | steady vs baseline |',
    '|---|---|---|---:|---:|---:|---:|',
  ];
  const data = {};
  for (const c of contenders) {
    const base = contenders.find((x) => x.workload === c.workload && x.variant === 'baseline');
    const w = WORKLOADS[c.workload];
    const total = median(c.results.map((x) => x.total));
    const steady = median(c.results.map((x) => x.steady));
    const bt = median(base.results.map((x) => x.total));
    const bs = median(base.results.map((x) => x.steady));
    const d = c.variant === 'baseline' ? '' : fmt.added(total, bt);
    const ds = c.variant === 'baseline' ? '' : fmt.added(steady, bs);
    lines.push(`| ${SERVERS[w.server]} | ${w.title} | ${VARIANTS[c.variant]} | ${int(total)} | ${int(steady)} | ${d} | ${ds} |`);
    (data[c.workload] ??= {})[c.variant] = {
      instructionsPerQuery: Math.round(total),
      steadyPerQuery: Math.round(steady),
      ...(c.variant === 'baseline' ? {} : {
        addedPerQuery: Math.round(total - bt),
        addedPercent: Number((((total - bt) / bt) * 100).toFixed(2)),
        steadyAddedPerQuery: Math.round(steady - bs),
        steadyAddedPercent: Number((((steady - bs) / bs) * 100).toFixed(2)),
      }),
      runs: c.results.map((x) => ({ total: Math.round(x.total), steady: Math.round(x.steady) })),
    };
  }
  const raw = contenders.map((c) => `${c.workload}/${c.variant}: ${c.results.map((x) => `${int(x.total)} (steady ${int(x.steady)})`).join(', ')}`);
  const body =
    `${lines.join('\n')}\n\n` +
    `Instructions the Node process executes per query under \`valgrind --tool=callgrind\` (Node run with --single-threaded --hash-seed=1 --random-seed=1 ` +
    `--min-semi-space-size=8 --max-semi-space-size=8): medians over ${opts.runs} runs per contender, ${opts.steps} queries measured after ${opts.warmupSteps} of warm-up, ` +
    `pg.Pool of ${opts.pool}, ${opts.concurrency} queries in flight; the whole run took ${minutes.toFixed(1)} min, ${opts.jobs} callgrind run(s) at a time. ` +
    `"steady" leaves out major collections and libc's allocator, which land in one run's window and not another's. ` +
    `Against PostgreSQL only the Node side counts (the server is another process); against the in-process fake server the fake server's own work ` +
    `(parsing pg's messages, building replies) is in every contender's count, baseline included, so the differences are the instrumentation's and the percentages are smaller than they would be with it left out. ` +
    `Every instrumented contender counted every query (vigil's db_query_duration_seconds_count, the upstream spans).\n\n` +
    `Per run:\n${raw.map((r) => `- ${r}`).join('\n')}\n`;
  const command = `node bench/pg.js ${process.argv.slice(2).join(' ')}`.trim();
  writeResults('pg-instructions', 'PostgreSQL, instructions per query (bench/pg.js --instructions)', command, body, {
    options: { ...opts, servers, queries, contenders: variants },
    minutes: Number(minutes.toFixed(1)),
    results: data,
  });
}

if (process.argv.includes('--instructions') && process.argv[2] !== '--child') {
  instructions().catch((err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
} else if (process.argv[2] === '--alternate') {
  const [, , , workload, sliceMs, slices, poolSize, concurrency] = process.argv;
  alternateChild(workload, Number(sliceMs), Number(slices), Number(poolSize), Number(concurrency)).catch((err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
} else if (process.argv[2] === '--hook') {
  hookChild(process.argv[3]);
} else if (process.argv[2] === '--child') {
  const [, , , variant, workload, ms, warmupMs, poolSize, concurrency] = process.argv;
  child(variant, workload, Number(ms), Number(warmupMs), Number(poolSize), Number(concurrency)).catch((err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
}
