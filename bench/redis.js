#!/usr/bin/env node
// Redis overhead benchmark: GET/SET operations per second with and without
// @vigil/instrumentation-redis, for ioredis and node-redis, one command at a time
// (sequential awaits) and in pipelined batches.
//
// Every contender runs in its own child process (so one contender's JIT state,
// garbage and patched prototypes never touch another's), the contenders take turns
// round after round in a rotating order (so drift of the machine hits them alike),
// and the table shows each contender's median and its ratio to the baseline of the
// same client and mode, measured in the same run.
//
//   node bench/redis.js [--rounds 7] [--ms 2000] [--warmup-ms 3000] [--batch 100] [--redis redis://127.0.0.1:6379]
//
// Instruction counts instead of time (--instructions): each contender runs a fixed number of
// steps under `valgrind --tool=callgrind`, and the instructions executed between the end of
// its warm-up and the end of its measured steps are divided by the commands sent. On a shared
// machine this is repeatable where time is not (it leaves out waiting, not work).
//
//   node bench/redis.js --instructions [--runs 2] [--jobs 2] [--steps 20000] [--warmup-steps 10000]
//       [--clients ioredis,node-redis] [--modes sequential,pipeline] [--vigil-build packages/instrumentation-redis/build/src]
//
// --vigil-build runs the "vigil" contenders with another build of the instrumentation (an
// older commit compiled elsewhere), for before / after comparisons.
//
// The warm-up is long on purpose: the child that loads vigil also loads the OpenTelemetry
// SDK, and until V8 has compiled it (on background threads, which count in the process'
// CPU time) a short run measures start-up, not the steady state an application lives in.
//
// Needs a Redis server (default redis://127.0.0.1:6379, or REDIS_HOST / REDIS_PORT) and
// the built packages (`tsc -b`). Keys are written under a unique `vigil:bench:<pid>:` prefix
// and deleted afterwards.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { callgrindChild, eachAtMost, fmt, writeResults } = require('./lib/common');

const root = path.join(__dirname, '..');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const redisUrl = arg('redis', `redis://${process.env.REDIS_HOST ?? '127.0.0.1'}:${process.env.REDIS_PORT ?? 6379}`);
/** Set in the children of --instructions: fixed step counts, window marks for callgrind. */
const counting = process.env.VIGIL_BENCH_COUNT === '1';
/** The build of @vigil/instrumentation-redis the "vigil" contenders load. */
const vigilBuild = path.resolve(root, arg('vigil-build', process.env.VIGIL_BENCH_BUILD ?? 'packages/instrumentation-redis/build/src'));

// ---------------------------------------------------------------- child: one contender

