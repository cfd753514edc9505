#!/usr/bin/env node
// PostgreSQL overhead benchmark: queries per second of `SELECT 1` and of an indexed
// primary-key lookup in a 100k-row table, through pg's Pool, with no instrumentation
// (baseline), with @vigil/instrumentation-pg (metrics, as @vigil/node wires them), and with
// the upstream @opentelemetry/instrumentation-pg (tracing every query into a span processor
// that counts and drops spans, with an AsyncLocalStorage context manager and its own
// db.client.operation.duration metric going to a MeterProvider, as a traced app runs it).
//
// Every measurement runs in its own child process (one contender's patches, JIT state and
// garbage never touch another's); contenders take turns round after round in a rotating
// order, so drift of a shared machine hits them alike. The table shows, per workload and
// contender: median queries/s; the median over rounds of queries/s relative to the baseline
// measured next to it in the same round; and the Node process's CPU time (user + system) per
// query, which a busy machine disturbs far less than throughput — baseline CPU / contender CPU
// is the throughput ratio when the Node process is the bottleneck.
//
//   node bench/pg.js [--rounds 7] [--ms 2000] [--warmup-ms 500] [--pool 4] [--concurrency 8]
//
// Needs PostgreSQL (PGHOST / PGPORT / PGUSER / PGDATABASE, default postgres@127.0.0.1:5432/test)
// and the built packages (`tsc -b`). Creates the table vigil_bench_users (100,000 rows,
// primary key id) once and leaves it for the next run.
'use strict';
const { spawn } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const TABLE = 'vigil_bench_users';
const ROWS = 100_000;

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const db = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
  database: process.env.PGDATABASE ?? 'test',
  password: process.env.PGPASSWORD,
};

const WORKLOADS = {
  select1: { title: '`SELECT 1`', text: 'SELECT 1', values: () => undefined, table: 'none' },
  lookup: {
    title: `indexed lookup (\`SELECT ... FROM ${TABLE} WHERE id = $1\`, ${ROWS.toLocaleString('en-US')} rows)`,
    text: `SELECT id, name, email, credits FROM ${TABLE} WHERE id = $1`,
    values: (i) => [1 + ((i * 7919) % ROWS)],
    table: TABLE,
  },
};

// ---------------------------------------------------------------- child: one measurement

async function child(variant, workloadName, ms, warmupMs, poolSize, concurrency) {
  const workload = WORKLOADS[workloadName];
  let check = async () => undefined;
  if (variant === 'vigil') {
    // As @vigil/node wires it: the instrumentation is enabled before pg is loaded, and a
    // Prometheus reader collects vigil's lean registry and the OTel meters (pool gauges).
    const { PgInstrumentation } = require(path.join(root, 'packages/instrumentation-pg/build/src'));
    const { leanRegistry } = require(path.join(root, 'packages/catalog/build/src'));
    const { registerInstrumentations } = require('@opentelemetry/instrumentation');
    const { MeterProvider } = require('@opentelemetry/sdk-metrics');
    const { PrometheusExporter, PrometheusSerializer } = require('@opentelemetry/exporter-prometheus');
    const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, withoutTargetInfo: true, metricProducers: [leanRegistry()] });
    const meterProvider = new MeterProvider({ readers: [exporter] });
    registerInstrumentations({ instrumentations: [new PgInstrumentation()], meterProvider });
    check = async () => {
      const text = new PrometheusSerializer(undefined, false, undefined, true, true).serialize((await exporter.collect()).resourceMetrics);
      const m = new RegExp(`^db_query_duration_seconds_count\\{table="${workload.table}",operation="select"\\} (\\d+)`, 'm').exec(text);
      return m ? Number(m[1]) : 0;
    };
  } else if (variant === 'otel') {
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
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(tracerProvider);
    const meterProvider = new MeterProvider({ readers: [new PrometheusExporter({ preventServerStart: true })] });
    registerInstrumentations({ instrumentations: [new PgInstrumentation()], tracerProvider, meterProvider });
    check = async () => spans;
  }
  const pg = require('pg');
  const pool = new pg.Pool({ ...db, max: poolSize });
  const run = async (duration) => {
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
  };
  const warm = await run(warmupMs);
  const { ops, elapsed, cpuMicros } = await run(ms);
  // Honesty check: the instrumentation really saw every query (warm-up included).
  const seen = await check();
  if (seen !== undefined && seen < warm.ops + ops) throw new Error(`${variant} saw ${seen} queries, fewer than the ${warm.ops + ops} run`);
  await pool.end();
  process.stdout.write(JSON.stringify({ opsPerSec: (ops / elapsed) * 1000, cpuPerQuery: cpuMicros / ops, ops, seen }) + '\n');
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

