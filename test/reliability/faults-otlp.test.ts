// An OTLP collector that refuses connections, hangs, or answers too late (issue 9): the
// preloaded app goes on serving with a free event loop and flat memory, exports time out
// and are tried again, at most two pushes are ever in flight, vigil says "export failing"
// once and "export recovered" once, and the data arrives once the collector is back. A
// process whose collector is unreachable ends within vigil's shutdown bound.
import { expect } from 'chai';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { freePort, request, startApp, waitFor, type RunningApp } from '@vigil/testing';
import type { OtlpReceiver } from '../../packages/node/test/otlp-receiver';

const REPO_ROOT = join(__dirname, '..', '..', '..');
// The OTLP stand-in backend of @vigil/node's tests (compiled by tsc -b), not a copy of it.
const { startOtlpReceiver } = require(join(REPO_ROOT, 'packages/node/build/test/otlp-receiver')) as typeof import('../../packages/node/test/otlp-receiver');

const STATS_APP = join(REPO_ROOT, 'test', 'reliability', 'fixtures', 'stats-app.js');
const SHORT_TASK = join(REPO_ROOT, 'test', 'reliability', 'fixtures', 'short-task.js');
const INTERVAL_MS = 300;
const TIMEOUT_MS = 200;
/** Export cycles per measured half of a run. */
const CYCLES = 15;
/**
 * Distinct endpoints the app serves before the measurement: each push then carries ~520
 * series (~100 kB of protobuf), so a push kept per failed cycle would add megabytes.
 */
const SERIES = 500;
const HEAP_GROWTH_BOUND = 1024 * 1024;

/** A literal path segment (letters only, so the URL normaliser keeps it): one series each. */
const word = (i: number) => i.toString(36).replace(/[0-9]/g, (d) => 'abcdefghij'[Number(d)]!);
const REPORT = Boolean(process.env['VIGIL_RELIABILITY_REPORT']);

const otlpEnv = (url: string, protocol = 'http/protobuf'): Record<string, string> => ({
  OTEL_METRICS_EXPORTER: 'otlp',
  OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: protocol,
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: url,
  OTEL_METRIC_EXPORT_INTERVAL: String(INTERVAL_MS),
  OTEL_METRIC_EXPORT_TIMEOUT: String(TIMEOUT_MS),
});

const count = (text: string, re: RegExp) => (text.match(re) ?? []).length;
const mb = (bytes: number) => (bytes / 1e6).toFixed(2);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The latest total of a counter at the receiver: the last value of each series, summed. */
function latestTotal(receiver: OtlpReceiver, metric: string): number {
  const last = new Map<string, number>();
  for (const p of receiver.points) if (p.metric === metric) last.set(JSON.stringify(p.attributes), Number(p.value));
  return [...last.values()].reduce((a, b) => a + b, 0);
}

/** Requests each app answered (that is, what its http_requests_total must come to). */
const answered = new Map<RunningApp, number>();

/** GET path from the app, counted in `answered`; undefined on a network error. */
async function get(app: RunningApp, path: string) {
  const res = await request(app.port, path).catch(() => undefined);
  if (res) answered.set(app, (answered.get(app) ?? 0) + 1);
  return res;
}

/** Heap (after a full GC) and RSS of a stats-app. */
async function memory(app: RunningApp): Promise<{ rss: number; heapUsed: number }> {
  return JSON.parse((await get(app, '/memory'))!.text) as { rss: number; heapUsed: number };
}

/** The longest event-loop delay of a stats-app since the previous call. */
async function loopMaxMs(app: RunningApp): Promise<number> {
  return (JSON.parse((await get(app, '/loop'))!.text) as { maxMs: number }).maxMs;
}

/** Requests to two apps in turn for `ms`: the same machine noise for both. */
async function interleave(a: RunningApp, b: RunningApp, ms: number) {
  const latency: [number[], number[]] = [[], []];
  let failures = 0;
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    for (const [i, app] of [a, b].entries()) {
      const t0 = process.hrtime.bigint();
      const res = await get(app, `/orders/${latency[i]!.length}`);
      if (res?.status !== 200) failures++;
      latency[i]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  return { a: latency[0], b: latency[1], failures };
}

/** Accepts TCP connections and never says a word: a collector that hangs (any protocol). */
async function hangingTcpServer(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: TcpServer = createTcpServer((s) => {
    connections++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    connections: () => connections,
    close: () => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))),
  };
}

