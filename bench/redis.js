#!/usr/bin/env node
// Redis overhead benchmark: GET/SET operations per second with and without
// @vigil/instrumentation-redis, for ioredis and node-redis, one command at a time
// (sequential awaits) and in pipelined batches.
//
// Every contender runs in its own child process (so one contender's JIT state, garbage and
// patched prototypes never touch another's); the contenders of a workload run back to back, in
// an order that rotates round after round, so drift of the machine hits them alike. The table
// shows each contender's median operations/s, the median over rounds of its ratio to the
// baseline measured next to it, and the client's CPU time per command. A second baseline
// process ("A/A control") is measured like a contender: its ratio shows how far this machine's
// own noise moves the numbers. A second table pairs tighter still: one process with vigil
// loaded, switched on and off between short slices (see alternateChild).
//
//   node bench/redis.js [--rounds 7] [--ms 2000] [--warmup-ms 3000] [--slices 150] [--slice-ms 300] [--batch 100]
//       [--redis redis://127.0.0.1:6379]
//
// writes bench/results/redis.md.
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
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { callgrindChild, eachAtMost, fmt, median, nodeChild, opt, sumSamples, writeResults } = require('./lib/common');

const root = path.join(__dirname, '..');

const redisUrl = opt('redis', `redis://${process.env.REDIS_HOST ?? '127.0.0.1'}:${process.env.REDIS_PORT ?? 6379}`);
/** Set in the children of --instructions: fixed step counts, window marks for callgrind. */
const counting = process.env.VIGIL_BENCH_COUNT === '1';
/** The build of @vigil/instrumentation-redis the "vigil" contenders load. */
const vigilBuild = path.resolve(root, opt('vigil-build', process.env.VIGIL_BENCH_BUILD ?? 'packages/instrumentation-redis/build/src'));

/**
 * vigil as @vigil/node wires it: the instrumentation is enabled before the client library is
 * loaded, and a Prometheus reader collects vigil's lean registry and the OTel meters.
 * `commands()`: the Redis commands vigil has counted so far.
 */
function setupVigil() {
  const { RedisInstrumentation } = require(vigilBuild);
  const { registerInstrumentations } = require('@opentelemetry/instrumentation');
  const { MeterProvider } = require('@opentelemetry/sdk-metrics');
  const { PrometheusExporter, PrometheusSerializer } = require('@opentelemetry/exporter-prometheus');
  const { leanRegistry } = require(path.join(root, 'packages/catalog/build/src'));
  const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, withoutTargetInfo: true, metricProducers: [leanRegistry()] });
  const meterProvider = new MeterProvider({ readers: [exporter] });
  // Counting: callgrind slows the process ~50 times; INFO memory is read as often per command as at full speed.
  const instrumentation = new RedisInstrumentation(counting ? { memoryRefreshIntervalMs: 50 * 15_000 } : {});
  registerInstrumentations({ instrumentations: [instrumentation], meterProvider });
  const text = async () => new PrometheusSerializer(undefined, false, undefined, true, true).serialize((await exporter.collect()).resourceMetrics);
  return { instrumentation, commands: async () => sumSamples(await text(), 'cache_operations_total') };
}

/** A connected client and the workload's step: one step = `returns` commands. */
async function connect(client, mode, batch) {
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
  return { step, close };
}

/** Steps for `duration` ms: commands, ms elapsed and the process' CPU time (µs). */
async function drive(step, mode, duration) {
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
  return { ops, elapsed: performance.now() - start, cpuMicros: used.user + used.system };
}

// ---------------------------------------------------------------- child: one contender

async function child(client, mode, variant, ms, warmupMs, batch) {
  const vigil = variant === 'vigil' ? setupVigil() : undefined;
  const { step, close } = await connect(client, mode, batch);
  let measured;
  if (counting) {
    // ms and warmupMs are step counts. process._getActiveHandles() is called nowhere else:
    // callgrind dumps its counters when it is entered (--dump-before), around the measured steps.
    for (let i = 0; i < warmupMs; i++) await step(i);
    process._getActiveHandles();
    let ops = 0;
    for (let i = 0; i < ms; i++) ops += await step(i);
    process._getActiveHandles();
    measured = { ops, elapsed: NaN, cpuMicros: NaN };
  } else {
    await drive(step, mode, warmupMs);
    measured = await drive(step, mode, ms);
  }
  const { ops, elapsed, cpuMicros } = measured;
  // Honesty check: vigil counted what was done (warm-up included).
  const counted = vigil ? await vigil.commands() : undefined;
  if (vigil && !(counted >= ops)) throw new Error(`vigil counted ${counted} Redis commands, fewer than the ${ops} measured`);
  await close();
  process.stdout.write(JSON.stringify({ opsPerSec: (ops / elapsed) * 1000, cpuMicrosPerOp: cpuMicros / ops, ops, counted }) + '\n');
}

