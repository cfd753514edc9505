#!/usr/bin/env node
// Scale: what many series cost.
//
// 1. /metrics at 1 000, 10 000 and 100 000 Prometheus series (sample lines) of the HTTP
//    metrics with realistic labels (bench/lib/series.js), held by vigil (a process under
//    `--require @vigil/node/register`, scraped on its own metrics server, plain and
//    gzip as Prometheus asks) and, for comparison, by prom-client (register.metrics()
//    behind a node:http handler). One server process per (implementation, size); the
//    scrapes are interleaved round by round. Per scrape: time to the last byte at the
//    client, the server's CPU time, the longest event-loop stall in the server while it
//    served (monitorEventLoopDelay at 1 ms resolution), and the heap it allocated at
//    peak; per process: the heap the series occupy (after GC) and RSS. For vigil the
//    collection (lean registry -> OTel MetricData) and the OTel PrometheusSerializer are
//    also timed separately in-process.
// 2. The cost of one recorded request (a counter increment with four labels and a
//    histogram record with two, as the HTTP instrumentation does per request) as the
//    number of distinct label sets grows (10, 1 000, 10 000), visited in shuffled order:
//    vigil's lean registry, OTel SDK sync instruments, prom-client — each measurement in
//    its own process, interleaved over rounds.
// 3. The same end to end: server CPU per request of a node:http hello-world app under
//    --require @vigil/node/register whose requests spread over 10, 1 000 and 10 000
//    distinct paths, against the same app without vigil.
//
//   node bench/scale.js [--rounds 7] [--sizes 1000,10000,100000] [--parts scrape,record,e2e]
'use strict';
const { execFile } = require('node:child_process');
const path = require('node:path');
const zlib = require('node:zlib');
const { opt, median, medianRatio, fmt, table, writeResults, freePort, spawnChild, ask, stopChild, load, get, lastJsonLine, cleanEnv } = require('./lib/common');
const { rng } = require('./lib/series');

const SCALE_APP = path.join(__dirname, 'lib', 'scale-app.js');
const HTTP_APP = path.join(__dirname, 'lib', 'http-app.js');
const MICRO = path.join(__dirname, 'lib', 'record-micro.js');

