#!/usr/bin/env node
// Memory: the RSS vigil adds to a service with HTTP, pg, Redis and runtime metrics on,
// after warm-up and over a sustained load with bounded cardinality.
//
// The same service (bench/lib/full-app.js: each request one PostgreSQL query and one
// Redis GET/SET) runs as
//   baseline     node bench/lib/full-app.js
//   vigil        node --require @vigil/node/register bench/lib/full-app.js (Prometheus, runtime metrics on)
//   vigil-start  the app calling require('@vigil/node').start() first (no ESM loader hook)
// at the same time, each under the same continuous load (4 keep-alive connections,
// /api/users/<1..500>), for `--seconds`. RSS is sampled every `--sample-ms`; the table shows
// RSS after the warm-up, at the end, the slope after the warm-up, and what vigil adds.
//
//   node bench/memory.js [--seconds 90] [--warmup-seconds 20] [--sample-ms 1000]
//   the 10-minute soak:  node bench/memory.js --seconds 600
// Needs PostgreSQL and Redis (as bench/pg.js and bench/redis.js do).
'use strict';
const path = require('node:path');
const { opt, median, slope, fmt, table, writeResults, freePort, spawnChild, ask, stopChild, load, get, sumSamples, cleanEnv } = require('./lib/common');

const APP = path.join(__dirname, 'lib', 'full-app.js');

