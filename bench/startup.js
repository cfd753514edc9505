#!/usr/bin/env node
// Startup: what a preload adds to the start of a process.
//
// Each contender is `node <preload> -e <script>`, spawned `--runs` times, the contenders
// interleaved run by run (A B C D, B C D A, ...):
//   - wall time from spawn to exit of `-e 0` (the process ends by itself: vigil's
//     metrics server must not keep it alive), as the issue asks;
//   - time to main: performance.now() when the main script starts (time since the
//     process started, in the process itself — no spawn noise), then process.exit().
// Medians, and the difference to plain `node` of the same round (median of differences).
//
//   node bench/startup.js [--runs 25]
'use strict';
const { spawn } = require('node:child_process');
const http = require('node:http');
const { opt, median, fmt, table, writeResults, ROOT, cleanEnv } = require('./lib/common');

const CONTENDERS = {
  node: { title: '`node` (no preload)', args: [], env: {} },
  vigil: {
    title: '`node --require @vigil/node/register` (Prometheus, runtime metrics)',
    args: ['--require', '@vigil/node/register'],
    env: { OTEL_EXPORTER_PROMETHEUS_PORT: '0' },
  },
  'vigil-import': {
    title: '`node --import @vigil/node/register` (ESM apps)',
    args: ['--import', '@vigil/node/register'],
    env: { OTEL_EXPORTER_PROMETHEUS_PORT: '0' },
  },
  'vigil-import-loader-thread': {
    title: '`node --import @vigil/node/register` with VIGIL_ESM_HOOKS=loader-thread (the ESM hooks in a thread of their own)',
    args: ['--import', '@vigil/node/register'],
    env: { OTEL_EXPORTER_PROMETHEUS_PORT: '0', VIGIL_ESM_HOOKS: 'loader-thread' },
  },
  'vigil-start': {
    title: "vigil started from code (`require('@vigil/node').start()` first; no ESM loader hook)",
    args: ['--require', './bench/lib/vigil-start-preload.js'],
    env: { OTEL_EXPORTER_PROMETHEUS_PORT: '0' },
  },
  'vigil-otlp': {
    title: '`node --require @vigil/node/register` with OTEL_METRICS_EXPORTER=otlp (protobuf exporter loaded)',
    args: ['--require', '@vigil/node/register'],
    // a collector that answers (bench/startup.js starts one): with none, shutdown waits on retries
    env: { OTEL_METRICS_EXPORTER: 'otlp', OTEL_METRIC_EXPORT_INTERVAL: '600000' },
    collector: true,
  },
  'prom-client': {
    title: "`node --require prom-client` + collectDefaultMetrics() (what an app's first lines do)",
    args: ['--require', './bench/lib/prom-client-preload.js'],
    env: {},
  },
  otel: {
    title: '`node --require @opentelemetry/auto-instrumentations-node/register` (traces off, Prometheus)',
    args: ['--require', '@opentelemetry/auto-instrumentations-node/register'],
    env: {
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'prometheus',
      OTEL_EXPORTER_PROMETHEUS_PORT: '0',
      OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process,serviceinstance',
    },
    // its Prometheus server keeps the process alive: no natural exit
    noNaturalExit: true,
  },
};

let collectorUrl;
function collector() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/x-protobuf', 'Content-Length': 0 }).end());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    collectorUrl = `http://127.0.0.1:${server.address().port}/v1/metrics`;
    resolve(server);
  }));
}

function run(c, script, timeoutMs = 30_000) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const env = { ...cleanEnv(), ...c.env, ...(c.collector ? { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: collectorUrl } : {}) };
    const p = spawn(process.execPath, [...c.args, '-e', script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) return reject(new Error(`${c.title} exited with ${code ?? signal}: ${err}`));
      resolve({ ms, out: out.trim() });
    });
  });
}

async function main() {
  const runs = opt('runs', 25);
  const names = opt('contenders', Object.keys(CONTENDERS).join(',')).split(',');
  const cs = names.map((n) => ({ name: n, ...CONTENDERS[n], wall: [], main: [] }));
  const otlp = await collector();
  // one unmeasured run each (disk cache)
  for (const c of cs) await run(c, 'process.exit(0)');
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < cs.length; i++) {
      const c = cs[(i + r) % cs.length];
      if (!c.noNaturalExit) c.wall.push((await run(c, '0')).ms);
      const m = await run(c, 'process.stdout.write(String(performance.now())); process.exit(0)');
      c.main.push(Number(m.out));
    }
    process.stderr.write(`  run ${r + 1}/${runs}\n`);
  }
  otlp.close();
  const base = cs.find((c) => c.name === 'node');
  const rows = cs.map((c) => [
    c.name,
    c.title,
    fmt.f1(median(c.main)),
    c === base ? '—' : `${fmt.signed(median(c.main.map((v, i) => v - base.main[i])))}`,
    c.wall.length ? fmt.f1(median(c.wall)) : 'n/a',
    c === base || !c.wall.length ? '—' : `${fmt.signed(median(c.wall.map((v, i) => v - base.wall[i])))}`,
  ]);
  const body =
    table(['contender', 'command', 'time to main ms', 'added ms', 'spawn to exit of `-e 0` ms', 'added ms'], rows, ['l', 'l', 'r', 'r', 'r', 'r']) +
    `\n\n${runs} interleaved runs per contender; medians; "added" is the median of per-run differences to plain \`node\` of the same round. ` +
    `"Time to main" is performance.now() at the first line of the main script (measured inside the process: preloads included, spawn excluded). ` +
    `The OTel auto-instrumentations' Prometheus server keeps a process alive, so it has no natural-exit time.`;
  const data = {
    contenders: Object.fromEntries(
      cs.map((c) => [
        c.name,
        {
          mainMs: median(c.main),
          mainAddedMs: c === base ? 0 : median(c.main.map((v, i) => v - base.main[i])),
          wallMs: c.wall.length ? median(c.wall) : null,
          wallAddedMs: c.wall.length && c !== base ? median(c.wall.map((v, i) => v - base.wall[i])) : null,
        },
      ]),
    ),
  };
  writeResults(process.argv.includes('--contenders') ? 'startup-partial' : 'startup', 'Startup', `node bench/startup.js${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}`, body, data);
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
