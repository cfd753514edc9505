// The distinct-user counts go through the application's own Redis client (PFADD, EXPIRE,
// PFCOUNT), and @vigil/instrumentation-redis counts that client's commands as the
// application's cache operations. vigil's own commands must not be among them: against the
// real Redis server, cache_operations_total and cache_operation_duration_seconds change by
// exactly the application's commands however much the user counts talk to Redis, in a
// process preloaded with @vigil/node (which registers no OpenTelemetry context manager
// unless traces are on; with traces on, vigil's commands make no span either) and in
// process with a context manager registered.
import { join } from 'node:path';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { isTracingSuppressed } from '@opentelemetry/core';
import { expect } from 'chai';
import type * as IoRedisModule from 'ioredis';
import type * as NodeRedisModule from 'redis';
import { RedisInstrumentation } from '@vigil/instrumentation-redis';
import { inProcessMetrics, parseMetrics, redisUrl, request, requireServices, scrape, startApp, waitFor, type InProcessMetrics, type RunningApp } from '@vigil/testing';
import { createBusinessMetrics } from '../src/index';
import { hllCommands } from '../src/redis';

const CLIENTS = ['ioredis', 'node-redis'] as const;

/** cache_operations_total as `operation/result`, and the duration counts as `operation/count`. */
function cacheCounts(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of parseMetrics(text)) {
    if (s.name === 'cache_operations_total') out.set(`${s.labels.operation}/${s.labels.result}`, s.value);
    if (s.name === 'cache_operation_duration_seconds_count') out.set(`${s.labels.operation}/count`, s.value);
  }
  return out;
}

function delta(before: string, after: string): Record<string, number> {
  const a = cacheCounts(before);
  const out: Record<string, number> = {};
  for (const [k, v] of cacheCounts(after)) if (v !== (a.get(k) ?? 0)) out[k] = v - (a.get(k) ?? 0);
  return out;
}

/** The application's cache work of one round: a SET, a GET that hits, a GET that misses. */
const APP_ROUND = { 'set/success': 1, 'set/count': 1, 'get/hit': 1, 'get/miss': 1, 'get/count': 2 };
const times = (n: number) => Object.fromEntries(Object.entries(APP_ROUND).map(([k, v]) => [k, v * n]));

/** A fresh copy of the client libraries, loaded after the instrumentation is enabled (as under --require). */
function freshRequire<T>(name: string): T {
  const dirs = ['ioredis', '@redis/client', 'redis'].map((p) => join(require.resolve(`${p}/package.json`), '..'));
  for (const key of Object.keys(require.cache)) if (dirs.some((d) => key.startsWith(d))) delete require.cache[key];
  return require(name) as T;
}