async function main() {
  const opts = { seconds: opt('seconds', 90), warmup: opt('warmup-seconds', 20), sampleMs: opt('sample-ms', 1000) };
  const paths = Array.from({ length: 500 }, (_, i) => `/api/users/${i + 1}`);
  const defs = [
    { name: 'baseline', execArgv: [], env: {} },
    { name: 'vigil', execArgv: ['--require', '@vigil/node/register'], metrics: true, env: { VIGIL_RUNTIME_METRICS: 'true' } },
    { name: 'vigil-start', execArgv: ['--require', './bench/lib/vigil-start-preload.js'], metrics: true, env: { VIGIL_RUNTIME_METRICS: 'true' } },
  ];
  // the RSS windows "after warm-up" and "at end" are this long
  const windowS = Math.min(20, Math.max(3, (opts.seconds - opts.warmup) / 4));
  const procs = [];
  let running = true;
  try {
    for (const d of defs) {
      const env = { ...cleanEnv(), ...d.env };
      if (d.metrics) env.OTEL_EXPORTER_PROMETHEUS_PORT = String(await freePort());
      const started = spawnChild(APP, { execArgv: ['--expose-gc', ...d.execArgv], env });
      const ready = await started.ready;
      procs.push({ ...d, port: ready.port, metricsPort: env.OTEL_EXPORTER_PROMETHEUS_PORT, child: started.child, stderr: started.stderr, samples: [], served: 0 });
    }
    const t0 = Date.now();
    const loops = procs.map(async (p) => {
      while (running) {
        await load(p.port, { total: 2000, connections: 4, paths });
        p.served += 2000;
      }
    });
    const sampler = (async () => {
      while (Date.now() - t0 < opts.seconds * 1000) {
        await new Promise((r) => setTimeout(r, opts.sampleMs));
        const t = (Date.now() - t0) / 1000;
        for (const p of procs) p.samples.push({ t, ...(await ask(p.child, 'stats')) });
        // the heap that survives a full collection, once after the warm-up and once at
        // the end: a leak shows there whatever the allocator does with RSS
        if (!procs[0].gcWarm && t >= opts.warmup + windowS) for (const p of procs) p.gcWarm = await ask(p.child, 'gc');
        if (Math.round(t) % 30 === 0) process.stderr.write(`  ${Math.round(t)} s\n`);
      }
    })();
    await sampler;
    running = false;
    await Promise.all(loops);
    for (const p of procs) {
      p.gcStats = await ask(p.child, 'gc');
      if (p.metrics) {
        // honesty check: vigil saw the HTTP requests, the queries and the Redis commands
        const text = (await get(Number(p.metricsPort), '/metrics')).body.toString();
        const httpCount = sumSamples(text, 'http_requests_total');
        const dbCount = sumSamples(text, 'db_query_duration_seconds_count');
        const cacheCount = sumSamples(text, 'cache_operations_total');
        if (!(httpCount >= p.served && dbCount >= p.served && cacheCount >= p.served)) {
          throw new Error(`${p.name} counted http ${httpCount}, db ${dbCount}, cache ${cacheCount} for ${p.served} requests`);
        }
        p.seriesCount = text.split('\n').filter((l) => l && l[0] !== '#').length;
      }
    }
  } catch (err) {
    running = false;
    for (const p of procs) if (p.stderr()) process.stderr.write(`--- ${p.name}:\n${p.stderr()}\n`);
    throw err;
  } finally {
    await Promise.all(procs.map((p) => stopChild(p.child)));
  }
  const stat = (p) => {
    const after = p.samples.filter((s) => s.t >= opts.warmup);
    const first = after.filter((s) => s.t < opts.warmup + windowS).map((s) => s.rss);
    const last = after.filter((s) => s.t > opts.seconds - windowS).map((s) => s.rss);
    return {
      warm: median(first),
      end: median(last),
      max: Math.max(...after.map((s) => s.rss)),
      slope: slope(after.map((s) => s.t / 60), after.map((s) => s.rss / 1048576)),
    };
  };
  const base = stat(procs[0]);
  const data = { seconds: opts.seconds, procs: {} };
  for (const p of procs) {
    const s = stat(p);
    data.procs[p.name] = {
      warmMB: s.warm / 1048576,
      warmAddedMB: (s.warm - base.warm) / 1048576,
      endMB: s.end / 1048576,
      endAddedMB: (s.end - base.end) / 1048576,
      slopeMBPerMin: s.slope,
      heapWarmMB: p.gcWarm ? p.gcWarm.heapUsed / 1048576 : NaN,
      heapEndMB: p.gcStats.heapUsed / 1048576,
    };
  }
  const rows = procs.map((p) => {
    const s = stat(p);
    const isBase = p === procs[0];
    return [
      p.name,
      fmt.int(p.served),
      fmt.mb(s.warm),
      isBase ? '—' : fmt.signed((s.warm - base.warm) / 1048576),
      fmt.mb(s.end),
      isBase ? '—' : fmt.signed((s.end - base.end) / 1048576),
      fmt.mb(s.max),
      `${fmt.signed(s.slope, 2)}`,
      `${p.gcWarm ? fmt.mb(p.gcWarm.heapUsed) : '—'} → ${fmt.mb(p.gcStats.heapUsed)}`,
      p.seriesCount ? fmt.int(p.seriesCount) : '—',
    ];
  });
  const body =
    table(['process', 'requests served', 'RSS after warm-up MB', 'added MB', 'RSS at end MB', 'added MB', 'RSS max MB', 'slope MB/min', 'heap after a full GC MB (warm-up → end)', 'series on /metrics'], rows) +
    `\n\nAll three processes ran at once for ${opts.seconds} s under continuous load (4 keep-alive connections each, /api/users/1..500; each request one PostgreSQL query and one Redis GET + SET). ` +
    `RSS sampled every ${opts.sampleMs} ms; "after warm-up" is the median of the samples in the ${fmt.f1(windowS)} s after ${opts.warmup} s, "at end" the median of the last ${fmt.f1(windowS)} s; ` +
    `the slope is a least-squares fit over every sample after the warm-up. The heap after a full GC (forced, \`--expose-gc\`) is read once at ${fmt.f1(opts.warmup + windowS)} s and once at the end. vigil's /metrics was checked to count every HTTP request, query and Redis command.`;
  const name = opts.seconds >= 600 ? 'memory-soak' : 'memory';
  writeResults(name, opts.seconds >= 600 ? `Memory over ${Math.round(opts.seconds / 60)} minutes` : 'Memory', `node bench/memory.js${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}`, body, data);
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
