#!/usr/bin/env node
// OTLP push at 10 000 series: CPU and bytes per export.
//
// Processes holding 10 000 Prometheus series of the HTTP metrics (bench/lib/scale-app.js)
// push OTLP every `--interval-ms` (default 1 s, so that one run sees many exports; the
// cost of one export does not depend on the interval) to a receiver in this process that
// counts requests and bytes and answers like a collector:
//   vigil protobuf       --require @vigil/node/register, OTEL_METRICS_EXPORTER=otlp (http/protobuf)
//   vigil protobuf+gzip  the same with OTEL_EXPORTER_OTLP_METRICS_COMPRESSION=gzip
//   vigil json           OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=http/json (the receiver decodes it and
//                        checks every data point arrived)
//   otel-sdk protobuf    the same series in OpenTelemetry SDK sync instruments, the SDK's
//                        periodic reader and OTLP/protobuf exporter (no vigil)
//   idle                 vigil with the same series and an export interval of an hour: the
//                        background CPU (runtime metrics, timers) every contender also pays
// All run at the same time for `--windows` windows of `--window-ms`; CPU per export is
// (process CPU in the window − idle's CPU in the same window) / exports in the window.
//
//   node bench/otlp.js [--series 10000] [--interval-ms 1000] [--windows 5] [--window-ms 6000]
//                      [--contenders vigil-protobuf,vigil-protobuf-gzip,vigil-json,otel-sdk-protobuf]
//   (fewer contenders, or another series count, write results/otlp-partial.md)
'use strict';
const http = require('node:http');
const path = require('node:path');
const zlib = require('node:zlib');
const { opt, median, fmt, table, writeResults, spawnChild, ask, stopChild, cleanEnv } = require('./lib/common');

const APP = path.join(__dirname, 'lib', 'scale-app.js');

/** Data points in an OTLP/JSON ExportMetricsServiceRequest. */
function countJsonPoints(body) {
  let n = 0;
  for (const rm of JSON.parse(body).resourceMetrics ?? []) {
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) n += (m.sum ?? m.gauge ?? m.histogram ?? m.exponentialHistogram ?? m.summary)?.dataPoints?.length ?? 0;
    }
  }
  return n;
}

/**
 * Counts exports, not requests: vigil sends a large export as several requests, back to back
 * (packages/node/src/chunked-exporter.ts); a request more than `gapMs` after the previous one
 * starts the next export.
 */
function receiver(gapMs) {
  const stats = new Map();
  const server = http.createServer((req, res) => {
    const name = (req.url ?? '').split('/')[1];
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const wire = Buffer.concat(chunks);
      let s = stats.get(name);
      if (!s) stats.set(name, (s = { exports: 0, requests: 0, last: -Infinity, bytes: 0, rawBytes: 0, points: [], encoding: req.headers['content-encoding'] ?? 'identity', type: req.headers['content-type'] }));
      const json = String(req.headers['content-type']).includes('json');
      const now = performance.now();
      if (now - s.last > gapMs) {
        s.exports++;
        if (json) s.points.push(0);
      }
      s.last = now;
      s.requests++;
      s.bytes += wire.length;
      const raw = req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(wire) : wire;
      s.rawBytes += raw.length;
      if (json) {
        s.points[s.points.length - 1] += countJsonPoints(raw.toString());
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      } else {
        res.writeHead(200, { 'Content-Type': 'application/x-protobuf', 'Content-Length': 0 }).end();
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port, stats })));
}