async function child(client, mode, variant, ms, warmupMs, batch) {
  let metrics;
  if (variant === 'vigil') {
    // As @vigil/node wires it: the instrumentation is enabled before the client library is
    // loaded, and a Prometheus reader collects vigil's lean registry and the OTel meters.
    const { RedisInstrumentation } = require(vigilBuild);
    const { registerInstrumentations } = require('@opentelemetry/instrumentation');
    const { MeterProvider } = require('@opentelemetry/sdk-metrics');
    const { PrometheusExporter, PrometheusSerializer } = require('@opentelemetry/exporter-prometheus');
    const { leanRegistry } = require(path.join(root, 'packages/catalog/build/src'));
    const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, withoutTargetInfo: true, metricProducers: [leanRegistry()] });
    const meterProvider = new MeterProvider({ readers: [exporter] });
    // Counting: callgrind slows the process ~50 times; INFO memory is read as often per command as at full speed.
    registerInstrumentations({ instrumentations: [new RedisInstrumentation(counting ? { memoryRefreshIntervalMs: 50 * 15_000 } : {})], meterProvider });
    metrics = async () => new PrometheusSerializer(undefined, false, undefined, true, true).serialize((await exporter.collect()).resourceMetrics);
  }
  const prefix = `vigil:bench:${process.pid}:`;
  const keys = Array.from({ length: 64 }, (_, i) => `${prefix}${i}`);
  let get, set, pipeline, close;
  if (client === 'ioredis') {
    const Redis = require('ioredis');
    const r = new Redis(redisUrl);
    get = (k) => r.get(k);
    set = (k, v) => r.set(k, v);
    pipeline = (n, i0) => {
      const p = r.pipeline();
      for (let i = 0; i < n; i += 2) {
        const k = keys[(i0 + i) & 63];
        p.set(k, 'value');
        p.get(k);
      }
      return p.exec();
    };
    close = async () => {
      await r.del(...keys);
      await r.quit();
    };
  } else {
    const { createClient } = require('redis');
    // Counting: no per-command timeout. node-redis arms a 5 s AbortSignal timer per command,
    // and under callgrind, ~50 times slower, those timers fire inside the measured window.
    const c = await createClient({ url: redisUrl, ...(counting ? { commandOptions: { timeout: 0 } } : {}) }).connect();
    get = (k) => c.get(k);
    set = (k, v) => c.set(k, v);
    pipeline = (n, i0) => {
      const m = c.multi();
      for (let i = 0; i < n; i += 2) {
        const k = keys[(i0 + i) & 63];
        m.set(k, 'value');
        m.get(k);
      }
      return m.execAsPipeline();
    };
    close = async () => {
      await c.del(keys);
      await c.quit();
    };
  }
  // One step = two commands (SET then GET of the same key), so half the commands are reads (all hits).
  const step = mode === 'sequential'
    ? async (i) => {
      const k = keys[i & 63];
      await set(k, 'value');
      await get(k);
      return 2;
    }
    : async (i) => {
      await pipeline(batch, i);
      return batch;
    };
  const run = async (duration) => {
    let ops = 0;
    let i = 0;
    const cpu = process.cpuUsage();
    const start = performance.now();
    let now = start;
    while (now - start < duration) {
      ops += await step(i++);
      if ((i & 15) === 0 || mode !== 'sequential') now = performance.now();
    }
    const used = process.cpuUsage(cpu);
    return { ops, elapsed: performance.now() - start, cpuMicros: used.user + used.system, userMicros: used.user };
  };
  let measured;
  if (counting) {
    // ms and warmupMs are step counts. process._getActiveHandles() is called nowhere else:
    // callgrind dumps its counters when it is entered (--dump-before), around the measured steps.
    for (let i = 0; i < warmupMs; i++) await step(i);
    process._getActiveHandles();
    let ops = 0;
    for (let i = 0; i < ms; i++) ops += await step(i);
    process._getActiveHandles();
    measured = { ops, elapsed: NaN, cpuMicros: NaN, userMicros: NaN };
  } else {
    await run(warmupMs);
    measured = await run(ms);
  }
  const { ops, elapsed, cpuMicros, userMicros } = measured;
  let checked;
  if (metrics) {
    // Honesty check: vigil counted what was done (warm-up included).
    const text = await metrics();
    const m = /^cache_operations_total\{operation="get",result="hit"\} (\d+)/m.exec(text);
    checked = m ? Number(m[1]) : 0;
    if (checked < ops / 2) throw new Error(`vigil counted ${checked} GET hits, fewer than the ${ops / 2} GETs measured`);
  }
  await close();
  process.stdout.write(JSON.stringify({ opsPerSec: (ops / elapsed) * 1000, cpuMicrosPerOp: cpuMicros / ops, userMicrosPerOp: userMicros / ops, ops, checked }) + '\n');
}

// ---------------------------------------------------------------- parent: rounds and table