describe("business: the distinct-user counts' own Redis commands are not the application's cache operations", function () {
  this.timeout(60_000);
  const prefix = `vigil-test:{own-${process.pid}-${Date.now()}}:`;

  before(async () => {
    await requireServices('redis');
  });

  after(async () => {
    const io = freshRequire<typeof IoRedisModule>('ioredis');
    const r = new io.Redis(redisUrl());
    const keys = await r.keys(`${prefix.replace(/[{}*?[\]]/g, '\\$&')}*`);
    if (keys.length) await r.del(...keys);
    r.disconnect();
  });

  describe('in a process preloaded with @vigil/node', function () {
    let app: RunningApp | undefined;
    afterEach(async () => {
      await app?.stop();
      app = undefined;
    });

    for (const client of CLIENTS) {
      it(`${client}: only the application's commands count, round after round and between rounds`, async function () {
        app = await startApp({ script: join(__dirname, 'fixtures', 'own-redis-app.js'), args: [client, `${prefix}${client}:`] });
        const before = await scrape(app.metricsPort);
        for (let round = 1; round <= 3; round++) {
          const res = await request(app.port, '/work');
          expect(res.status, res.text).to.equal(200);
          // The user counts went through Redis: PFADD then PFCOUNT read them back.
          expect((JSON.parse(res.text) as { daily: number }).daily).to.equal(3 * round);
        }
        // The timers flush and refresh every second in the background meanwhile.
        await new Promise((resolve) => setTimeout(resolve, 2500));
        expect(delta(before, await scrape(app.metricsPort))).to.deep.equal(times(3));
      });
    }

    it('with traces on, the application’s commands make spans and vigil’s do not', async function () {
      app = await startApp({
        script: join(__dirname, 'fixtures', 'own-redis-app.js'),
        args: ['ioredis', `${prefix}traced:`],
        env: { OTEL_TRACES_EXPORTER: 'console', OTEL_BSP_SCHEDULE_DELAY: '100' },
      });
      const before = await scrape(app.metricsPort);
      const res = await request(app.port, '/work');
      expect(res.status, res.text).to.equal(200);
      const spans = () => [...app!.stdout().matchAll(/name: '([a-z]+)'/g)].map((m) => m[1]);
      await waitFor(() => spans().filter((n) => n === 'get').length >= 2, 10_000);
      expect(spans()).to.include('set');
      expect(spans().filter((n) => ['pfadd', 'pfcount', 'expire'].includes(n!))).to.deep.equal([]);
      expect(delta(before, await scrape(app.metricsPort))).to.deep.equal(times(1));
    });
  });

  describe('in process, with an OpenTelemetry context manager registered', function () {
    let metrics: InProcessMetrics;
    let io: typeof IoRedisModule;
    let nr: typeof NodeRedisModule;

    before(async () => {
      context.disable();
      expect(context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())).to.equal(true);
      metrics = inProcessMetrics([new RedisInstrumentation({ memoryMetrics: false })]);
      io = freshRequire<typeof IoRedisModule>('ioredis');
      nr = freshRequire<typeof NodeRedisModule>('redis');
    });

    after(async () => {
      await metrics?.shutdown();
      context.disable();
    });

    it('issues each command with tracing suppressed', async function () {
      const seen: boolean[] = [];
      const spy = {
        pfadd: async () => seen.push(isTracingSuppressed(context.active())),
        pfcount: async () => (seen.push(isTracingSuppressed(context.active())), 0),
        expire: async () => seen.push(isTracingSuppressed(context.active())),
      };
      const h = hllCommands(spy)!;
      await h.pfadd('k', ['a']);
      await h.pfcount(['k']);
      await h.expire('k', 1);
      expect(seen).to.deep.equal([true, true, true]);
      expect(isTracingSuppressed(context.active())).to.equal(false);
    });

    for (const client of CLIENTS) {
      it(`${client}: only the application's commands count`, async function () {
        const p = `${prefix}in-process-${client}:`;
        let conn: object;
        let get: (k: string) => Promise<unknown>;
        let set: (k: string, v: string) => Promise<unknown>;
        let close: () => Promise<unknown>;
        if (client === 'ioredis') {
          const r = new io.Redis(redisUrl());
          [conn, get, set, close] = [r, (k) => r.get(k), (k, v) => r.set(k, v), () => r.quit()];
        } else {
          const c = await nr.createClient({ url: redisUrl() }).connect();
          [conn, get, set, close] = [c, (k) => c.get(k), (k, v) => c.set(k, v), () => c.quit()];
        }
        const b = createBusinessMetrics({ meterProvider: metrics.meterProvider, redis: conn, redisKeyPrefix: p, usersRefreshSeconds: 3600, systemInfo: false });
        try {
          const before = await metrics.scrape();
          for (let i = 0; i < 5; i++) b.markActive(`u${i}`);
          await set(`${p}cache`, 'v');
          await get(`${p}cache`);
          await get(`${p}missing`);
          await b.flush();
          expect(b.userCounts()!.daily).to.equal(5);
          expect(delta(before, await metrics.scrape())).to.deep.equal(times(1));
        } finally {
          await b.shutdown();
          await close();
        }
      });
    }
  });
});
