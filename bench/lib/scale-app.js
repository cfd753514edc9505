// The server of bench/scale.js and bench/otlp.js: a process holding SERIES Prometheus
// series of the HTTP metrics (bench/lib/series.js), recorded
//   BENCH_IMPL=vigil        into vigil's lean registry (the process runs under
//                           --require @vigil/node/register, which serves /metrics or pushes OTLP)
//   BENCH_IMPL=prom-client  into prom-client metrics, served by a plain node:http
//                           /metrics handler as prom-client's docs show
//   BENCH_IMPL=otel-sdk     into OpenTelemetry SDK sync instruments, pushed over OTLP
// It answers IPC requests: stats (CPU, memory), watch / watch-end (longest event-loop
// stall, CPU and peak memory between the two), breakdown (collection and serialisation
// timed separately, in-process).
'use strict';
const http = require('node:http');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { serveIpc, processStats } = require('./common');
const { plan, rng } = require('./series');

const impl = process.env.BENCH_IMPL ?? 'vigil';
const n = Number(process.env.SERIES ?? 1000);

const catalog = require('@vigil/catalog');
const { httpRequestsTotal: reqEntry, httpRequestDurationSeconds: durEntry } = catalog;

function heapAfterGc() {
  global.gc?.();
  global.gc?.();
  return process.memoryUsage().heapUsed;
}

const heapBefore = heapAfterGc();
const p = plan(n);
const random = rng(7);
const latency = () => -Math.log(1 - random()) * 0.12; // exponential, mean 120 ms

let promRegister;
if (impl === 'vigil') {
  // The HTTP instrumentation's own families (same entries and scope), as if requests had made them.
  const reg = catalog.leanRegistry();
  const scope = { name: '@vigil/instrumentation-http', version: '0.1.0' };
  const requests = reg.values(reqEntry, scope);
  const duration = reg.histogram(durEntry, scope);
  for (const l of p.counters) requests.get(l).add(1 + Math.floor(random() * 1000));
  for (const l of p.histograms) {
    const s = duration.get(l);
    for (let k = 0; k < 5; k++) s.record(latency());
  }
  const overflow = reg.seriesCount() < p.counters.length + p.histograms.length;
  if (overflow) throw new Error(`the lean registry folded series into overflow: raise VIGIL_METRIC_CARDINALITY_LIMIT (now ${reg.cardinalityLimit})`);
} else if (impl === 'prom-client') {
  const client = require('prom-client');
  promRegister = client.register;
  client.collectDefaultMetrics();
  const requests = new client.Counter({ name: reqEntry.name, help: reqEntry.help, labelNames: reqEntry.labels });
  const duration = new client.Histogram({ name: durEntry.name, help: durEntry.help, labelNames: durEntry.labels, buckets: durEntry.buckets });
  for (const [method, endpoint, status_code, user_role] of p.counters) requests.inc({ method, endpoint, status_code, user_role }, 1 + Math.floor(random() * 1000));
  for (const [method, endpoint] of p.histograms) for (let k = 0; k < 5; k++) duration.observe({ method, endpoint }, latency());
} else if (impl === 'otel-sdk') {
  // The same series through OpenTelemetry SDK sync instruments, pushed by the SDK's own
  // periodic reader and OTLP/protobuf exporter (URL and interval from BENCH_OTLP_URL /
  // BENCH_OTLP_INTERVAL): what an app using the SDK directly runs.
  const { MeterProvider, PeriodicExportingMetricReader, AggregationType } = require('@opentelemetry/sdk-metrics');
  const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-proto');
  const limit = { aggregationCardinalityLimit: 1_000_000 };
  const provider = new MeterProvider({
    views: [
      { instrumentName: durEntry.name, aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries: durEntry.buckets } }, ...limit },
      { instrumentName: reqEntry.name, ...limit },
    ],
    readers: [
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: process.env.BENCH_OTLP_URL }),
        exportIntervalMillis: Number(process.env.BENCH_OTLP_INTERVAL ?? 1000),
      }),
    ],
  });
  const meter = provider.getMeter('bench');
  const requests = meter.createCounter(reqEntry.name);
  const duration = meter.createHistogram(durEntry.name, { unit: 's' });
  for (const [method, endpoint, status_code, user_role] of p.counters) requests.add(1 + Math.floor(random() * 1000), { method, endpoint, status_code, user_role });
  for (const [method, endpoint] of p.histograms) for (let k = 0; k < 5; k++) duration.record(latency(), { method, endpoint });
} else if (impl !== 'none') {
  throw new Error(`unknown BENCH_IMPL ${impl}`);
}
const seriesHeap = heapAfterGc() - heapBefore;

