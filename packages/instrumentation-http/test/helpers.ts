import { httpRequestDurationSeconds, httpRequestsTotal, leanRegistry } from '@vigil/catalog';
import { inProcessMetrics, samplesOf, type InProcessMetrics } from '@vigil/testing';
import type { Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { HttpServerInstrumentation, type HttpServerInstrumentationConfig } from '../src';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../src/version';

let shared: HttpServerInstrumentation | undefined;

/**
 * One instance for every suite: Express and Koa are patched once per process.
 * Express 4 is installed as the npm alias `express4` (npm:express@4), hooked
 * through the expressModules option.
 */
export function instrumentation(): HttpServerInstrumentation {
  return (shared ??= new HttpServerInstrumentation({ enabled: false, expressModules: ['express4'] }));
}

/** Drops the series of the per-request metrics so each test sees only its own requests. */
export function resetHttpSeries(): void {
  const scope = { name: PACKAGE_NAME, version: PACKAGE_VERSION };
  leanRegistry().values(httpRequestsTotal, scope).clear();
  leanRegistry().histogram(httpRequestDurationSeconds, scope).clear();
}

/**
 * Enables the instrumentation (with `config`) for the enclosing describe() only,
 * wired to an in-process Prometheus exporter; other packages' suites in the same
 * mocha run are not counted.
 */
export function withHttpMetrics(config: HttpServerInstrumentationConfig = {}): { metrics: InProcessMetrics; scrape(): Promise<string> } {
  const ctx = {} as { metrics: InProcessMetrics; scrape(): Promise<string> };
  ctx.scrape = () => ctx.metrics.scrape();
  before(() => {
    const i = instrumentation();
    i.setConfig({ ...config, enabled: false });
    ctx.metrics = inProcessMetrics([i]);
  });
  after(async () => {
    await ctx.metrics.shutdown();
  });
  beforeEach(() => resetHttpSeries());
  return ctx;
}

export function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** GET through fetch; resolves with the status after reading the body. */
export async function get(port: number, path: string, init: RequestInit = {}): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
  await res.arrayBuffer();
  return res.status;
}

/** The `http_requests_total` lines of a scrape, sorted, for exact comparison. */
export function requestLines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('http_requests_total{'))
    .sort();
}

/** The value of http_concurrent_connections in a scrape. */
export function inFlight(text: string): number | undefined {
  return samplesOf(text, 'http_concurrent_connections')[0]?.value;
}

/** A raw TCP client: write bytes, collect what comes back. */
export function rawClient(port: number): Promise<{ socket: Socket; received(): string; waitFor(re: RegExp): Promise<void>; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const waiters: { re: RegExp; resolve: () => void }[] = [];
    socket.on('data', (d) => {
      data += d.toString('latin1');
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.re.test(data)) {
          waiters[i]!.resolve();
          waiters.splice(i, 1);
        }
      }
    });
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('error', () => {});
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => data,
        waitFor: (re) => (re.test(data) ? Promise.resolve() : new Promise<void>((r) => waiters.push({ re, resolve: r }))),
        closed,
      }),
    );
    socket.once('error', reject);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