// ---------------------------------------------------------------- child: alternating in one process

// The tightest pairing: one process, one connection, the instrumentation switched on and off
// (InstrumentationBase enable / disable patches and unpatches the client) between short slices,
// so baseline and vigil are measured milliseconds apart on the same warm process. Prints
// { baseline: [[ops/s, CPU µs per command], ...], vigil: [...] }, slice i of one against slice i
// of the other.
async function alternateChild(client, mode, sliceMs, slices, batch) {
  const vigil = setupVigil();
  const { step, close } = await connect(client, mode, batch);
  const out = { baseline: [], vigil: [] };
  const set = (variant) => (variant === 'vigil' ? vigil.instrumentation.enable() : vigil.instrumentation.disable());
  for (const v of Object.keys(out)) {
    set(v);
    await drive(step, mode, sliceMs * 3);
  }
  for (let i = 0; i < slices; i++) {
    for (const v of i % 2 ? ['vigil', 'baseline'] : ['baseline', 'vigil']) {
      set(v);
      const before = await vigil.commands();
      const r = await drive(step, mode, sliceMs);
      const seen = (await vigil.commands()) - before;
      // Honesty check: vigil saw every command of its slices and none of the baseline's.
      if (v === 'vigil' ? seen < r.ops : seen !== 0) throw new Error(`${v} slice: vigil counted ${seen} of ${r.ops} commands`);
      out[v].push([(r.ops / r.elapsed) * 1000, r.cpuMicros / r.ops]);
    }
  }
  vigil.instrumentation.disable();
  await close();
  process.stdout.write(JSON.stringify(out) + '\n');
}

// ---------------------------------------------------------------- parent: rounds and table

function childArgs(c, opts) {
  const common = [c.client, c.mode];
  return c.alternate
    ? [__filename, '--alternate', ...common, String(opts.sliceMs), String(opts.slices), String(opts.batch), '--redis', redisUrl]
    : [__filename, '--child', ...common, c.variant, String(opts.ms), String(opts.warmupMs), String(opts.batch), '--redis', redisUrl];
}

const runChild = (c, opts) => nodeChild(childArgs(c, opts), `${c.client} ${c.mode} ${c.variant}`, { VIGIL_BENCH_BUILD: vigilBuild });

const VARIANTS = {
  baseline: 'no instrumentation',
  control: 'A/A control (a second uninstrumented process)',
  vigil: '@vigil/instrumentation-redis (metrics)',
};
const modeTitle = (mode, batch) => (mode === 'sequential' ? 'sequential awaits (SET, GET)' : `pipelines of ${batch} (SET, GET pairs)`);