// ------------------------------------------------------------ watching a scrape or an export

const loop = monitorEventLoopDelay({ resolution: 1 });
let watch;
function startWatch(peaks) {
  loop.reset();
  loop.enable();
  const s = processStats();
  watch = { cpu: s.cpu, heap0: s.heapUsed, peakHeap: s.heapUsed, peakRss: s.rss };
  // sampling memory every 2 ms costs CPU: only when asked (scrapes, not the OTLP windows)
  if (peaks) watch.timer = setInterval(() => {
    const m = process.memoryUsage();
    if (m.heapUsed > watch.peakHeap) watch.peakHeap = m.heapUsed;
    if (m.rss > watch.peakRss) watch.peakRss = m.rss;
  }, 2);
}
function endWatch() {
  clearInterval(watch.timer);
  loop.disable();
  const s = processStats();
  const r = {
    maxStallMs: loop.count > 0 ? loop.max / 1e6 : 0,
    cpu: s.cpu - watch.cpu,
    peakHeapAdded: Math.max(watch.peakHeap, s.heapUsed) - watch.heap0,
    rss: Math.max(watch.peakRss, s.rss),
  };
  watch = undefined;
  return r;
}

async function breakdown(reps) {
  const out = { collectMs: [], serializeMs: [], fastSerializeMs: [], totalMs: [], bytes: 0 };
  if (impl === 'vigil') {
    const { PrometheusSerializer } = require('@opentelemetry/exporter-prometheus');
    // vigil's own serializer (packages/catalog/src/lean.ts), from the catalog's index once it exports it
    const { PrometheusTextSerializer } = catalog.PrometheusTextSerializer ? catalog : require('../../packages/catalog/build/src/lean.js');
    const serializer = new PrometheusSerializer(undefined, false, undefined, true, true);
    const fast = new PrometheusTextSerializer();
    const reg = catalog.leanRegistry();
    for (let i = 0; i < reps; i++) {
      // Buffer.byteLength, as the metrics server does before it writes: flattening the string is part of the cost
      const t0 = performance.now();
      const { resourceMetrics } = await reg.collect();
      const t1 = performance.now();
      const text = serializer.serialize(resourceMetrics);
      Buffer.byteLength(text);
      const t2 = performance.now();
      const { resourceMetrics: again } = await reg.collect();
      const t3 = performance.now();
      const text2 = fast.serialize(again);
      Buffer.byteLength(text2);
      const t4 = performance.now();
      if (text2 !== text) throw new Error('PrometheusTextSerializer and PrometheusSerializer disagree');
      out.collectMs.push(t1 - t0);
      out.serializeMs.push(t2 - t1);
      out.fastSerializeMs.push(t4 - t3);
      out.totalMs.push(t2 - t0);
      out.bytes = text.length;
    }
  } else {
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      const text = await promRegister.metrics();
      out.totalMs.push(performance.now() - t0);
      out.bytes = text.length;
    }
  }
  return out;
}

serveIpc({
  stats: () => ({ ...processStats(), seriesHeap, planned: p.series, labelSets: p.counters.length + p.histograms.length }),
  gc: () => {
    global.gc?.();
    return processStats();
  },
  watch: (m) => {
    startWatch(m.peaks !== false);
    return {};
  },
  'watch-end': () => endWatch(),
  breakdown: (m) => breakdown(m.reps ?? 5),
});
process.on('SIGTERM', () => process.exit(0));

if (impl === 'prom-client') {
  const server = http.createServer((req, res) => {
    promRegister.metrics().then((text) => {
      res.writeHead(200, { 'Content-Type': promRegister.contentType, 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port }));
} else if (impl === 'otel-sdk') {
  setImmediate(() => process.send?.({ type: 'ready', port: 0 }));
} else {
  // vigil's metrics server (or OTLP reader) was started by the preload; it listens on
  // OTEL_EXPORTER_PROMETHEUS_PORT, which the parent chose.
  setImmediate(() => process.send?.({ type: 'ready', port: Number(process.env.OTEL_EXPORTER_PROMETHEUS_PORT ?? 0) }));
}
