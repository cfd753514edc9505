import { expect } from 'chai';
import { metrics } from '@opentelemetry/api';
import { inProcessMetrics, sampleValue, samplesOf } from '@vigil/testing';
import { createHealth } from '../src';

describe('health_check_status metric', () => {
  it('reports the last result of each check, 1 healthy and 0 not, without running checks on scrape', async () => {
    const m = inProcessMetrics();
    let calls = 0;
    let upstream = true;
    const health = createHealth({
      meterProvider: m.meterProvider,
      minIntervalMs: 0,
      refreshIntervalMs: 0,
      checks: {
        database: async () => (calls++, true),
        ai_services: async () => upstream,
      },
    });
    try {
      // Before the first run there is nothing to report, and a scrape runs nothing.
      expect(samplesOf(await m.scrape(), 'health_check_status')).to.deep.equal([]);
      expect(calls).to.equal(0);

      await health.run();
      let text = await m.scrape();
      expect(text).to.include('# TYPE health_check_status gauge');
      expect(text).to.include('health_check_status{check="database"} 1');
      expect(text).to.include('health_check_status{check="ai_services"} 1');
      expect(text).to.not.include('otel_scope');

      upstream = false;
      await health.run();
      text = await m.scrape();
      expect(sampleValue(text, 'health_check_status', { check: 'database' })).to.equal(1);
      expect(sampleValue(text, 'health_check_status', { check: 'ai_services' })).to.equal(0);
      await m.scrape();
      await m.scrape();
      expect(calls).to.equal(2);
    } finally {
      health.close();
      await m.shutdown();
    }
  });

  it('follows the global MeterProvider registered after createHealth (as with @vigil/node)', async () => {
    const previous = metrics.getMeterProvider();
    metrics.disable();
    const health = createHealth({ checks: { redis: async () => false } });
    const m = inProcessMetrics();
    try {
      expect(metrics.setGlobalMeterProvider(m.meterProvider)).to.equal(true);
      await health.run();
      expect(sampleValue(await m.scrape(), 'health_check_status', { check: 'redis' })).to.equal(0);
    } finally {
      health.close();
      await m.shutdown();
      metrics.disable();
      metrics.setGlobalMeterProvider(previous);
    }
  });

  it('can be switched off', async () => {
    const m = inProcessMetrics();
    const health = createHealth({ meterProvider: m.meterProvider, metrics: false, checks: { database: async () => true } });
    try {
      await health.run();
      expect(samplesOf(await m.scrape(), 'health_check_status')).to.deep.equal([]);
    } finally {
      health.close();
      await m.shutdown();
    }
  });
});
