#!/usr/bin/env node
// HTTP overhead: vigil against the uninstrumented app and against the peers users
// compare it with, on plain node:http and on Express, with a hello-world handler and
// with a handler doing ~1 ms of CPU work.
//
// Every contender is its own server process (bench/lib/http-app.js), started as users
// start it (vigil and the OTel auto-instrumentations by --require). This process is
// the client, on the other core. Per round, each contender gets, in an order that
// rotates every round (A B C, B C A, ...), a throughput run: a fixed number of requests
// (`--requests` for the hello worlds, `--work-requests` for the ~1 ms handler) over 8
// keep-alive connections; the server's own CPU time (process.cpuUsage(),
// asked over IPC before and after) divided by the request count is the CPU per request. Then
// a latency run of all of them: one connection to each (an unloaded server), one request at a
// time, the servers taking turns request by request, so that a burst of noise on the machine
// lands on all of them rather than in one contender's tail; p50 and p99 of the client-side latency.
// The table shows medians over rounds, and each contender's ratio to the baseline as
// the median of per-round ratios (each round's baseline ran seconds apart from it).
// Absolute numbers drift with whatever else the machine runs; the ratios are what is
// compared. After the rounds every contender's own metrics are scraped to check that
// it counted every request it served.
//
//   node bench/http.js [--rounds 9] [--requests 20000] [--work-requests 1000] [--latency-requests 3000]
//                      [--workloads http-hello,http-work,express-hello,express-work]
//                      [--contenders baseline,vigil,prom-client,prom-bundle,otel] [--app-heap-mb 0]
//   --app-heap-mb N: every server keeps ~N MB of long-lived application data (both modes), as real
//   apps do; a hello world's own few MB of heap make the GC's promotion follow whatever is loaded.
//
// Instructions instead of time (--instructions): each contender's server runs under
// `valgrind --tool=callgrind` (Node with the deterministic V8 flags of callgrindNode in
// lib/common.js, plus --no-memory-reducer), started as above. This process, not under
// valgrind, sends it `--warmup-requests` in loads of 1000 on new connections, asking it over
// IPC after each to mark (it calls process._getActiveHandles(), where callgrind dumps its
// counters); then `--requests` (a fifth for Express, ~10 times dearer per request) over
// `--connections` new keep-alive connections and a mark: that window's instructions / requests
// is the cost per request, total and "steady" (without major GC and libc's allocator). Then
// `--idle-ms` without requests and a last mark, and the contender's own metrics are checked.
// Medians over `--runs`, `--jobs` servers at a time. Writes results/http-instructions.md and
// .json; a full run takes about 26 minutes on an otherwise quiet machine.
//   - The warm-up is split because V8 keeps recompiling until it has seen connections come and
//     go (and a mark's IPC) a few times: after one load of 12 000 requests it still compiles in
//     the window, tripling the figure.
//   - The warm-up is long because V8 tiers functions up by how much they have run: after 12 000
//     requests some of Node's own http functions (and vigil's) still ran in their Sparkplug code
//     or were compiled in the window, ~500 instructions per request in the baseline too.
//   - The window is long so that the GCs it holds are a fair share of a server's, not luck.
//   - What still depends on the machine's load is what runs by the clock. V8's memory reducer
//     is off: at callgrind's pace a busy server looks idle to it, and its GCs drop compiled
//     code. Timers keep their wall-clock rate while the server runs ~50-100 times slower, so
//     periodic work (the runtime metrics' 10 ms event-loop-delay timer) weighs ~50-100 times
//     more per request than at full speed: it is left in, and its share is shown separately
//     ("periodic work", from the idle period) as an upper bound.
//
//   node bench/http.js --instructions [--runs 2] [--jobs 2] [--warmup-requests 30000] [--requests 20000]
//                      [--connections 4] [--idle-ms 2000] [--workloads http-hello,express-hello]
//                      [--contenders baseline,vigil,prom-client,otel]
//   The ~1 ms handler, a run of its own (1/40 of the requests, each ~150-200 times dearer, after a
//   warm-up of MIN_WARMUP_REQUESTS; results/http-instructions-work.md, about 20 minutes):
//     node bench/http.js --instructions --workloads http-work
//
//   drive one server you started yourself (e.g. under --cpu-prof):
//     BENCH_FRAMEWORK=http node --cpu-prof --require @vigil/node/register bench/lib/http-app.js
//     node bench/http.js --drive <port> [--requests 200000] [--path /]
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  ROOT,
  opt,
  median,
  percentile,
  medianRatio,
  fmt,
  table,
  writeResults,
  freePort,
  spawnChild,
  ask,
  stopChild,
  load,
  serialConnection,
  get,
  sumSamples,
  callgrindNode,
  callgrindWindow,
  eachAtMost,
  cleanEnv,
} = require('./lib/common');

