#!/usr/bin/env node
// Soak: one preloaded service at a steady request rate for minutes (issue 9:
// "RSS and event-loop delay flat, no series growth").
//
// The service is bench/lib/full-app.js under `node --require @vigil/node/register`
// with BENCH_BUSINESS=1: each request runs one PostgreSQL query, one Redis GET
// (+ SET on a miss) and records business metrics (active user, credits, every
// 10th an AI task, every 50th an application error); bounded cardinality
// (/api/users/1..500). The load is open-loop in one-second slices: `--rps`
// requests each second over 4 keep-alive connections, then idle until the next
// second, so the rate is the same in the first minute and the last one and the
// machine's other users keep their share.
//
// Every `--sample-seconds` it reads the app's RSS and heap (IPC) and scrapes
// /metrics: the number of series and vigil's own event-loop delay gauges
// (nodejs_eventloop_lag_p99_seconds / _max_seconds, which cover the time since
// the previous scrape). The report compares the first minute with the last
// one and fits a least-squares slope over the samples after the first minute.
//
//   node bench/soak.js [--minutes 10] [--rps 500] [--sample-seconds 10]
// Needs PostgreSQL and Redis (scripts/setup.sh starts them).
'use strict';
const os = require('node:os');
const path = require('node:path');
const { opt, median, slope, fmt, table, writeResults, freePort, spawnChild, ask, stopChild, load, get, sumSamples, cleanEnv } = require('./lib/common');

const APP = path.join(__dirname, 'lib', 'full-app.js');
const PATHS = Array.from({ length: 500 }, (_, i) => `/api/users/${i + 1}`);
const CONNECTIONS = 4;

