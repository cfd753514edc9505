// vigil's own commands (issued through the application's clients, as @vigil/business does
// with PFADD / PFCOUNT / EXPIRE) are left out of cache_operations_total and
// cache_operation_duration_seconds, against the real Redis server: issued with vigil's
// marker raised (synchronously, and carried over the waits of node-redis pool clients),
// in auto-pipelines next to the application's commands, from the offline queue, and
// through the OpenTelemetry context across awaits where a context manager is registered.
// The application's commands around them count as usual, OpenTelemetry's
// suppressTracing() included.
import { context, createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { expect } from 'chai';
import { asInternal, INTERNAL_CONTEXT, internalMarker } from '@vigil/catalog/internal-commands';
import { inProcessMetrics, redisUrl, requireServices, type InProcessMetrics } from '@vigil/testing';
import type * as IoRedisModule from 'ioredis';
import type * as NodeRedisModule from 'redis';
import { RedisInstrumentation } from '../src';
import { counts, delta, freshRequire, uniquePrefix } from './helpers';

/** Issues commands as @vigil/business does: marker raised for the call, pending until settled, in a context carrying vigil's key. */
async function asVigil<T>(send: () => Promise<T>): Promise<T> {
  internalMarker.pending++;
  try {
    return await context.with(context.active().setValue(INTERNAL_CONTEXT, true), () => asInternal(send, undefined, []));
  } finally {
    internalMarker.pending--;
  }
}

/** OpenTelemetry's suppressTracing() (@opentelemetry/core sets this very key). */
const SUPPRESS_TRACING = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

describe("@vigil/instrumentation-redis: vigil's own commands are not counted, against the real Redis server", function () {
  let inst: RedisInstrumentation;
  let metrics: InProcessMetrics;
  let io: typeof IoRedisModule;
  let nr: typeof NodeRedisModule;
  let p: string;
  const k = (name: string) => p + name;

  before(async function () {
    await requireServices('redis');
    inst = new RedisInstrumentation({ memoryMetrics: false });
    metrics = inProcessMetrics([inst]);
    io = freshRequire<typeof IoRedisModule>('ioredis');
    nr = freshRequire<typeof NodeRedisModule>('redis');
    p = uniquePrefix('internal');
  });

  after(async function () {
    await metrics?.shutdown();
    const r = new io.Redis(redisUrl());
    const keys = await r.keys(`${p}*`);
    if (keys.length) await r.del(...keys);
    await r.quit();
  });

  async function measure(fn: () => Promise<unknown>): Promise<Record<string, number>> {
    const before = await metrics.scrape();
    await fn();
    const after = await metrics.scrape();
    return delta(before, after);
  }

  it('ioredis: single commands, transactions, the offline queue and auto-pipelines mixed with the application', async function () {
    const r = new io.Redis(redisUrl(), { lazyConnect: true });
    const auto = new io.Redis(redisUrl(), { enableAutoPipelining: true });
    try {
      const d = await measure(async () => {
        // lazyConnect: both wait in the offline queue until the connection is ready.
        await Promise.all([asVigil(() => r.pfadd(k('hll'), 'a', 'b')), r.get(k('none'))]);
        await asVigil(() => r.pfcount(k('hll')));
        await asVigil(() => r.expire(k('hll'), 60));
        await asVigil(() => r.multi().pfadd(k('hll'), 'c').pfcount(k('hll')).exec());
        // One auto-pipeline holds the application's commands and vigil's.
        await Promise.all([auto.set(k('s'), 'v'), asVigil(() => auto.pfadd(k('hll'), 'd')), auto.get(k('s')), asVigil(() => auto.pfcount(k('hll')))]);
        expect(await r.pfcount(k('hll'))).to.equal(4);
      });
      expect(counts(d)).to.deep.equal({ 'get/miss': 1, 'set/success': 1, 'get/hit': 1, 'other/success': 1 });
      expect(d['get/count']).to.equal(2);
    } finally {
      r.disconnect();
      auto.disconnect();
    }
  });

  it('node-redis: single commands, transactions, and a pool client that is busy when vigil asks', async function () {
    const c = await nr.createClient({ url: redisUrl() }).connect();
    const pool = (await nr.createClientPool({ url: redisUrl() }, { minimum: 1, maximum: 1 }).connect())!;
    try {
      const d = await measure(async () => {
        await asVigil(() => c.pfAdd(k('nhll'), ['a', 'b']));
        await asVigil(() => c.pfCount(k('nhll')));
        await asVigil(() => c.multi().pfAdd(k('nhll'), 'c').expire(k('nhll'), 60).exec());
        await c.get(k('none'));
        // The pool's one client is busy with the application's BLPOP: vigil's command waits for it.
        const blocking = pool.blPop(k('list'), 0.2);
        const vigils = asVigil(() => pool.pfAdd(k('nhll'), 'd'));
        await Promise.all([blocking, vigils]);
        expect(await c.pfCount(k('nhll'))).to.equal(4);
      });
      expect(counts(d)).to.deep.equal({ 'get/miss': 1, 'other/success': 2 });
    } finally {
      await c.quit();
      await pool.close();
    }
  });

  it('follows vigil’s commands through awaits with a context manager, and counts the application’s under suppressTracing', async function () {
    context.disable();
    expect(context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())).to.equal(true);
    const r = new io.Redis(redisUrl());
    const c = await nr.createClient({ url: redisUrl() }).connect();
    try {
      const d = await measure(async () => {
        internalMarker.pending++;
        try {
          // No marker depth here: only the context says these are vigil's.
          await context.with(ROOT_CONTEXT.setValue(INTERNAL_CONTEXT, true), async () => {
            await new Promise((resolve) => setTimeout(resolve, 1));
            await r.pfadd(k('chll'), 'a');
            await c.pfAdd(k('chll'), 'b');
          });
          // The application's commands while vigil's are pending, tracing suppressed or not.
          await context.with(ROOT_CONTEXT.setValue(SUPPRESS_TRACING, true), () => r.get(k('none')));
          await c.get(k('none'));
        } finally {
          internalMarker.pending--;
        }
      });
      expect(counts(d)).to.deep.equal({ 'get/miss': 2 });
    } finally {
      context.disable();
      r.disconnect();
      await c.quit();
    }
  });
});