const APP = path.join(__dirname, 'lib', 'http-app.js');
/**
 * Requests every server serves before anything is measured. V8 optimizes the application's request
 * handler after 3,000-4,000 calls (it counts calls, it does not time them), inlining what the
 * handler calls: the ~1 ms handler's loop then runs ~20% fewer instructions per step. A server
 * measured on the way there is measured on code the others may already have left behind (this
 * was the ~1 ms handler's +2% in instructions with a 3,000-request warm-up; bench/notes.md).
 */
const MIN_WARMUP_REQUESTS = 6000;
/** --instructions: requests per warm-up load (each on new connections, each followed by a mark). */
const WARMUP_LOAD = 1000;
// --instructions: Express costs ~10 times a node:http hello world per request, the ~1 ms handler
// ~150-200 times (7-9 M instructions once optimized, ~40 ms under callgrind); dearer requests, fewer of them.
const isWork = (key) => WORKLOADS[key].path === '/work';
const windowRequests = (key, opts) => Math.round(isWork(key) ? opts.requests / 40 : WORKLOADS[key].framework === 'express' ? opts.requests / 5 : opts.requests);
const warmupRequests = (key, opts) => Math.max(MIN_WARMUP_REQUESTS, isWork(key) ? Math.round(opts.warmup / 5) : opts.warmup);

const WORKLOADS = {
  'http-hello': { framework: 'http', path: '/', title: 'node:http, hello world' },
  'http-work': { framework: 'http', path: '/work', title: 'node:http, ~1 ms handler' },
  'express-hello': { framework: 'express', path: '/', title: 'Express 5, hello world' },
  'express-work': { framework: 'express', path: '/work', title: 'Express 5, ~1 ms handler' },
};

/** MB of long-lived data every server keeps, as a real app does (bench/lib/http-app.js). */
const APP_HEAP_MB = opt('app-heap-mb', 0);
const appHeapNote = () => (APP_HEAP_MB > 0 ? ` Every server keeps ~${APP_HEAP_MB} MB of application data (\`--app-heap-mb ${APP_HEAP_MB}\`).` : '');

/** A server's environment: common.js's cleanEnv, and the application data it keeps. */
function serverEnv() {
  return { ...cleanEnv(), BENCH_APP_HEAP_MB: String(APP_HEAP_MB) };
}