function runChild(contender, opts) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [__filename, '--child', contender.client, contender.mode, contender.variant, String(opts.ms), String(opts.warmupMs), String(opts.batch), '--redis', redisUrl], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, VIGIL_BENCH_BUILD: vigilBuild },
    });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${contender.client} ${contender.mode} ${contender.variant} exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch (e) {
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

async function main() {
  const opts = {
    rounds: Number(arg('rounds', 7)),
    ms: Number(arg('ms', 2000)),
    warmupMs: Number(arg('warmup-ms', 3000)),
    batch: Number(arg('batch', 100)),
  };
  const contenders = [];
  for (const client of ['ioredis', 'node-redis']) {
    for (const mode of ['sequential', 'pipeline']) {
      for (const variant of ['baseline', 'vigil']) contenders.push({ client, mode, variant, results: [], cpu: [] });
    }
  }
  const loadStart = os.loadavg();
  process.stderr.write(`redis bench: ${contenders.length} contenders x ${opts.rounds} rounds, ${opts.ms} ms each (after ${opts.warmupMs} ms warm-up), batch ${opts.batch}, ${redisUrl}\n`);
  for (let round = 0; round < opts.rounds; round++) {
    // Rotate the order each round so that no contender always runs first or last.
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]);
    for (const c of order) {
      const r = await runChild(c, opts);
      c.results.push(r.opsPerSec);
      c.cpu.push(r.cpuMicrosPerOp);
    }
    process.stderr.write(`round ${round + 1}/${opts.rounds} done\n`);
  }
  const lines = [
    `| client | mode | baseline ops/s | with vigil ops/s | vigil / baseline | client CPU µs/op, baseline → vigil | baseline / vigil CPU |`,
    `|---|---|---:|---:|---:|---:|---:|`,
  ];
  for (let i = 0; i < contenders.length; i += 2) {
    const base = contenders[i];
    const vigil = contenders[i + 1];
    const b = median(base.results);
    const v = median(vigil.results);
    const mode = base.mode === 'sequential' ? 'sequential awaits (SET, GET)' : `pipelines of ${opts.batch} (SET, GET pairs)`;
    const bc = median(base.cpu);
    const vc = median(vigil.cpu);
    lines.push(`| ${base.client} | ${mode} | ${Math.round(b).toLocaleString('en-US')} | ${Math.round(v).toLocaleString('en-US')} | ${((v / b) * 100).toFixed(1)}% | ${bc.toFixed(2)} → ${vc.toFixed(2)} | ${((bc / vc) * 100).toFixed(1)}% |`);
  }
  const raw = contenders.map((c) => `${c.client}/${c.mode}/${c.variant}: ${c.results.map((x) => Math.round(x)).join(', ')} ops/s; ${c.cpu.map((x) => x.toFixed(2)).join(', ')} µs/op`);
  process.stdout.write(
    `${lines.join('\n')}\n\nMedians over ${opts.rounds} rounds of ${opts.ms} ms per contender (after ${opts.warmupMs} ms of warm-up), Node ${process.version}, ` +
      `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), load average ${loadStart.map((x) => x.toFixed(1)).join(' ')} at the start, ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} at the end.\n` +
      `Client CPU is the benchmark process' own user + system time per command (process.cpuUsage).\n\n` +
      `Per round:\n${raw.map((r) => `- ${r}`).join('\n')}\n`,
  );
}

// ---------------------------------------------------------------- --instructions: callgrind

async function runCounted(contender, opts, dir, tag) {
  const perStep = contender.mode === 'sequential' ? 2 : opts.batch;
  // The same number of commands in every mode.
  const steps = Math.max(1, Math.round((opts.steps * 2) / perStep));
  const warmup = Math.max(1, Math.round((opts.warmupSteps * 2) / perStep));
  // Dump 2 is the measured window (dump 1: start-up and warm-up; dump 3: the rest).
  const { total, steady } = await callgrindChild(
    path.join(dir, `${tag}.cg`),
    [__filename, '--child', contender.client, contender.mode, contender.variant, String(steps), String(warmup), String(opts.batch), '--redis', redisUrl],
    { VIGIL_BENCH_COUNT: '1', VIGIL_BENCH_BUILD: vigilBuild },
  );
  const commands = steps * perStep;
  return { total: total / commands, steady: steady / commands };
}