async function until(fn, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

// ---------------------------------------------------------------- 1. /metrics at scale

async function startScaleServer(impl, size) {
  const port = impl === 'vigil' ? await freePort() : 0;
  const env = { ...cleanEnv(), BENCH_IMPL: impl, SERIES: String(size) };
  const execArgv = ['--expose-gc'];
  if (impl === 'vigil') {
    execArgv.push('--require', '@vigil/node/register');
    Object.assign(env, { OTEL_EXPORTER_PROMETHEUS_PORT: String(port), VIGIL_METRIC_CARDINALITY_LIMIT: '1000000', VIGIL_RUNTIME_METRICS: 'true' });
  }
  const started = spawnChild(SCALE_APP, { execArgv, env });
  const ready = await started.ready;
  const s = { impl, size, child: started.child, port: ready.port, stderr: started.stderr, scrapes: { identity: [], gzip: [] } };
  // the metrics server of the preload may still be binding
  const first = await until(() => get(s.port, '/metrics'));
  if (first.status !== 200) throw new Error(`${impl} ${size}: /metrics answered ${first.status}`);
  s.samples = first.body.toString().split('\n').filter((l) => l && l[0] !== '#').length;
  s.bytes = first.body.length;
  s.gzipBytes = zlib.gzipSync(first.body).length;
  const st = await ask(s.child, 'stats');
  s.seriesHeap = st.seriesHeap;
  s.labelSets = st.labelSets;
  return s;
}

async function scrapeOnce(s, encoding) {
  await ask(s.child, 'gc');
  await ask(s.child, 'watch');
  const r = await get(s.port, '/metrics', encoding === 'gzip' ? { 'Accept-Encoding': 'gzip' } : {});
  const w = await ask(s.child, 'watch-end');
  if (r.status !== 200) throw new Error(`${s.impl} ${s.size}: /metrics answered ${r.status}`);
  if (encoding === 'gzip' && r.headers['content-encoding'] !== 'gzip') throw new Error(`${s.impl} did not gzip`);
  return { ms: r.ms, cpuMs: w.cpu / 1000, stallMs: w.maxStallMs, peakHeapAdded: w.peakHeapAdded, rss: w.rss, wire: r.body.length };
}

async function partScrape(opts, data) {
  const servers = [];
  try {
    for (const size of opts.sizes) {
      for (const impl of ['vigil', 'prom-client']) {
        process.stderr.write(`scrape: starting ${impl} with ${size} series\n`);
        servers.push(await startScaleServer(impl, size));
      }
    }
    // one unmeasured scrape each (JIT)
    for (const s of servers) for (const e of ['identity', 'gzip']) if (s.impl === 'vigil' || e === 'identity') await scrapeOnce(s, e);
    for (let r = 0; r < opts.rounds; r++) {
      for (let k = 0; k < servers.length; k++) {
        const s = servers[(k + r) % servers.length];
        s.scrapes.identity.push(await scrapeOnce(s, 'identity'));
        if (s.impl === 'vigil') s.scrapes.gzip.push(await scrapeOnce(s, 'gzip'));
      }
      process.stderr.write(`  scrape round ${r + 1}/${opts.rounds}\n`);
    }
    for (const s of servers) {
      const b = await ask(s.child, 'breakdown', { reps: 5 });
      s.breakdown = { collect: median(b.collectMs), serialize: median(b.serializeMs), fastSerialize: median(b.fastSerializeMs), total: median(b.totalMs) };
      s.rss = (await ask(s.child, 'gc')).rss;
    }
  } catch (err) {
    for (const s of servers) if (s.stderr()) process.stderr.write(`--- ${s.impl} ${s.size}:\n${s.stderr()}\n`);
    throw err;
  } finally {
    await Promise.all(servers.map((s) => stopChild(s.child)));
  }
  data.scrape = servers.map((s) => {
    const m = (enc, k) => median(s.scrapes[enc].map((x) => x[k]));
    return {
      size: s.size,
      impl: s.impl,
      samples: s.samples,
      ms: m('identity', 'ms'),
      gzipMs: s.impl === 'vigil' ? m('gzip', 'ms') : null,
      cpuMs: m('identity', 'cpuMs'),
      stallMedianMs: median([...s.scrapes.identity, ...s.scrapes.gzip].map((x) => x.stallMs)),
      stallMaxMs: Math.max(...s.scrapes.identity.map((x) => x.stallMs), ...s.scrapes.gzip.map((x) => x.stallMs)),
      seriesHeapMB: s.seriesHeap / 1048576,
      breakdown: s.breakdown,
    };
  });
  const rows = servers.map((s) => {
    const m = (enc, k) => median(s.scrapes[enc].map((x) => x[k]));
    const stallMax = Math.max(...s.scrapes.identity.map((x) => x.stallMs), ...s.scrapes.gzip.map((x) => x.stallMs));
    return [
      fmt.int(s.size),
      s.impl,
      fmt.int(s.samples),
      fmt.ms(m('identity', 'ms')),
      s.impl === 'vigil' ? fmt.ms(m('gzip', 'ms')) : '—',
      fmt.ms(m('identity', 'cpuMs')),
      `${fmt.ms(m('identity', 'stallMs'))} / ${fmt.ms(stallMax)}`,
      `${fmt.mb(s.bytes)} / ${fmt.mb(s.gzipBytes)}`,
      fmt.mb(s.seriesHeap),
      fmt.mb(m('identity', 'peakHeapAdded')),
      fmt.mb(s.rss),
      s.impl === 'vigil' ? `${fmt.ms(s.breakdown.collect)} + ${fmt.ms(s.breakdown.serialize)}` : fmt.ms(s.breakdown.total),
      s.impl === 'vigil' ? `${fmt.ms(s.breakdown.collect)} + ${fmt.ms(s.breakdown.fastSerialize)}` : '—',
    ];
  });
  return (
    table(
      [
        'series',
        'held by',
        'samples served',
        'scrape ms',
        'scrape ms (gzip)',
        'server CPU ms',
        'longest stall ms (median / max)',
        'body MB (plain / gzip)',
        'heap of the series MB',
        'heap allocated per scrape MB (peak)',
        'RSS MB',
        'in-process: collect + OTel serialiser ms',
        'in-process: collect + PrometheusTextSerializer ms',
      ],
      rows,
    ) +
    `\n\n"series" is Prometheus series (sample lines) of http_requests_total and http_request_duration_seconds (one route = 1 histogram label set = 12 series, plus 4 counter series); ` +
    `"samples served" also counts each process's runtime metrics. Medians of ${opts.rounds} interleaved scrapes per process (after one unmeasured scrape). ` +
    `Scrape ms is the client's time to the last byte; server CPU ms the server process's CPU time during the scrape; the stall is the longest event-loop delay in the server while it served ` +
    `(monitorEventLoopDelay, 1 ms resolution; median over scrapes / worst scrape). "Heap of the series" is the heap after GC with the series minus before them. ` +
    `The last two columns time vigil's two steps in-process (medians of 5): the lean registry's collect() (to OTel MetricData), then the text — with OTel's PrometheusSerializer (what vigil's /metrics server used before) or with vigil's PrometheusTextSerializer (packages/catalog/src/lean.ts, what the server uses now; same bytes, checked on every run); for prom-client, register.metrics(). Both include Buffer.byteLength (flattening the string), as the server does before writing.`
  );
}

// ---------------------------------------------------------------- 2. cost of one recorded request

function runMicro(impl, k, ops) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [MICRO, impl, String(k), String(ops)], { env: cleanEnv(), maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${impl} ${k}: ${stderr || err.message}`));
      resolve(lastJsonLine(stdout).ns);
    });
  });
}

async function partRecord(opts, data) {
  const impls = ['vigil', 'otel-sdk', 'prom-client'];
  const ks = [10, 1000, 10000];
  const cells = [];
  for (const impl of impls) for (const k of ks) cells.push({ impl, k, ns: [] });
  for (let r = 0; r < opts.rounds; r++) {
    for (let i = 0; i < cells.length; i++) {
      const c = cells[(i + r) % cells.length];
      c.ns.push(await runMicro(c.impl, c.k, opts.microOps));
    }
    process.stderr.write(`  record round ${r + 1}/${opts.rounds}\n`);
  }
  const ns = (impl, k) => median(cells.find((c) => c.impl === impl && c.k === k).ns);
  data.record = Object.fromEntries(impls.map((impl) => [impl, Object.fromEntries(ks.map((k) => [k, ns(impl, k)]))]));
  const rows = impls.map((impl) => [impl, ...ks.map((k) => fmt.int(ns(impl, k))), ...(impl === 'vigil' ? ['1×'] : [`${(ns(impl, 1000) / ns('vigil', 1000)).toFixed(1)}×`])]);
  return (
    table(['recording into', 'ns/request at 10 label sets', 'at 1 000', 'at 10 000', 'vs vigil at 1 000'], rows) +
    `\n\nPer request: http_requests_total +1 (method, endpoint, status_code, user_role) and one http_request_duration_seconds observation (method, endpoint); ` +
    `label sets visited in a shuffled order, all created before timing. vigil: what the HTTP instrumentation records through (RequestSeries over the lean registry: it remembers up to 4,096 endpoints, the rest take the registry's lookup by label values); ` +
    `otel-sdk: @opentelemetry/sdk-metrics sync Counter and Histogram with an attributes object per request, a Prometheus reader attached; ` +
    `prom-client: Counter.inc / Histogram.observe with a labels object per request. Median of ${opts.rounds} interleaved runs of ${opts.microOps.toLocaleString('en-US')} requests, each in a fresh process.`
  );
}

// ---------------------------------------------------------------- 3. the same, end to end

function shuffledPaths(k) {
  const random = rng(5);
  const names = [];
  // letters only, so the normaliser keeps every path as its own endpoint
  const word = (i) => {
    let s = '';
    do {
      s += String.fromCharCode(97 + (i % 26));
      i = Math.floor(i / 26);
    } while (i > 0);
    return s;
  };
  for (let i = 0; i < k; i++) names.push(`/api/items-${word(i)}/list`);
  const n = Math.max(k, 20000);
  const out = [];
  for (let i = 0; i < n; i++) out.push(names[i < k ? i : Math.floor(random() * k)]);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

async function partE2e(opts, data) {
  const ks = [10, 1000, 10000];
  const servers = [];
  try {
    for (const k of ks) {
      for (const name of ['baseline', 'vigil']) {
        const env = { ...cleanEnv(), BENCH_FRAMEWORK: 'http', BENCH_METRICS: 'none' };
        const execArgv = [];
        if (name === 'vigil') {
          execArgv.push('--require', '@vigil/node/register');
          Object.assign(env, { OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()), VIGIL_METRIC_CARDINALITY_LIMIT: '20000' });
        }
        const started = spawnChild(HTTP_APP, { execArgv, env });
        const ready = await started.ready;
        servers.push({ name, k, child: started.child, port: ready.port, paths: shuffledPaths(k), cpu: [], metricsPort: env.OTEL_EXPORTER_PROMETHEUS_PORT });
      }
    }
    // warm-up: every path once, then some more
    for (const s of servers) await load(s.port, { total: s.paths.length + 10000, connections: 8, paths: s.paths });
    for (let r = 0; r < opts.rounds; r++) {
      for (let i = 0; i < servers.length; i++) {
        const s = servers[(i + r) % servers.length];
        const before = await ask(s.child, 'stats');
        await load(s.port, { total: opts.e2eRequests, connections: 8, paths: s.paths });
        const after = await ask(s.child, 'stats');
        s.cpu.push((after.cpu - before.cpu) / opts.e2eRequests);
      }
      process.stderr.write(`  e2e round ${r + 1}/${opts.rounds}\n`);
    }
    for (const s of servers.filter((x) => x.name === 'vigil')) {
      const text = (await get(Number(s.metricsPort), '/metrics')).body.toString();
      const endpoints = new Set([...text.matchAll(/^http_requests_total\{[^}]*endpoint="([^"]*)"/gm)].map((m) => m[1]));
      if (endpoints.size < s.k) throw new Error(`vigil at ${s.k} paths reported ${endpoints.size} endpoints`);
    }
  } finally {
    await Promise.all(servers.map((s) => stopChild(s.child)));
  }
  data.e2e = ks.map((k) => {
    const b = servers.find((s) => s.k === k && s.name === 'baseline');
    const v = servers.find((s) => s.k === k && s.name === 'vigil');
    return { k, baselineUs: median(b.cpu), vigilUs: median(v.cpu), addedUs: median(v.cpu.map((c, i) => c - b.cpu[i])), ratio: medianRatio(v.cpu, b.cpu) };
  });
  const rows = ks.map((k) => {
    const b = servers.find((s) => s.k === k && s.name === 'baseline');
    const v = servers.find((s) => s.k === k && s.name === 'vigil');
    return [fmt.int(k), fmt.f1(median(b.cpu)), fmt.f1(median(v.cpu)), `${fmt.signed(median(v.cpu.map((c, i) => c - b.cpu[i])))} µs`, fmt.delta(medianRatio(v.cpu, b.cpu))];
  });
  return (
    table(['distinct endpoints', 'baseline CPU µs/req', 'vigil CPU µs/req', 'added per request', 'vs baseline'], rows) +
    `\n\nnode:http hello world under \`--require @vigil/node/register\` (VIGIL_METRIC_CARDINALITY_LIMIT=20000) against the same app without it; requests spread over k distinct paths ` +
    `(\`/api/items-<word>/list\`, each its own endpoint label) in shuffled order; ${opts.e2eRequests.toLocaleString('en-US')} requests per run over 8 connections, ${opts.rounds} interleaved rounds, medians; ` +
    `"added" is the median of per-round differences. vigil's /metrics was checked to hold every endpoint.`
  );
}

async function main() {
  const opts = {
    rounds: opt('rounds', 7),
    sizes: opt('sizes', '1000,10000,100000').split(',').map(Number),
    parts: opt('parts', 'scrape,record,e2e').split(','),
    microOps: opt('micro-ops', 2_000_000),
    e2eRequests: opt('e2e-requests', 20_000),
  };
  const sections = [];
  const data = {};
  if (opts.parts.includes('scrape')) sections.push(`#### /metrics at scale\n\n${await partScrape(opts, data)}`);
  if (opts.parts.includes('record')) sections.push(`#### Cost of one recorded request as label sets grow\n\n${await partRecord(opts, data)}`);
  if (opts.parts.includes('e2e')) sections.push(`#### The same, end to end (server CPU per request)\n\n${await partE2e(opts, data)}`);
  const args = process.argv.slice(2);
  const partial = args.includes('--parts') || args.includes('--sizes');
  writeResults(partial ? 'scale-partial' : 'scale', 'Scale', `node bench/scale.js${args.length ? ' ' + args.join(' ') : ''}`, sections.join('\n\n'), data);
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