async function main() {
  const opts = {
    series: opt('series', 10000),
    intervalMs: opt('interval-ms', 1000),
    windows: opt('windows', 5),
    windowMs: opt('window-ms', 6000),
  };
  const rx = await receiver(opts.intervalMs / 2);
  const url = (name) => `http://127.0.0.1:${rx.port}/${name}/v1/metrics`;
  const vigil = (name, extra) => ({
    name,
    execArgv: ['--expose-gc', '--require', '@vigil/node/register'],
    env: {
      BENCH_IMPL: 'vigil',
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: url(name),
      OTEL_METRIC_EXPORT_INTERVAL: String(opts.intervalMs),
      VIGIL_METRIC_CARDINALITY_LIMIT: '1000000',
      ...extra,
    },
  });
  const only = new Set(opt('contenders', '').split(',').filter(Boolean));
  const defs = [
    vigil('vigil-protobuf', {}),
    vigil('vigil-protobuf-gzip', { OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: 'gzip' }),
    vigil('vigil-json', { OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json' }),
    { name: 'otel-sdk-protobuf', execArgv: ['--expose-gc'], env: { BENCH_IMPL: 'otel-sdk', BENCH_OTLP_URL: url('otel-sdk-protobuf'), BENCH_OTLP_INTERVAL: String(opts.intervalMs) } },
    vigil('idle', { OTEL_METRIC_EXPORT_INTERVAL: '3600000' }),
  ].filter((d) => d.name === 'idle' || only.size === 0 || only.has(d.name));
  const procs = [];
  try {
    for (const d of defs) {
      const started = spawnChild(APP, { execArgv: d.execArgv, env: { ...cleanEnv(), ...d.env, SERIES: String(opts.series) } });
      await started.ready;
      procs.push({ ...d, child: started.child, stderr: started.stderr, cpu: [], exports: [], stall: [], labelSets: (await ask(started.child, 'stats')).labelSets });
    }
    // warm-up: two exports each
    const deadline = Date.now() + 30_000;
    while (procs.some((p) => p.name !== 'idle' && (rx.stats.get(p.name)?.exports ?? 0) < 2)) {
      if (Date.now() > deadline) throw new Error(`no exports arrived from ${procs.filter((p) => p.name !== 'idle' && !rx.stats.get(p.name)).map((p) => p.name).join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (let w = 0; w < opts.windows; w++) {
      const begin = await Promise.all(procs.map(async (p) => ({ s: await ask(p.child, 'stats'), e: rx.stats.get(p.name)?.exports ?? 0, w: await ask(p.child, 'watch', { peaks: false }) })));
      await new Promise((r) => setTimeout(r, opts.windowMs));
      const end = await Promise.all(procs.map(async (p) => ({ s: await ask(p.child, 'stats'), e: rx.stats.get(p.name)?.exports ?? 0, w: await ask(p.child, 'watch-end') })));
      procs.forEach((p, i) => {
        p.cpu.push(end[i].s.cpu - begin[i].s.cpu);
        p.exports.push(end[i].e - begin[i].e);
        p.stall.push(end[i].w.maxStallMs);
      });
      process.stderr.write(`  window ${w + 1}/${opts.windows}\n`);
    }
  } catch (err) {
    for (const p of procs) if (p.stderr()) process.stderr.write(`--- ${p.name}:\n${p.stderr()}\n`);
    throw err;
  } finally {
    await Promise.all(procs.map((p) => stopChild(p.child)));
    rx.server.close();
  }
  const idle = procs.find((p) => p.name === 'idle');
  const rows = [];
  const data = { contenders: {}, idleStallMaxMs: Math.max(...idle.stall) };
  for (const p of procs) {
    if (p === idle) continue;
    const s = rx.stats.get(p.name);
    const perExport = median(p.cpu.map((c, i) => (c - idle.cpu[i]) / Math.max(1, p.exports[i]))) / 1000;
    // The last export may have been cut short when the processes stopped.
    const whole = s.points.slice(0, -1);
    if (whole.length && Math.min(...whole) < p.labelSets) throw new Error(`${p.name}: an export carried ${Math.min(...whole)} data points, fewer than the ${p.labelSets} label sets`);
    data.contenders[p.name] = { bytes: s.bytes / s.exports, rawBytes: s.rawBytes / s.exports, requestsPerExport: s.requests / s.exports, cpuMs: perExport, stallMaxMs: Math.max(...p.stall) };
    rows.push([
      p.name,
      `${s.type?.split(';')[0]}${s.encoding !== 'identity' ? ` (${s.encoding})` : ''}`,
      fmt.int(median(p.exports)),
      fmt.f1(s.requests / s.exports),
      fmt.int(s.bytes / s.exports),
      fmt.int(s.rawBytes / s.exports),
      fmt.f1(perExport),
      `${((perExport / 10_000) * 100).toFixed(3)}%`,
      fmt.ms(Math.max(...p.stall)),
      s.points.length ? fmt.int(median(s.points)) : '—',
    ]);
  }
  const body =
    table(['contender', 'content', 'exports per window', 'requests per export', 'bytes per export (wire)', 'bytes per export (uncompressed)', 'CPU ms per export', 'CPU share at a 10 s interval', 'longest event-loop stall ms', 'data points per export'], rows) +
    `\n\n${fmt.int(opts.series)} Prometheus series (${fmt.int(procs[0].labelSets)} label sets of http_requests_total and http_request_duration_seconds, plus the runtime metrics) per process; ` +
    `export interval ${opts.intervalMs} ms; ${opts.windows} windows of ${opts.windowMs} ms with every process running at once; medians over windows. ` +
    `CPU per export = (process CPU − the idle twin's CPU in the same window) / exports in the window; the idle twin (\`idle\`, ${fmt.f1(median(idle.cpu) / opts.windowMs)} µs CPU per ms) holds the same series and never exports. ` +
    `"CPU share at a 10 s interval" = CPU per export / 10 s. The longest stall is the largest event-loop delay in the window (monitorEventLoopDelay, 1 ms resolution); ` +
    `the idle twin's, ${fmt.ms(data.idleStallMaxMs)} ms, is what sharing the machine's cores with the exporting processes does to a process that exports nothing. ` +
    `The receiver decodes every JSON export and checks it carries every label set.`;
  writeResults(opts.series !== 10000 || only.size > 0 ? 'otlp-partial' : 'otlp', 'OTLP export', `node bench/otlp.js${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}`, body, data);
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