async function main() {
  const opts = {
    rounds: opt('rounds', 7),
    ms: opt('ms', 2000),
    warmupMs: opt('warmup-ms', 3000),
    batch: opt('batch', 100),
    sliceMs: opt('slice-ms', 300),
    slices: opt('slices', 150),
  };
  const workloads = [];
  for (const client of ['ioredis', 'node-redis']) for (const mode of ['sequential', 'pipeline']) workloads.push({ client, mode });
  const contenders = workloads.flatMap((w) => Object.keys(VARIANTS).map((variant) => ({ ...w, variant, results: [], cpu: [] })));
  const loadStart = os.loadavg();
  process.stderr.write(`redis bench: ${contenders.length} contenders x ${opts.rounds} rounds, ${opts.ms} ms each (after ${opts.warmupMs} ms warm-up), batch ${opts.batch}, ${redisUrl}\n`);
  const variants = Object.keys(VARIANTS);
  for (let round = 0; round < opts.rounds; round++) {
    // The contenders of one workload run back to back (each is compared with the baseline
    // measured seconds apart), in an order that rotates every round.
    for (const w of round % 2 ? [...workloads].reverse() : workloads) {
      for (let i = 0; i < variants.length; i++) {
        const c = contenders.find((x) => x.client === w.client && x.mode === w.mode && x.variant === variants[(i + round) % variants.length]);
        const r = await runChild(c, opts);
        c.results.push(r.opsPerSec);
        c.cpu.push(r.cpuMicrosPerOp);
      }
    }
    process.stderr.write(`round ${round + 1}/${opts.rounds} done\n`);
  }
  // Operations/s is what the app gets, but on a shared machine it swings with everything else
  // running, so the ratio is taken per round (against the baseline measured next to it). The
  // client's CPU per command is steadier: baseline CPU / contender CPU is the throughput ratio
  // when the client process is the bottleneck.
  const lines = [
    '| client | mode | contender | ops/s (median) | ops/s vs baseline (median of per-round ratios) | middle half of the per-round ratios | client CPU per command (median) | baseline CPU / contender CPU |',
    '|---|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const w of workloads) {
    const of = (variant) => contenders.find((c) => c.client === w.client && c.mode === w.mode && c.variant === variant);
    const base = of('baseline');
    for (const [variant, title] of Object.entries(VARIANTS)) {
      const c = of(variant);
      const ratios = c.results.map((v, i) => v / base.results[i]);
      const cpu = median(c.cpu);
      lines.push(
        `| ${w.client} | ${modeTitle(w.mode, opts.batch)} | ${title} | ${fmt.int(median(c.results))} | ${fmt.pct(median(ratios))} | ${c === base ? '' : fmt.middleHalf(ratios)} | ${cpu.toFixed(2)} µs | ${fmt.pct(median(base.cpu) / cpu)} |`,
      );
    }
  }
  if (opts.slices > 0) {
    lines.push(
      '',
      `Alternating in one process (vigil loaded, switched on and off between ${opts.sliceMs} ms slices, ${opts.slices} slices each, alternating order):`,
      '',
      '| client | mode | contender | ops/s vs baseline (median of per-slice ratios) | 95% confidence interval of that median | middle half of the ratios | client CPU per command (median) | baseline CPU / contender CPU |',
      '|---|---|---|---:|---:|---:|---:|---:|',
    );
    for (const w of workloads) {
      const r = await runChild({ ...w, alternate: true, variant: 'alternate' }, opts);
      const ratios = r.vigil.map((x, i) => x[0] / r.baseline[i][0]);
      const baseCpu = median(r.baseline.map((x) => x[1]));
      const cpu = median(r.vigil.map((x) => x[1]));
      lines.push(`| ${w.client} | ${modeTitle(w.mode, opts.batch)} | ${VARIANTS.vigil} | ${fmt.pct(median(ratios))} | ${fmt.medianInterval(ratios)} | ${fmt.middleHalf(ratios)} | ${cpu.toFixed(2)} µs (baseline ${baseCpu.toFixed(2)} µs) | ${fmt.pct(baseCpu / cpu)} |`);
    }
  }
  const raw = contenders.map((c) => `${c.client}/${c.mode}/${c.variant}: ${c.results.map((x) => Math.round(x)).join(', ')} ops/s; ${c.cpu.map((x) => x.toFixed(2)).join(', ')} µs/op`);
  const body =
    `${lines.join('\n')}\n\n${opts.rounds} rounds of ${opts.ms} ms per contender (after ${opts.warmupMs} ms of warm-up), each in its own process; Redis on the same machine; ` +
    `load average ${loadStart.map((x) => x.toFixed(1)).join(' ')} at the start. ` +
    `Client CPU is the benchmark process' own user + system time per command (process.cpuUsage). The A/A control is a second, identical uninstrumented process: how far this machine's noise moves the ratios.\n\n` +
    `Per round:\n${raw.map((r) => `- ${r}`).join('\n')}\n`;
  writeResults('redis', 'Redis (bench/redis.js)', `node bench/redis.js${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}`, body);
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
    runs: opt('runs', 2),
    jobs: opt('jobs', 2),
    steps: opt('steps', 20000),
    warmupSteps: opt('warmup-steps', 10000),
    batch: opt('batch', 100),
  };
  const clients = opt('clients', 'ioredis,node-redis').split(',');
  const modes = opt('modes', 'sequential,pipeline').split(',');
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
} else if (process.argv[2] === '--alternate') {
  const [, , , client, mode, sliceMs, slices, batch] = process.argv;
  alternateChild(client, mode, Number(sliceMs), Number(slices), Number(batch)).catch((err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
} else {
  (process.argv.includes('--instructions') ? instructions() : main()).catch((err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
}
