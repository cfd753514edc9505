// One measurement of bench/scale.js's "cost of one recorded request": the two
// recordings the HTTP instrumentation makes per request (http_requests_total +1 with
// method, endpoint, status_code, user_role; http_request_duration_seconds with method,
// endpoint), over K distinct label sets visited in a shuffled order, in ns per request.
//
//   node bench/lib/record-micro.js <impl> <K> <ops>
//   impl: vigil        what @vigil/instrumentation-http records through: RequestSeries over the lean registry
//         otel-sdk     OpenTelemetry SDK sync Counter + Histogram, an attributes object per request
//         prom-client  prom-client Counter + Histogram, a labels object per request (as middleware does)
'use strict';
const { rng } = require('./series');

const [impl, kArg, opsArg] = process.argv.slice(2);
const K = Number(kArg);
const OPS = Number(opsArg ?? 2_000_000);
const catalog = require('@vigil/catalog');
const { httpRequestsTotal: reqEntry, httpRequestDurationSeconds: durEntry } = catalog;

const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
const methods = [];
const endpoints = [];
for (let i = 0; i < K; i++) {
  methods.push(METHODS[i % 4]);
  endpoints.push(`/api/v1/r${i.toString(36)}/items/:id`);
}
const random = rng(11);
const ORDER = new Int32Array(1 << 16);
for (let i = 0; i < ORDER.length; i++) ORDER[i] = Math.floor(random() * K);
const DUR = new Float64Array(1024);
for (let i = 0; i < DUR.length; i++) DUR[i] = -Math.log(1 - random()) * 0.05;

let record;
if (impl === 'vigil') {
  const reg = catalog.leanRegistry();
  reg.cardinalityLimit = 1_000_000;
  const scope = { name: '@vigil/instrumentation-http' };
  // not part of the package's API: the instrumentation's own per-request lookup
  const { RequestSeries } = require('../../packages/instrumentation-http/build/src/request-series');
  const { METHOD_LABELS } = require('../../packages/instrumentation-http/build/src/normalise');
  const series = new RequestSeries(reg.values(reqEntry, scope), reg.histogram(durEntry, scope));
  const methodIndex = methods.map((m) => METHOD_LABELS.indexOf(m));
  record = (i, d) => series.record(methodIndex[i], endpoints[i], 200, 'user', d);
} else if (impl === 'otel-sdk') {
  const { MeterProvider, AggregationType } = require('@opentelemetry/sdk-metrics');
  const { PrometheusExporter } = require('@opentelemetry/exporter-prometheus');
  // A reader makes the SDK keep per-attribute storage, as in a running app; the views
  // give the seed's buckets and lift the SDK's default cardinality limit (2000).
  const limit = { aggregationCardinalityLimit: 1_000_000 };
  const provider = new MeterProvider({
    views: [
      { instrumentName: durEntry.name, aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries: durEntry.buckets } }, ...limit },
      { instrumentName: reqEntry.name, ...limit },
    ],
    readers: [new PrometheusExporter({ preventServerStart: true })],
  });
  const m = provider.getMeter('bench');
  const counter = m.createCounter(reqEntry.name);
  const hist = m.createHistogram(durEntry.name, { unit: 's' });
  record = (i, d) => {
    counter.add(1, { method: methods[i], endpoint: endpoints[i], status_code: '200', user_role: 'user' });
    hist.record(d, { method: methods[i], endpoint: endpoints[i] });
  };
} else if (impl === 'prom-client') {
  const client = require('prom-client');
  const counter = new client.Counter({ name: reqEntry.name, help: reqEntry.help, labelNames: reqEntry.labels });
  const hist = new client.Histogram({ name: durEntry.name, help: durEntry.help, labelNames: durEntry.labels, buckets: durEntry.buckets });
  record = (i, d) => {
    counter.inc({ method: methods[i], endpoint: endpoints[i], status_code: 200, user_role: 'user' });
    hist.observe({ method: methods[i], endpoint: endpoints[i] }, d);
  };
} else {
  throw new Error(`unknown impl ${impl}`);
}

function run(ops) {
  const mask = ORDER.length - 1;
  const t0 = process.hrtime.bigint();
  for (let j = 0; j < ops; j++) record(ORDER[j & mask], DUR[j & 1023]);
  return Number(process.hrtime.bigint() - t0) / ops;
}

// every label set exists before timing (steady state of a running service)
for (let i = 0; i < K; i++) record(i, 0.01);
run(Math.min(OPS, 500_000));
const ns = run(OPS);
process.stdout.write(JSON.stringify({ impl, K, ns }) + '\n');
