// @vigil/node runs the upstream OpenTelemetry ioredis and redis instrumentations for
// traces next to this one; they wrap some of the same methods. Whichever patches
// first, both must keep working: vigil's counts exact, and their spans recorded.
import { expect } from 'chai';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { RedisInstrumentation as OtelRedisInstrumentation } from '@opentelemetry/instrumentation-redis';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { inProcessMetrics, redisUrl, requireServices, type InProcessMetrics } from '@vigil/testing';
import type * as IoRedisModule from 'ioredis';
import type * as NodeRedisModule from 'redis';
import { RedisInstrumentation } from '../src';
import { counts, delta, freshRequire, uniquePrefix } from './helpers';

for (const order of ['vigil patches first', 'OpenTelemetry patches first'] as const) {
  describe(`@vigil/instrumentation-redis next to the OpenTelemetry ioredis and redis trace instrumentations (${order})`, function () {
    let vigil: RedisInstrumentation;
    let otel: Array<IORedisInstrumentation | OtelRedisInstrumentation>;
    let metrics: InProcessMetrics;
    let spans: InMemorySpanExporter;
    let io: typeof IoRedisModule;
    let nr: typeof NodeRedisModule;

    before(async function () {
      await requireServices('redis');
      spans = new InMemorySpanExporter();
      const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] });
      // Construction order is hook order: the later one wraps the earlier one's wrapper.
      const makeOtel = () => [new IORedisInstrumentation({ requireParentSpan: false }), new OtelRedisInstrumentation({ requireParentSpan: false })];
      if (order === 'vigil patches first') {
        vigil = new RedisInstrumentation({ memoryMetrics: false });
        otel = makeOtel();
      } else {
        otel = makeOtel();
        vigil = new RedisInstrumentation({ memoryMetrics: false });
      }
      for (const o of otel) o.setTracerProvider(tracerProvider);
      metrics = inProcessMetrics([vigil]);
      io = freshRequire<typeof IoRedisModule>('ioredis');
      nr = freshRequire<typeof NodeRedisModule>('redis');
    });

    after(async function () {
      for (const o of otel ?? []) o.disable();
      await metrics?.shutdown();
    });

    it('counts every command once and leaves the spans to the trace instrumentations', async function () {
      const p = uniquePrefix('coexist');
      const r = new io.Redis(redisUrl());
      const c = await nr.createClient({ url: redisUrl() }).connect();
      try {
        await r.set(`${p}k`, 'v');
        spans.reset();
        const before = await metrics.scrape();
        expect(await r.get(`${p}k`)).to.equal('v');
        expect(await r.get(`${p}none`)).to.equal(null);
        expect(await r.pipeline().get(`${p}k`).get(`${p}none`).exec()).to.deep.equal([
          [null, 'v'],
          [null, null],
        ]);
        expect(await c.get(`${p}k`)).to.equal('v');
        expect(await c.mGet([`${p}k`, `${p}none`])).to.deep.equal(['v', null]);
        const d = delta(before, await metrics.scrape());
        expect(counts(d)).to.deep.equal({ 'get/hit': 3, 'get/miss': 2, 'mget/hit': 1, 'mget/miss': 1 });

        const names = spans.getFinishedSpans().map((s) => s.name.toLowerCase());
        // ioredis: one span per command, the pipeline's included; node-redis: one per command.
        expect(names.filter((n) => n === 'get'), `spans: ${names.join(', ')}`).to.have.length(4);
        expect(names.filter((n) => n === 'redis-get'), `spans: ${names.join(', ')}`).to.have.length(1);
        expect(names.filter((n) => n === 'redis-mget'), `spans: ${names.join(', ')}`).to.have.length(1);
      } finally {
        await r.del(`${p}k`);
        await r.quit();
        await c.quit();
      }
    });
  });
}
