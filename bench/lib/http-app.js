// The server of bench/http.js: one process per contender, started by the parent
// with the contender's preload (--require) and environment. It serves
//   GET /          hello world
//   GET /work      ~1 ms of CPU work (a fixed number of xorshift steps, calibrated by the parent)
// on plain node:http or Express, optionally with prom-client metrics made the way
// users make them, and answers the parent's IPC requests for its own CPU time
// and memory, and for the marks of a callgrind window (bench/http.js --instructions).
//
//   BENCH_FRAMEWORK   http | express
//   BENCH_METRICS     none | prom-client (hand-written middleware: the same three metrics as vigil)
//                     | prom-bundle (express-prom-bundle)
//   BENCH_WORK_STEPS  xorshift steps of /work
//   BENCH_APP_HEAP_MB long-lived data the app keeps (MB, about; 0: none), as a real app keeps its
//                     caches and state: with the hello world's few MB of heap alone, how much a preload
//                     loads decides how much of each request the GC promotes (bench/notes.md, item 26)
'use strict';
const http = require('node:http');
const { serveIpc, processStats } = require('./common');

const framework = process.env.BENCH_FRAMEWORK ?? 'http';
const metrics = process.env.BENCH_METRICS ?? 'none';
const steps = Number(process.env.BENCH_WORK_STEPS ?? 0);
// ~96 bytes per record (the object, its name string, its slot); on globalThis, so it lives as long as the app.
globalThis.benchAppData = Array.from({ length: Math.round((Number(process.env.BENCH_APP_HEAP_MB ?? 0) * 1048576) / 96) }, (_, i) => ({ id: i, name: `user ${i}`, credits: i % 1000 }));

function work(n) {
  let x = 0x9e3779b9 | 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x >>> 0;
}

const HELLO = 'hello world';

// ------------------------------------------------------------ prom-client, as users write it

let promRegister;
let promMiddleware;
if (metrics === 'prom-client' || metrics === 'prom-bundle') {
  const client = require('prom-client');
  promRegister = client.register;
  // The seed's metric definitions (names, labels, buckets) come from vigil's catalog,
  // so both record exactly the same series.
  const { httpRequestsTotal, httpRequestDurationSeconds, httpConcurrentConnections } = require('@vigil/catalog');
  if (metrics === 'prom-client') {
    // Runtime metrics on, as vigil's are (VIGIL_RUNTIME_METRICS=true).
    client.collectDefaultMetrics();
    const requests = new client.Counter({ name: httpRequestsTotal.name, help: httpRequestsTotal.help, labelNames: httpRequestsTotal.labels });
    const duration = new client.Histogram({
      name: httpRequestDurationSeconds.name,
      help: httpRequestDurationSeconds.help,
      labelNames: httpRequestDurationSeconds.labels,
      buckets: httpRequestDurationSeconds.buckets,
    });
    const inflight = new client.Gauge({ name: httpConcurrentConnections.name, help: httpConcurrentConnections.help });
    // The usual hand-written middleware: a start time, a gauge, and a 'finish' listener.
    promMiddleware = (req, res, next) => {
      const start = performance.now();
      inflight.inc();
      res.once('finish', () => {
        inflight.dec();
        const q = req.originalUrl ?? req.url;
        const endpoint = req.route?.path ?? (q.indexOf('?') >= 0 ? q.slice(0, q.indexOf('?')) : q);
        const role = req.user?.role ?? 'anonymous';
        requests.inc({ method: req.method, endpoint, status_code: res.statusCode, user_role: role });
        duration.observe({ method: req.method, endpoint }, (performance.now() - start) / 1000);
      });
      next();
    };
  } else {
    const promBundle = require('express-prom-bundle');
    promMiddleware = promBundle({
      includeMethod: true,
      includePath: true,
      includeStatusCode: true,
      buckets: httpRequestDurationSeconds.buckets,
      promClient: { collectDefaultMetrics: {} },
    });
  }
}

function serveMetrics(res) {
  promRegister.metrics().then((text) => {
    res.writeHead(200, { 'Content-Type': promRegister.contentType, 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  });
}

// ------------------------------------------------------------ the app

let server;
if (framework === 'http') {
  if (metrics === 'prom-bundle') throw new Error('express-prom-bundle needs Express');
  const handler = (req, res) => {
    if (req.url === '/work') res.end(String(work(steps)));
    else res.end(HELLO);
  };
  server = http.createServer(
    promMiddleware
      ? (req, res) => {
          if (req.url === '/metrics') return serveMetrics(res);
          promMiddleware(req, res, () => handler(req, res));
        }
      : handler,
  );
} else {
  const express = require('express');
  const app = express();
  app.set('etag', false);
  app.set('x-powered-by', false);
  if (metrics === 'prom-client') {
    app.get('/metrics', (req, res) => serveMetrics(res));
    app.use(promMiddleware);
  } else if (metrics === 'prom-bundle') {
    app.use(promMiddleware); // serves /metrics itself
  }
  app.get('/', (req, res) => {
    res.send(HELLO);
  });
  app.get('/work', (req, res) => {
    res.send(String(work(steps)));
  });
  server = http.createServer(app);
}
server.keepAliveTimeout = 120_000;

serveIpc({
  stats: () => processStats(),
  gc: () => {
    global.gc?.();
    return processStats();
  },
  // bench/http.js --instructions: under callgrind (--dump-before=node::GetActiveHandles*) the
  // counters are dumped here, at each end of the measured window. Nothing else calls it then
  // (prom-client's default metrics do, but only when /metrics is scraped).
  mark: () => {
    process._getActiveHandles();
    return {};
  },
});
process.on('SIGTERM', () => process.exit(0)); // lets --cpu-prof write its profile
process.on('disconnect', () => process.exit(0)); // the parent is gone (e.g. failed): no orphan servers

server.listen(Number(process.env.BENCH_PORT ?? 0), '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: server.address().port });
  if (!process.send) console.log(`LISTENING ${server.address().port}`);
});