/** The value of an unlabelled sample in a Prometheus text. */
function gauge(text, name) {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

function seriesCount(text) {
  let n = 0;
  for (const line of text.split('\n')) if (line && line[0] !== '#') n++;
  return n;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const opts = { minutes: opt('minutes', 10), rps: opt('rps', 500), sampleS: opt('sample-seconds', 10) };
  const seconds = opts.minutes * 60;
  const metricsPort = await freePort();
  const env = { ...cleanEnv(), BENCH_BUSINESS: '1', VIGIL_RUNTIME_METRICS: 'true', OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort) };
  const started = spawnChild(APP, { execArgv: ['--require', '@vigil/node/register'], env });
  const samples = [];
  let sent = 0;
  let behind = 0; // slices whose requests took longer than the slice
  let running = true;
  try {
    const { port } = await started.ready;
    const t0 = Date.now();
    // a first scrape resets the event-loop gauges, so the first sample covers its own window only
    await get(metricsPort, '/metrics');
    const loadLoop = (async () => {
      for (let slice = 0; running; slice++) {
        const sliceStart = t0 + slice * 1000;
        await load(port, { total: opts.rps, connections: CONNECTIONS, paths: PATHS });
        sent += opts.rps;
        const wait = sliceStart + 1000 - Date.now();
        if (wait > 0) await sleep(wait);
        else behind++;
      }
    })();
    let lastSent = 0;
    let lastT = 0;
    for (let k = 1; k * opts.sampleS <= seconds; k++) {
      await sleep(Math.max(0, t0 + k * opts.sampleS * 1000 - Date.now()));
      const t = (Date.now() - t0) / 1000;
      const stats = await ask(started.child, 'stats');
      const text = (await get(metricsPort, '/metrics')).body.toString();
      samples.push({
        t,
        rss: stats.rss,
        heapUsed: stats.heapUsed,
        lagP99: gauge(text, 'nodejs_eventloop_lag_p99_seconds') * 1000,
        lagMax: gauge(text, 'nodejs_eventloop_lag_max_seconds') * 1000,
        series: seriesCount(text),
        rps: (sent - lastSent) / (t - lastT),
        load1: os.loadavg()[0],
      });
      lastSent = sent;
      lastT = t;
      if (k % 6 === 0) process.stderr.write(`  ${Math.round(t)} s: RSS ${fmt.mb(stats.rss)} MB, ${samples.at(-1).series} series\n`);
    }
    running = false;
    await loadLoop;
    // honesty check: vigil saw every request, query and Redis GET
    const text = (await get(metricsPort, '/metrics')).body.toString();
    const counted = { http: sumSamples(text, 'http_requests_total'), db: sumSamples(text, 'db_query_duration_seconds_count'), cache: sumSamples(text, 'cache_operations_total') };
    if (!(counted.http >= sent && counted.db >= sent && counted.cache >= sent)) {
      throw new Error(`vigil counted http ${counted.http}, db ${counted.db}, cache ${counted.cache} for ${sent} requests`);
    }
  } catch (err) {
    running = false;
    if (started.stderr()) process.stderr.write(`--- app stderr:\n${started.stderr()}\n`);
    throw err;
  } finally {
    await stopChild(started.child);
  }

  const window = (from, to) => samples.filter((s) => s.t > from && s.t <= to);
  const first = window(0, 60);
  const last = window(seconds - 60, seconds);
  const steady = samples.filter((s) => s.t > 60);
  const rows = [
    ['RSS MB', (s) => s.rss / 1048576, fmt.f1],
    ['heap used MB', (s) => s.heapUsed / 1048576, fmt.f1],
    ['event-loop delay p99 ms', (s) => s.lagP99, fmt.ms],
    ['event-loop delay max ms', (s) => s.lagMax, fmt.ms],
    ['series on /metrics', (s) => s.series, fmt.int],
    ['requests/s', (s) => s.rps, fmt.int],
    ['load average (1 min)', (s) => s.load1, fmt.f2],
  ].map(([what, f, show]) => {
    const a = median(first.map(f));
    const b = median(last.map(f));
    const perMin = slope(steady.map((s) => s.t / 60), steady.map(f));
    return { what, first: a, last: b, perMin, maxAfter: Math.max(...steady.map(f)), max: Math.max(...samples.map(f)), show };
  });
  const body =
    table(
      ['', 'first minute (median)', 'last minute (median)', 'change', 'slope per minute (after minute 1)', 'max after minute 1', 'max over the run'],
      rows.map((r) => [r.what, r.show(r.first), r.show(r.last), fmt.delta(r.last / r.first), fmt.signed(r.perMin, 3), r.show(r.maxAfter), r.show(r.max)]),
    ) +
    `\n\n${fmt.int(sent)} requests at ${opts.rps}/s for ${opts.minutes} min (each second's requests over ${CONNECTIONS} new keep-alive connections; each request one PostgreSQL query, one Redis GET + SET on a miss, business metrics), ` +
    `${behind} one-second slices ran late. One sample every ${opts.sampleS} s (${samples.length} samples): RSS and heap from the app (process.memoryUsage(), no forced GC), ` +
    `event-loop delay from vigil's own gauges on /metrics (p99 and max since the previous scrape), series = sample lines on /metrics. ` +
    `A slope is a trend only when the per-minute table rises steadily: RSS also moves with the kernel reclaiming pages of a busy machine. ` +
    `vigil's /metrics was checked to count every request, query and Redis command. The machine is shared: the load average column shows what else ran.\n\n` +
    `Per minute (medians of the samples in each minute):\n\n` +
    table(
      ['minute', 'RSS MB', 'heap MB', 'loop p99 ms', 'loop max ms', 'series', 'req/s', 'load avg'],
      Array.from({ length: opts.minutes }, (_, m) => {
        const w = window(m * 60, (m + 1) * 60);
        const med = (f) => median(w.map(f));
        return [String(m + 1), fmt.f1(med((s) => s.rss / 1048576)), fmt.f1(med((s) => s.heapUsed / 1048576)), fmt.ms(med((s) => s.lagP99)), fmt.ms(Math.max(...w.map((s) => s.lagMax))), fmt.int(med((s) => s.series)), fmt.int(med((s) => s.rps)), fmt.f2(med((s) => s.load1))];
      }),
    );
  const data = {
    minutes: opts.minutes,
    rps: opts.rps,
    requests: sent,
    lateSlices: behind,
    summary: Object.fromEntries(rows.map((r) => [r.what, { firstMinute: r.first, lastMinute: r.last, slopePerMinute: r.perMin, maxAfterMinute1: r.maxAfter, max: r.max }])),
    samples,
  };
  writeResults('soak', `Soak: ${opts.minutes} minutes at ${opts.rps} requests/s`, `node bench/soak.js${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}`, body, data);
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