const CONTENDERS = {
  baseline: {
    title: 'baseline (no metrics)',
    setup: async () => ({ execArgv: [], env: { BENCH_METRICS: 'none' } }),
  },
  vigil: {
    title: 'vigil (`--require @vigil/node/register`, Prometheus, runtime metrics on)',
    setup: async () => {
      const port = await freePort();
      return {
        execArgv: ['--require', '@vigil/node/register'],
        env: { BENCH_METRICS: 'none', OTEL_EXPORTER_PROMETHEUS_PORT: String(port), OTEL_METRICS_EXPORTER: 'prometheus', VIGIL_RUNTIME_METRICS: 'true' },
        check: async () => {
          const text = (await get(port, '/metrics')).body.toString();
          return sumSamples(text, 'http_requests_total');
        },
      };
    },
  },
  // baseline-2 runs by default; the others are not in the default set: where
  // vigil's cost comes from (--contenders baseline,baseline-2,noop-channel,http-only,vigil-start,vigil-no-runtime,vigil).
  'baseline-2': {
    title: 'a second, identical baseline (A/A control: how far two equal servers drift apart in this run)',
    setup: async () => ({ execArgv: [], env: { BENCH_METRICS: 'none' } }),
  },
  'noop-channel': {
    title: 'no-op subscribers on http.server.request.start / response.finish (the channels alone)',
    optional: true,
    setup: async () => ({ execArgv: ['--require', './bench/lib/noop-channel-preload.js'], env: { BENCH_METRICS: 'none' } }),
  },
  'http-only': {
    title: '@vigil/instrumentation-http alone (lean registry, no reader, no runtime metrics)',
    optional: true,
    setup: async () => ({ execArgv: ['--require', './bench/lib/http-instrumentation-preload.js'], env: { BENCH_METRICS: 'none' } }),
  },
  // What a heap a few MB larger does to the GC of a hello world: vigil's loaded code and state
  // keep ~5 MB (heap after a full GC: 8.2 MB under --require, 3.5 MB plain node; notes, item 27).
  'baseline-heap': {
    title: 'the baseline keeping 5 MB more application data (about the heap vigil adds), no metrics',
    optional: true,
    setup: async () => ({ execArgv: [], env: { BENCH_METRICS: 'none', BENCH_APP_HEAP_MB: String(APP_HEAP_MB + 5) } }),
  },
  'vigil-no-runtime': {
    title: 'vigil with VIGIL_RUNTIME_METRICS=false',
    optional: true,
    setup: async () => {
      const port = await freePort();
      return {
        execArgv: ['--require', '@vigil/node/register'],
        env: { BENCH_METRICS: 'none', OTEL_EXPORTER_PROMETHEUS_PORT: String(port), VIGIL_RUNTIME_METRICS: 'false' },
        check: async () => sumSamples((await get(port, '/metrics')).body.toString(), 'http_requests_total'),
      };
    },
  },
  'vigil-start': {
    title: "vigil started from code (`require('@vigil/node').start()`, no ESM loader hook)",
    optional: true,
    setup: async () => {
      const port = await freePort();
      return {
        execArgv: ['--require', './bench/lib/vigil-start-preload.js'],
        env: { BENCH_METRICS: 'none', OTEL_EXPORTER_PROMETHEUS_PORT: String(port), VIGIL_RUNTIME_METRICS: 'true' },
        check: async () => sumSamples((await get(port, '/metrics')).body.toString(), 'http_requests_total'),
      };
    },
  },
  'prom-client': {
    title: 'prom-client 15, hand-written middleware (same three metrics and buckets, default metrics on)',
    setup: async (appPort) => ({
      execArgv: [],
      env: { BENCH_METRICS: 'prom-client' },
      check: async () => sumSamples((await get(appPort(), '/metrics')).body.toString(), 'http_requests_total'),
    }),
  },
  'prom-bundle': {
    title: 'express-prom-bundle 8 (method, path, status; seed buckets; default metrics on)',
    frameworks: ['express'],
    setup: async (appPort) => ({
      execArgv: [],
      env: { BENCH_METRICS: 'prom-bundle' },
      check: async () => sumSamples((await get(appPort(), '/metrics')).body.toString(), 'http_request_duration_seconds_count'),
    }),
  },
  otel: {
    title: 'OpenTelemetry auto-instrumentations 0.82 (`--require .../register`, traces off, Prometheus)',
    setup: async () => {
      const port = await freePort();
      return {
        execArgv: ['--require', '@opentelemetry/auto-instrumentations-node/register'],
        env: {
          BENCH_METRICS: 'none',
          OTEL_TRACES_EXPORTER: 'none',
          OTEL_LOGS_EXPORTER: 'none',
          OTEL_METRICS_EXPORTER: 'prometheus',
          OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
          // vigil's own default detectors; the cloud detectors would call metadata hosts.
          OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process,serviceinstance',
        },
        check: async () => sumSamples((await get(port, '/metrics')).body.toString(), 'http_server_request_duration_count'),
      };
    },
  },
};

function work(n) {
  let x = 0x9e3779b9 | 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x >>> 0;
}

/** xorshift steps that take ~1 ms here (the same count goes to every server). */
function calibrate() {
  let steps = 100_000;
  for (let i = 0; i < 5; i++) work(steps); // JIT
  const samples = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    work(steps);
    samples.push(performance.now() - t0);
  }
  return Math.round(steps / median(samples));
}