describe('reliability: an OTLP collector that is down, hanging or slow', function () {
  this.timeout(60_000);
  const apps: RunningApp[] = [];
  const receivers: OtlpReceiver[] = [];
  afterEach(async function () {
    await Promise.all(apps.splice(0).map((a) => a.stop('SIGKILL')));
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });

  for (const mode of ['refused', 'hanging', 'slow'] as const) {
    it(`${mode}: the app serves with a free event loop and flat memory, one line per state change, data arrives after recovery`, async function () {
      const port = await freePort();
      const healthyReceiver = await startOtlpReceiver();
      receivers.push(healthyReceiver);
      let receiver: OtlpReceiver | undefined;
      if (mode !== 'refused') {
        receiver = await startOtlpReceiver(port);
        receivers.push(receiver);
        if (mode === 'hanging') receiver.hang = true;
        else receiver.delayMs = 5 * TIMEOUT_MS; // answers long after the exporter gave up
      }
      const faulty = await startApp({ script: STATS_APP, env: otlpEnv(`http://127.0.0.1:${port}/v1/metrics`), nodeArgs: ['--expose-gc'] });
      apps.push(faulty);
      const healthy = await startApp({ script: STATS_APP, env: otlpEnv(healthyReceiver.url) });
      apps.push(healthy);
      await waitFor(() => faulty.stderr().includes('export failing'), 10_000);
      for (const app of [faulty, healthy]) for (let i = 0; i < SERIES; i++) expect((await get(app, `/w/${word(i)}x`))?.status).to.equal(200);

      const after0 = await memory(faulty);
      await loopMaxMs(faulty); // from here on (the GC just now is not the exporter's)
      await loopMaxMs(healthy);
      const first = await interleave(faulty, healthy, CYCLES * INTERVAL_MS);
      const loop1 = [await loopMaxMs(faulty), await loopMaxMs(healthy)];
      const after1 = await memory(faulty);
      await loopMaxMs(faulty);
      await loopMaxMs(healthy);
      const second = await interleave(faulty, healthy, CYCLES * INTERVAL_MS);
      const loop2 = [await loopMaxMs(faulty), await loopMaxMs(healthy)];
      const after2 = await memory(faulty);
      const loopMax = Math.max(loop1[0]!, loop2[0]!);
      const twinLoopMax = Math.max(loop1[1]!, loop2[1]!);

      expect(first.failures + second.failures, 'failed requests').to.equal(0);
      // Exports waiting on the collector never block the app: no stall as long as an export
      // timeout, unless its twin saw one as long in the same windows (then it was the machine).
      expect(loopMax, `longest event-loop delay (ms); the healthy twin's: ${twinLoopMax}`).to.be.below(Math.max(TIMEOUT_MS, 1.5 * twinLoopMax));
      const faultyMedian = median([...first.a, ...second.a]);
      const healthyMedian = median([...first.b, ...second.b]);
      expect(faultyMedian / healthyMedian, `median request latency ${faultyMedian.toFixed(2)} ms vs ${healthyMedian.toFixed(2)} ms with a healthy collector`).to.be.below(2);
      // Memory after CYCLES more failed exports: no growth beyond noise (a kept push would add ~100 kB or more each).
      const heapGrowth = after2.heapUsed - after1.heapUsed;
      expect(heapGrowth, `heap after ${CYCLES} and ${2 * CYCLES} failed cycles: ${after1.heapUsed} -> ${after2.heapUsed}`).to.be.below(HEAP_GROWTH_BOUND);
      const attempts = receiver?.requests;
      if (receiver) {
        // Every cycle tries again, and abandoned attempts do not pile up.
        expect(receiver.requests, 'pushes that reached the collector').to.be.at.least(CYCLES);
        expect(receiver.maxOpen, 'pushes in flight at once').to.be.at.most(2);
        expect(receiver.pushes, 'pushes the collector answered in time').to.equal(0);
      }
      const failingLines = count(faulty.stderr(), /export failing/g);
      expect(failingLines, `${2 * CYCLES} failed cycles`).to.equal(1);

      // The collector comes back.
      if (mode === 'refused') {
        receiver = await startOtlpReceiver(port);
        receivers.push(receiver);
      } else {
        receiver!.hang = false;
        receiver!.delayMs = 0;
      }
      await waitFor(() => faulty.stderr().includes('export recovered'), 10_000);
      const served = answered.get(faulty);
      await waitFor(() => latestTotal(receiver!, 'http_requests_total') === served, 10_000).catch(() => {
        throw new Error(`http_requests_total at the collector: ${latestTotal(receiver!, 'http_requests_total')}, served: ${served}`);
      });
      await new Promise((r) => setTimeout(r, 3 * INTERVAL_MS)); // a few healthy cycles more
      const err = faulty.stderr();
      expect(count(err, /export failing/g), err).to.equal(1);
      expect(count(err, /export recovered/g), err).to.equal(1);
      const vigilLines = err.split('\n').filter((l) => l.startsWith('[vigil]'));
      expect(vigilLines, 'nothing else said').to.have.length(2);
      if (REPORT) {
        console.log(`      ${mode}: ${2 * CYCLES} failed cycles; median latency ${faultyMedian.toFixed(2)} ms (healthy twin ${healthyMedian.toFixed(2)} ms); ` +
          `max loop delay ${loopMax.toFixed(1)} ms (twin ${twinLoopMax.toFixed(1)} ms); ` +
          `heap ${mb(after0.heapUsed)} -> ${mb(after1.heapUsed)} -> ${mb(after2.heapUsed)} MB; rss ${mb(after0.rss)} -> ${mb(after1.rss)} -> ${mb(after2.rss)} MB; ` +
          `${attempts === undefined ? '' : `collector saw ${attempts} attempts, at most ${receiver!.maxOpen} open; `}failing lines while failing ${failingLines}; vigil lines:\n        ${vigilLines.join('\n        ')}`);
      }
    });
  }
});