function runChild(c, opts) {
  return new Promise((resolve, reject) => {
    const args = [__filename, '--child', c.variant, c.workload, String(opts.ms), String(opts.warmupMs), String(opts.pool), String(opts.concurrency)];
    const p = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${c.variant} ${c.workload} exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch {
        reject(new Error(`bad child output: ${out}`));
      }
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const VARIANTS = {
  baseline: 'no instrumentation',
  vigil: '@vigil/instrumentation-pg (metrics)',
  otel: '@opentelemetry/instrumentation-pg 0.77 (tracing)',
};

async function main() {
  const opts = {
    rounds: Number(arg('rounds', 7)),
    ms: Number(arg('ms', 2000)),
    warmupMs: Number(arg('warmup-ms', 500)),
    pool: Number(arg('pool', 4)),
    concurrency: Number(arg('concurrency', 8)),
  };
  await setup();
  const contenders = [];
  for (const workload of Object.keys(WORKLOADS)) {
    for (const variant of Object.keys(VARIANTS)) contenders.push({ workload, variant, results: [], cpu: [] });
  }
  process.stderr.write(`pg bench: ${contenders.length} contenders x ${opts.rounds} rounds, ${opts.ms} ms each (after ${opts.warmupMs} ms warm-up), pool of ${opts.pool}, ${opts.concurrency} queries in flight, ${db.user}@${db.host}:${db.port}/${db.database}\n`);
  for (let round = 0; round < opts.rounds; round++) {
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]);
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
    '| workload | contender | queries/s (median) | queries/s vs baseline (median of per-round ratios) | Node CPU per query (median) | baseline CPU / contender CPU |',
    '|---|---|---:|---:|---:|---:|',
  ];
  for (const workload of Object.keys(WORKLOADS)) {
    const base = contenders.find((c) => c.workload === workload && c.variant === 'baseline');
    const baseCpu = median(base.cpu);
    for (const [variant, title] of Object.entries(VARIANTS)) {
      const c = contenders.find((x) => x.workload === workload && x.variant === variant);
      const ratio = median(c.results.map((v, i) => v / base.results[i]));
      const cpu = median(c.cpu);
      lines.push(
        `| ${WORKLOADS[workload].title} | ${title} | ${Math.round(median(c.results)).toLocaleString('en-US')} | ${(ratio * 100).toFixed(1)}% | ${cpu.toFixed(1)} µs | ${((baseCpu / cpu) * 100).toFixed(1)}% |`,
      );
    }
  }
  const raw = contenders.map((c) => `${c.workload}/${c.variant}: ${c.results.map((x, i) => `${Math.round(x)} (${c.cpu[i].toFixed(1)} µs)`).join(', ')}`);
  const cpus = os.cpus();
  process.stdout.write(
    `${lines.join('\n')}\n\nNode ${process.version}, ${cpus.length} CPUs (${cpus[0]?.model ?? 'unknown'}), PostgreSQL on the same machine; ` +
      `pg.Pool of ${opts.pool}, ${opts.concurrency} queries in flight; ${opts.rounds} rounds of ${opts.ms} ms per contender after ${opts.warmupMs} ms warm-up.\n\n` +
      `Per-round queries/s (Node CPU per query):\n${raw.map((r) => `- ${r}`).join('\n')}\n`,
  );
}

if (process.argv[2] === '--child') {
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