async function startServer(name, workload, steps) {
  const c = CONTENDERS[name];
  let port;
  const s = await c.setup(() => port);
  const started = spawnChild(APP, {
    execArgv: [...s.execArgv, '--expose-gc'],
    env: { ...serverEnv(), ...s.env, BENCH_FRAMEWORK: WORKLOADS[workload].framework, BENCH_WORK_STEPS: String(steps) },
  });
  const ready = await started.ready;
  port = ready.port;
  return { name, title: c.title, child: started.child, port, check: s.check, served: 0, cpu: [], rps: [], p50: [], p99: [], rss: 0, heap: 0, stderr: started.stderr };
}

async function throughput(s, reqPath, total) {
  const before = await ask(s.child, 'stats');
  const { ns } = await load(s.port, { total, connections: 8, path: reqPath });
  const after = await ask(s.child, 'stats');
  s.served += total;
  return { cpuPerReq: (after.cpu - before.cpu) / total, rps: total / (ns / 1e9) };
}

/**
 * Latency of unloaded servers: one connection each, one request at a time, the servers taking turns
 * request by request (A B C, B C A, ...), so that a burst of noise on the machine lands on all of
 * them and not in one server's tail. [{ p50, p99 }] in ms, in the order of `servers`.
 */
async function latencies(servers, reqPath, total) {
  const conns = await Promise.all(servers.map((s) => serialConnection(s.port, reqPath)));
  const ms = servers.map(() => new Float64Array(total));
  try {
    for (let i = 0; i < total; i++) {
      for (let k = 0; k < servers.length; k++) {
        const j = (i + k) % servers.length;
        ms[j][i] = await conns[j].send();
      }
    }
  } finally {
    for (const c of conns) c.close();
  }
  for (const s of servers) s.served += total;
  return ms.map((l) => ({ p50: percentile(l, 50), p99: percentile(l, 99) }));
}

async function runWorkload(key, names, opts, steps) {
  const w = WORKLOADS[key];
  const eligible = names.filter((n) => (!CONTENDERS[n].frameworks || CONTENDERS[n].frameworks.includes(w.framework)) && (!CONTENDERS[n].workloads || CONTENDERS[n].workloads.includes(key)));
  const servers = [];
  try {
    for (const n of eligible) servers.push(await startServer(n, key, steps));
    // Warm-up (JIT, pools, lazily created series): a throughput run of at least MIN_WARMUP_REQUESTS and
    // a latency run per server, unmeasured.
    // Express's hello world gets as many requests as node:http's, though it serves a sixth of the rate:
    // its baseline runs a major GC every ~2,500 requests, so a run of 10,000 held about four, and where
    // they fell could move a run by points (notes.md, item 27).
    const total = w.path === '/work' ? opts.workRequests : opts.requests;
    const latTotal = w.path === '/work' ? Math.max(100, Math.round(opts.latencyRequests / 3)) : opts.latencyRequests;
    const warmup = Math.max(total, MIN_WARMUP_REQUESTS);
    for (const s of servers) {
      await load(s.port, { total: warmup, connections: 8, path: w.path });
      await load(s.port, { total: latTotal, connections: 1, path: w.path });
      s.served += warmup + latTotal;
    }
    process.stderr.write(`${key}: ${servers.length} contenders, ${opts.rounds} rounds of ${total} requests (8 connections) + ${latTotal} (1 connection)\n`);
    for (let r = 0; r < opts.rounds; r++) {
      for (let k = 0; k < servers.length; k++) {
        const s = servers[(k + r) % servers.length];
        const t = await throughput(s, w.path, total);
        s.cpu.push(t.cpuPerReq);
        s.rps.push(t.rps);
      }
      const l = await latencies(servers, w.path, latTotal);
      servers.forEach((s, i) => {
        s.p50.push(l[i].p50);
        s.p99.push(l[i].p99);
      });
      process.stderr.write(`  round ${r + 1}/${opts.rounds}\n`);
    }
    for (const s of servers) {
      const m = await ask(s.child, 'gc');
      s.rss = m.rss;
      s.heap = m.heapUsed;
      if (s.check) {
        const counted = await s.check();
        if (!(counted >= s.served)) throw new Error(`${s.name} on ${key} counted ${counted} requests of the ${s.served} it served`);
        s.counted = counted;
      }
    }
    return { key, title: w.title, total, latTotal, warmup, servers };
  } catch (err) {
    for (const s of servers) if (s.stderr()) process.stderr.write(`--- ${s.name} stderr:\n${s.stderr()}\n`);
    throw err;
  } finally {
    await Promise.all(servers.map((s) => stopChild(s.child)));
  }
}

