// Past the cardinality limit (VIGIL_METRIC_CARDINALITY_LIMIT, here a registry's own limit of 1),
// against the real Redis server: every command that lands in an overflow series is counted in
// vigil_metric_overflow_total, not only the first of its operation, and after a family is
// cleared the commands record into its new series.
import { expect } from 'chai';
import { cacheOperationDurationSeconds, cacheOperationsTotal, LeanRegistry } from '@vigil/catalog';
import { inProcessMetrics, parseMetrics, redisUrl, registryText, requireServices, sampleValue, type InProcessMetrics } from '@vigil/testing';
import type * as IoRedisModule from 'ioredis';
import type * as NodeRedisModule from 'redis';
import { RedisInstrumentation } from '../src';
import { freshRequire, uniquePrefix } from './helpers';

describe('@vigil/instrumentation-redis: past the cardinality limit, against the real Redis server', function () {
  let registry: LeanRegistry;
  let metrics: InProcessMetrics;
  let io: typeof IoRedisModule;
  let nr: typeof NodeRedisModule;
  let p: string;

  before(async function () {
    await requireServices('redis');
    registry = new LeanRegistry();
    registry.cardinalityLimit = 1;
    metrics = inProcessMetrics([new RedisInstrumentation({ memoryMetrics: false, registry })]);
    io = freshRequire<typeof IoRedisModule>('ioredis');
    nr = freshRequire<typeof NodeRedisModule>('redis');
    p = uniquePrefix('limits');
  });

  after(async function () {
    await metrics?.shutdown();
  });

  /** Empties both Redis families (the overflow counter is not cleared: it only grows). */
  function clearFamilies(): void {
    registry.values(cacheOperationsTotal, { name: 'test' }).clear();
    registry.histogram(cacheOperationDurationSeconds, { name: 'test' }).clear();
  }

  beforeEach(clearFamilies); // each test starts with empty families

  async function read() {
    const samples = parseMetrics(await registryText(registry));
    const v = (name: string, labels: Record<string, string>) => sampleValue(samples, name, labels) ?? 0;
    return {
      setSuccess: v('cache_operations_total', { operation: 'set', result: 'success' }),
      setDurations: v('cache_operation_duration_seconds_count', { operation: 'set' }),
      overflowCounts: v('cache_operations_total', { otel_metric_overflow: 'true' }),
      overflowDurations: v('cache_operation_duration_seconds_count', { otel_metric_overflow: 'true' }),
      overflowTotal: v('vigil_metric_overflow_total', { metric: 'cache_operations_total' }) + v('vigil_metric_overflow_total', { metric: 'cache_operation_duration_seconds' }),
    };
  }

  async function check(set: () => Promise<unknown>, get: () => Promise<unknown>): Promise<void> {
    const before = (await read()).overflowTotal;
    await set(); // the one series of each family the limit allows
    for (let i = 0; i < 5; i++) await get();
    let now = await read();
    expect(now.setSuccess).to.equal(1);
    expect(now.setDurations).to.equal(1);
    expect(now.overflowCounts).to.equal(5);
    expect(now.overflowDurations).to.equal(5);
    expect(now.overflowTotal - before, 'each overflowing command counted in both families, not only the first').to.equal(10);

    // The families start over: the operations looked up before record into the new series.
    clearFamilies();
    for (let i = 0; i < 2; i++) await set();
    for (let i = 0; i < 3; i++) await get();
    now = await read();
    expect(now.setSuccess).to.equal(2);
    expect(now.setDurations).to.equal(2);
    expect(now.overflowCounts).to.equal(3);
    expect(now.overflowDurations).to.equal(3);
    expect(now.overflowTotal - before).to.equal(16);
  }

  it('ioredis', async function () {
    const r = new io.Redis(redisUrl());
    try {
      await check(
        () => r.set(`${p}io`, 'v'),
        () => r.get(`${p}io`),
      );
    } finally {
      await r.del(`${p}io`);
      await r.quit();
    }
  });

  it('node-redis', async function () {
    const c = await nr.createClient({ url: redisUrl() }).connect();
    try {
      await check(
        () => c.set(`${p}nr`, 'v'),
        () => c.get(`${p}nr`),
      );
    } finally {
      await c.del(`${p}nr`);
      await c.quit();
    }
  });
});