async function instructions() {
  const opts = {
    runs: Number(arg('runs', 2)),
    jobs: Number(arg('jobs', 2)),
    steps: Number(arg('steps', 20000)),
    warmupSteps: Number(arg('warmup-steps', 10000)),
    batch: Number(arg('batch', 100)),
  };
  const clients = arg('clients', 'ioredis,node-redis').split(',');
  const modes = arg('modes', 'sequential,pipeline').split(',');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-redis-'));
  const tasks = [];
  const contenders = [];
  for (const client of clients) {
    for (const mode of modes) {
      for (const variant of ['baseline', 'vigil']) {
        const c = { client, mode, variant, results: [] };
        contenders.push(c);
        for (let r = 0; r < opts.runs; r++) tasks.push({ c, tag: `${client}-${mode}-${variant}-${r}` });
      }
    }
  }
  process.stderr.write(`redis bench, instructions: ${tasks.length} callgrind runs, ${opts.jobs} at a time, ${opts.steps * 2} commands measured after ${opts.warmupSteps * 2}, vigil from ${path.relative(root, vigilBuild) || vigilBuild}\n`);
  try {
    await eachAtMost(opts.jobs, tasks, async (t) => {
      t.c.results.push(await runCounted(t.c, opts, dir, t.tag));
      process.stderr.write(`${t.tag} done\n`);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const lines = [
    '| client | mode | baseline instructions / command | with vigil | vigil − baseline | steady baseline → vigil | steady vigil − baseline |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  const int = fmt.int;
  for (let i = 0; i < contenders.length; i += 2) {
    const b = contenders[i];
    const v = contenders[i + 1];
    const bt = median(b.results.map((x) => x.total));
    const vt = median(v.results.map((x) => x.total));
    const bs = median(b.results.map((x) => x.steady));
    const vs = median(v.results.map((x) => x.steady));
    const mode = b.mode === 'sequential' ? 'sequential awaits (SET, GET)' : `pipelines of ${opts.batch} (SET, GET pairs)`;
    lines.push(`| ${b.client} | ${mode} | ${int(bt)} | ${int(vt)} | ${fmt.added(vt, bt)} | ${int(bs)} → ${int(vs)} | ${fmt.added(vs, bs)} |`);
  }
  const raw = contenders.map((c) => `${c.client}/${c.mode}/${c.variant}: ${c.results.map((x) => `${int(x.total)} (steady ${int(x.steady)})`).join(', ')}`);
  const body =
    `${lines.join('\n')}\n\nMedians over ${opts.runs} callgrind runs per contender, ${opts.steps * 2} commands measured after ${opts.warmupSteps * 2}; vigil from ${path.relative(root, vigilBuild) || vigilBuild}. ` +
    `The client process only (the Redis server's work is not counted).\n` +
    `"steady" leaves out major collections and libc's allocator, which land in one run's window and not another's.\n\nPer run:\n${raw.map((r) => `- ${r}`).join('\n')}\n`;
  // A run of another build (--vigil-build) is a comparison, not the latest result.
  const name = vigilBuild === path.join(root, 'packages/instrumentation-redis/build/src') ? 'redis-instructions' : 'redis-instructions-other-build';
  writeResults(name, 'Redis, instructions per command (bench/redis.js --instructions)', `node bench/redis.js ${process.argv.slice(2).join(' ')}`, body);
}

if (process.argv[2] === '--child') {
  const [, , , client, mode, variant, ms, warmupMs, batch] = process.argv;
  child(client, mode, variant, Number(ms), Number(warmupMs), Number(batch)).catch((err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
} else {
  (process.argv.includes('--instructions') ? instructions() : main()).catch((err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
}