function summary(results) {
  const data = {};
  for (const res of results) {
    const base = res.servers.find((s) => s.name === 'baseline');
    const contenders = {};
    for (const s of res.servers) {
      contenders[s.name] = {
        rps: median(s.rps),
        rpsRatio: medianRatio(s.rps, base.rps),
        cpuUs: median(s.cpu),
        cpuRatio: medianRatio(s.cpu, base.cpu),
        p50Ms: median(s.p50),
        p99Ms: median(s.p99),
        p99AddedMs: median(s.p99.map((v, i) => v - base.p99[i])),
        rssMB: s.rss / 1048576,
        rssAddedMB: (s.rss - base.rss) / 1048576,
      };
    }
    data[res.key] = { title: res.title, contenders };
  }
  return data;
}

function report(results, opts, steps) {
  const parts = [];
  for (const res of results) {
    const base = res.servers.find((s) => s.name === 'baseline');
    const rows = res.servers.map((s) => {
      const isBase = s === base;
      const p99Added = base ? median(s.p99.map((v, i) => v - base.p99[i])) * 1000 : NaN;
      return [
        s.name,
        fmt.int(median(s.rps)),
        isBase ? '100%' : fmt.pct(medianRatio(s.rps, base.rps)),
        fmt.f1(median(s.cpu)),
        isBase ? '—' : fmt.delta(medianRatio(s.cpu, base.cpu)),
        fmt.f3(median(s.p50)),
        fmt.f3(median(s.p99)),
        isBase ? '—' : `${fmt.signed(p99Added, 0)} µs`,
        fmt.mb(s.rss),
        isBase ? '—' : fmt.signed((s.rss - base.rss) / 1048576),
      ];
    });
    parts.push(
      `#### ${res.title}\n\n` +
        table(
          ['contender', 'req/s', 'req/s vs baseline', 'server CPU µs/req', 'CPU vs baseline', 'p50 ms', 'p99 ms', 'p99 added', 'RSS MB', 'RSS added MB'],
          rows,
        ) +
        `\n\n${res.total.toLocaleString('en-US')} requests per throughput run (8 keep-alive connections), ${res.latTotal.toLocaleString('en-US')} per latency run (one connection, one request at a time), after a warm-up of ${res.warmup.toLocaleString('en-US')} + ${res.latTotal.toLocaleString('en-US')} per server.${appHeapNote()}`,
    );
  }
  const used = [...new Set(results.flatMap((r) => r.servers.map((s) => s.name)))];
  parts.push(
    `Contenders: ${used.map((n) => `**${n}** — ${CONTENDERS[n].title}`).join('; ')}.\n\n` +
      `${opts.rounds} interleaved rounds per workload; medians over rounds; "vs baseline" is the median of the per-round ratios. ` +
      `Server CPU is the server process's own user + system time over the fixed request count of a throughput run. ` +
      `p50/p99 come from the latency runs (one connection per server, one request at a time, the servers taking turns request by request); "p99 added" is the median over rounds of (contender p99 − baseline p99) in the same round. ` +
      `RSS is the server's resident memory after all rounds and a forced GC. The ~1 ms handler runs ${steps.toLocaleString('en-US')} xorshift steps. ` +
      `Every instrumented contender's own /metrics counted every request it served (checked after the rounds).`,
  );
  return parts.join('\n\n');
}

// ---------------------------------------------------------------- --instructions: callgrind

/**
 * One server under callgrind: a warm-up in loads of WARMUP_LOAD requests with a mark after each,
 * then a window of windowRequests() requests up to the next mark (callgrind dumps its counters at
 * each), then `opts.idleMs` with no requests up to a last mark (the periodic work alone), then
 * the contender's own metrics checked.
 */