describe('reliability: an OTLP collector that answers "try later"', function () {
  this.timeout(30_000);
  let app: RunningApp | undefined;
  let receiver: OtlpReceiver | undefined;
  after(async function () {
    await app?.stop('SIGKILL');
    await receiver?.close();
  });

  it('503: each export is tried again within its timeout, with a growing backoff, and said once', async function () {
    receiver = await startOtlpReceiver();
    receiver.failWith = 503;
    // A 4 s export timeout leaves room for retries after ~1 s and ~1.5 s more (each ±20 %).
    app = await startApp({ script: STATS_APP, env: { ...otlpEnv(receiver.url), OTEL_METRIC_EXPORT_INTERVAL: '4000', OTEL_METRIC_EXPORT_TIMEOUT: '4000' } });
    await waitFor(() => receiver!.requests >= 3, 15_000);
    const [a, b, c] = receiver.arrivals;
    const gaps = [b! - a!, c! - b!];
    // Lower bounds only: a loaded machine makes gaps longer, never shorter.
    expect(gaps[0], `gaps ${gaps.join(', ')} ms`).to.be.at.least(750);
    expect(gaps[1], `gaps ${gaps.join(', ')} ms`).to.be.at.least(1150);
    await waitFor(() => app!.stderr().includes('export failing'), 5_000);
    expect(count(app.stderr(), /export failing/g)).to.equal(1);
    expect((await request(app.port, '/orders/1')).status).to.equal(200);
    if (REPORT) console.log(`      503: attempts ${gaps.join(' ms and ')} ms apart within one export`);
  });
});

describe('reliability: a process whose OTLP collector is unreachable ends within the shutdown bound', function () {
  this.timeout(30_000);
  /** VIGIL_SHUTDOWN_TIMEOUT_MS for these processes. */
  const BOUND_MS = 1500;
  /** What the process may take beyond the bound (start-up of the exit, the last collection). */
  const SLACK_MS = 3000;
  const apps: RunningApp[] = [];
  const hangs: Array<{ close: () => Promise<void> }> = [];
  afterEach(async function () {
    await Promise.all(apps.splice(0).map((a) => a.stop('SIGKILL')));
    await Promise.all(hangs.splice(0).map((h) => h.close()));
  });

  /** Default interval and timeout (60 s, 30 s), as users run it: only the bound is shortened. */
  async function launch(protocol: string, mode: 'refused' | 'hanging', script: string) {
    const hang = mode === 'hanging' ? await hangingTcpServer() : undefined;
    if (hang) hangs.push(hang);
    const port = hang?.port ?? (await freePort());
    const url = protocol === 'grpc' ? `http://127.0.0.1:${port}` : `http://127.0.0.1:${port}/v1/metrics`;
    const app = await startApp({
      script,
      waitForListening: script !== SHORT_TASK,
      env: { OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: protocol, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: url, VIGIL_SHUTDOWN_TIMEOUT_MS: String(BOUND_MS) },
    });
    apps.push(app);
    return { app, hang };
  }

  /** How the process ended and how long after `since` it took; 'still running' past the bound. */
  async function ending(app: RunningApp, since: number): Promise<{ exit: number | string; ms: number }> {
    const exit = await Promise.race([app.exited, new Promise<string>((r) => setTimeout(() => r('still running'), BOUND_MS + SLACK_MS).unref())]);
    return { exit, ms: Date.now() - since };
  }

  for (const protocol of ['http/protobuf', 'http/json', 'grpc']) {
    for (const mode of ['refused', 'hanging'] as const) {
      it(`${protocol}, collector ${mode}: a script that ends by itself exits (code 0) within the bound`, async function () {
        const { app, hang } = await launch(protocol, mode, SHORT_TASK);
        await waitFor(() => app.stdout().includes('DONE'), 10_000);
        const { exit, ms } = await ending(app, Date.now());
        expect(exit, app.stderr()).to.equal(0);
        if (hang) expect(hang.connections(), 'the final flush reached the collector').to.be.at.least(1);
        if (REPORT) console.log(`      ${protocol} ${mode}: exit ${ms} ms after the script's end (bound ${BOUND_MS} ms)`);
      });
    }
  }

  it('SIGTERM while the collector hangs: the process ends by SIGTERM within the bound, as without vigil', async function () {
    const { app } = await launch('http/protobuf', 'hanging', STATS_APP);
    expect((await request(app.port, '/orders/1')).status).to.equal(200);
    const since = Date.now();
    app.child.kill('SIGTERM');
    const { exit, ms } = await ending(app, since);
    expect(exit, app.stderr()).to.equal('SIGTERM');
    if (REPORT) console.log(`      SIGTERM, collector hanging: ended ${ms} ms after the signal (bound ${BOUND_MS} ms)`);
  });
});