async function countedRun(name, key, opts, dir, tag) {
  const w = WORKLOADS[key];
  const requests = windowRequests(key, opts);
  const warmup = warmupRequests(key, opts);
  let port;
  const s = await CONTENDERS[name].setup(() => port);
  const out = path.join(dir, `${tag}.cg`);
  const started = spawnChild(APP, {
    execPath: 'valgrind', // the Debian package valgrind
    // --no-memory-reducer: V8 takes a server allocating ~50 times fewer bytes per ms (callgrind's pace,
    // slower still on a loaded machine) for an idle one, and its memory-reducing GCs drop compiled
    // code, recompiled in the window (+5-10% per request, more the slower the run).
    execArgv: [...callgrindNode(out), '--no-memory-reducer', ...s.execArgv],
    env: { ...serverEnv(), ...s.env, BENCH_FRAMEWORK: w.framework, BENCH_WORK_STEPS: String(opts.workSteps) },
  });
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  // A load ends by closing its connections: half a second lets the server handle that before the mark.
  const mark = async () => {
    await sleep(500);
    await ask(started.child, 'mark');
    return performance.now();
  };
  try {
    port = (await started.ready).port;
    // Many short loads, not one long one: V8 keeps recompiling until it has seen connections come
    // and go (and the IPC of a mark) a few times; after one long load it does so in the window.
    const loads = Math.ceil(warmup / WARMUP_LOAD);
    let t0;
    for (let i = 0; i < loads; i++) {
      await load(port, { total: Math.min(WARMUP_LOAD, warmup - i * WARMUP_LOAD), connections: opts.connections, path: w.path });
      t0 = await mark(); // dumps 1 (start-up and the first load) to `loads`
    }
    await load(port, { total: requests, connections: opts.connections, path: w.path });
    const t1 = await mark(); // dump loads + 1: the window
    await sleep(opts.idleMs);
    const t2 = await mark(); // dump loads + 2: idle
    let counted;
    if (s.check) {
      counted = await s.check();
      const served = warmup + requests;
      if (!(counted >= served)) throw new Error(`${name} on ${key} counted ${counted} requests of the ${served} it served`);
    }
    const window = callgrindWindow(`${out}.${loads + 1}`);
    const idle = callgrindWindow(`${out}.${loads + 2}`);
    const lastLoad = loads > 1 ? Number(/^(?:summary|totals):\s+(\d+)/m.exec(fs.readFileSync(`${out}.${loads}`, 'utf8'))[1]) : NaN;
    return {
      total: window.total / requests,
      steady: window.steady / requests,
      // The idle rate (per wall second; steady: V8's memory reducer may run a major GC then) over the window's wall time.
      periodic: ((idle.steady / (t2 - t1)) * (t1 - t0)) / requests,
      // Convergence: the last warm-up load, per request (its connections are spread over fewer requests).
      lastWarmup: lastLoad / Math.min(WARMUP_LOAD, warmup - (loads - 1) * WARMUP_LOAD),
      windowSeconds: (t1 - t0) / 1000,
      counted,
    };
  } catch (err) {
    if (started.stderr()) process.stderr.write(`--- ${tag} stderr:\n${started.stderr()}\n`);
    throw err;
  } finally {
    await stopChild(started.child, 60_000);
    for (const f of fs.readdirSync(dir)) if (f.startsWith(`${tag}.cg`)) fs.rmSync(path.join(dir, f));
  }
}

async function instructions() {
  const opts = {
    runs: opt('runs', 2),
    jobs: opt('jobs', 2),
    warmup: opt('warmup-requests', 30000),
    requests: opt('requests', 20000),
    connections: opt('connections', 4),
    idleMs: opt('idle-ms', 2000),
    workloads: opt('workloads', 'http-hello,express-hello').split(','),
    contenders: opt('contenders', 'baseline,vigil,prom-client,otel').split(','),
  };
  for (const w of opts.workloads) if (!WORKLOADS[w]) throw new Error(`unknown workload ${w}`);
  for (const c of opts.contenders) if (!CONTENDERS[c]) throw new Error(`unknown contender ${c}`);
  if (!opts.contenders.includes('baseline')) opts.contenders.unshift('baseline');
  opts.workSteps = opts.workloads.some(isWork) ? opt('work-steps', 0) || calibrate() : 0;
  const results = {}; // workload -> contender -> runs
  const tasks = [];
  for (let r = 0; r < opts.runs; r++) {
    for (const key of opts.workloads) {
      results[key] ??= {};
      for (const name of opts.contenders) {
        if (CONTENDERS[name].frameworks && !CONTENDERS[name].frameworks.includes(WORKLOADS[key].framework)) continue;
        results[key][name] ??= [];
        tasks.push({ key, name, tag: `${key}-${name}-${r}` });
      }
    }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-http-'));
  const sizes = opts.workloads.map((k) => `${k} ${windowRequests(k, opts)} after ${warmupRequests(k, opts)}`).join(', ');
  process.stderr.write(`http bench, instructions: ${tasks.length} callgrind runs, ${opts.jobs} at a time; requests measured: ${sizes}\n`);
  const t0 = performance.now();
  try {
    await eachAtMost(opts.jobs, tasks, async (t) => {
      results[t.key][t.name].push(await countedRun(t.name, t.key, opts, dir, t.tag));
      process.stderr.write(`  ${t.tag} done (${((performance.now() - t0) / 60000).toFixed(1)} min)\n`);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const data = {};
  const parts = [];
  const int = fmt.int;
  const added = fmt.added;
  for (const key of opts.workloads) {
    const m = (name, f) => median(results[key][name].map(f));
    const bt = m('baseline', (x) => x.total);
    const bs = m('baseline', (x) => x.steady);
    data[key] = {};
    const rows = Object.keys(results[key]).map((name) => {
      const total = m(name, (x) => x.total);
      const steady = m(name, (x) => x.steady);
      const periodic = m(name, (x) => x.periodic);
      data[key][name] = {
        instructions: total,
        addedInstructions: total - bt,
        addedRatio: total / bt - 1,
        steady,
        steadyAdded: steady - bs,
        steadyAddedRatio: steady / bs - 1,
        periodicAtMost: periodic,
        runs: results[key][name],
      };
      const isBase = name === 'baseline';
      const totals = results[key][name].map((x) => x.total);
      const apart = (Math.max(...totals) - Math.min(...totals)) / total;
      return [name, int(total), isBase ? '—' : added(total, bt), int(steady), isBase ? '—' : added(steady, bs), int(periodic), `${(apart * 100).toFixed(1)}%`];
    });
    parts.push(
      `#### ${WORKLOADS[key].title}\n\n` +
        table(['contender', 'instructions / request', 'vs baseline', 'steady', 'steady vs baseline', 'periodic work in it, at most', 'runs apart'], rows) +
        `\n\n${windowRequests(key, opts).toLocaleString('en-US')} requests measured (${opts.connections} keep-alive connections) after ${warmupRequests(key, opts).toLocaleString('en-US')} of warm-up` +
        (isWork(key) ? ` (the handler: ${opts.workSteps.toLocaleString('en-US')} xorshift steps, ~1 ms at full speed).` : '.') +
        appHeapNote(),
    );
  }
  const used = [...new Set(Object.values(results).flatMap((r) => Object.keys(r)))];
  const raw = [];
  for (const key of opts.workloads) {
    for (const [name, runs] of Object.entries(results[key])) {
      raw.push(`- ${key} ${name}: ${runs.map((x) => `${int(x.total)} (steady ${int(x.steady)}, periodic ≤ ${int(x.periodic)}, last warm-up load ${int(x.lastWarmup)}, window ${x.windowSeconds.toFixed(1)} s)`).join('; ')}`);
    }
  }
  parts.push(
    `Contenders: ${used.map((n) => `**${n}** — ${CONTENDERS[n].title}`).join('; ')}.\n\n` +
      `CPU instructions the server process executes per request, counted by \`valgrind --tool=callgrind\` (load-independent: ` +
      `it leaves out waiting, not work) with V8 made deterministic (\`--single-threaded --hash-seed=1 --random-seed=1 --min-semi-space-size=8 --max-semi-space-size=8\`) ` +
      `and its memory reducer off (\`--no-memory-reducer\`: at callgrind's pace a busy server looks idle to it, and its GCs drop compiled code). ` +
      `Each server first serves the warm-up (JIT, pools, series) in loads of ${WARMUP_LOAD.toLocaleString('en-US')} requests on new connections, ` +
      `each followed by a mark, then the measured requests over new keep-alive connections up to the next mark; ` +
      `instructions between the marks / requests (opening and closing the connections included). Medians over ${opts.runs} runs per contender; ` +
      `"runs apart" is (highest − lowest run) / median of the total. ` +
      `"steady" leaves out major collections and libc's allocator, which land in one run's window and not another's; it keeps the write barrier's slow path ` +
      `while a major GC marks and any recompiling after one, so a contender that allocates much can still differ between runs there. ` +
      `"periodic work" is what the server runs with no requests (the 10 ms event-loop-delay timer of vigil's, prom-client's and OTel's runtime metrics), ` +
      `measured over ${opts.idleMs} ms idle after the window and scaled to the window's wall time: an upper bound of its share in the per-request figure. ` +
      `Timers keep their wall-clock rate while callgrind runs the server ~50-100 times slower, so this share is ~50-100 times what it is at full speed, where it is negligible. ` +
      `Every instrumented contender's own metrics counted every request it served (checked after the window).\n\n` +
      `Per run (instructions / request; "last warm-up load" shows the server had settled: a little above the window, its connections being spread over ${WARMUP_LOAD.toLocaleString('en-US')} requests):\n${raw.join('\n')}`,
  );
  const command = `node bench/http.js${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`;
  // The ~1 ms handlers take ~10 times longer under callgrind than the rest: they are a run of their own.
  const complete = ['http-hello', 'express-hello'].every((w) => opts.workloads.includes(w)) && ['vigil', 'prom-client', 'otel'].every((c) => opts.contenders.includes(c));
  const work = opts.workloads.includes('http-work') && opts.workloads.every(isWork) && opts.contenders.includes('vigil');
  const name = complete ? 'http-instructions' : work ? 'http-instructions-work' : 'http-instructions-partial';
  writeResults(name, 'HTTP overhead in CPU instructions (callgrind)', command, parts.join('\n\n'), {
    workloads: data,
    workloadTitles: Object.fromEntries(opts.workloads.map((k) => [k, WORKLOADS[k].title])),
    titles: Object.fromEntries(used.map((k) => [k, CONTENDERS[k].title])),
    options: opts,
    minutes: (performance.now() - t0) / 60000,
  });
}

async function drive() {
  const port = opt('drive', 0);
  const total = opt('requests', 200_000);
  const { ns } = await load(port, { total, connections: opt('connections', 8), path: opt('path', '/') });
  console.log(`${total} requests in ${(ns / 1e6).toFixed(0)} ms (${Math.round(total / (ns / 1e9))} req/s)`);
}

async function main() {
  if (process.argv.includes('--drive')) return drive();
  if (process.argv.includes('--instructions')) return instructions();
  const opts = {
    rounds: opt('rounds', 9),
    requests: opt('requests', 20000),
    workRequests: opt('work-requests', 1000),
    latencyRequests: opt('latency-requests', 3000),
    workloads: opt('workloads', Object.keys(WORKLOADS).join(',')).split(','),
    contenders: opt('contenders', Object.keys(CONTENDERS).filter((k) => !CONTENDERS[k].optional).join(',')).split(','),
  };
  for (const w of opts.workloads) if (!WORKLOADS[w]) throw new Error(`unknown workload ${w}`);
  for (const c of opts.contenders) if (!CONTENDERS[c]) throw new Error(`unknown contender ${c}`);
  if (!opts.contenders.includes('baseline')) opts.contenders.unshift('baseline');
  const steps = opt('work-steps', 0) || calibrate();
  const results = [];
  for (const w of opts.workloads) results.push(await runWorkload(w, opts.contenders, opts, steps));
  const command = `node bench/http.js${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`;
  const defaults = Object.keys(CONTENDERS).filter((k) => !CONTENDERS[k].optional);
  const complete = opts.workloads.length === Object.keys(WORKLOADS).length && defaults.every((c) => opts.contenders.includes(c));
  writeResults(complete ? 'http' : 'http-partial', 'HTTP overhead', command, report(results, opts, steps), {
    workloads: summary(results),
    titles: Object.fromEntries(Object.entries(CONTENDERS).map(([k, c]) => [k, c.title])),
  });
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});

