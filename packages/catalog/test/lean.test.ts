import { expect } from 'chai';
import fc from 'fast-check';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { emptyResource } from '@opentelemetry/resources';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import {
  LeanRegistry,
  cacheOperationsTotal,
  httpConcurrentConnections,
  httpRequestDurationSeconds,
  httpRequestsTotal,
  userCreditsBalance,
} from '../src';

const scope = { name: 'test' };

async function exposition(registry: LeanRegistry): Promise<string> {
  const { resourceMetrics } = await registry.collect();
  return new PrometheusSerializer(undefined, false, undefined, true, true).serialize({ ...resourceMetrics, resource: emptyResource() });
}

describe('lean accumulators', () => {
  it('count by label values and serialize to the documented exposition', async () => {
    const r = new LeanRegistry();
    const requests = r.values(httpRequestsTotal, scope);
    const values = ['GET', '/users/:id', '200', 'anonymous'];
    requests.add(values);
    values[2] = '404'; // a reused scratch array must not change the series already created
    requests.add(values, 2);
    requests.add(['GET', '/users/:id', '200', 'anonymous']);
    const text = await exposition(r);
    expect(text).to.include('# TYPE http_requests_total counter');
    expect(text).to.include('http_requests_total{method="GET",endpoint="/users/:id",status_code="200",user_role="anonymous"} 2');
    expect(text).to.include('http_requests_total{method="GET",endpoint="/users/:id",status_code="404",user_role="anonymous"} 2');
    expect(text).to.not.include('otel_scope');
  });

  it('bucket histograms with le semantics (a value on a bound falls in that bucket)', async () => {
    const r = new LeanRegistry();
    const h = r.histogram(httpRequestDurationSeconds, scope);
    for (const v of [0.01, 0.011, 0.3, 20, NaN]) h.record(['GET', '/'], v);
    const text = await exposition(r);
    expect(text).to.include('http_request_duration_seconds_bucket{method="GET",endpoint="/",le="0.01"} 1');
    expect(text).to.include('http_request_duration_seconds_bucket{method="GET",endpoint="/",le="0.05"} 2');
    expect(text).to.include('http_request_duration_seconds_bucket{method="GET",endpoint="/",le="0.5"} 3');
    expect(text).to.include('http_request_duration_seconds_bucket{method="GET",endpoint="/",le="10"} 3');
    expect(text).to.include('http_request_duration_seconds_bucket{method="GET",endpoint="/",le="+Inf"} 4');
    expect(text).to.include('http_request_duration_seconds_count{method="GET",endpoint="/"} 4');
    expect(text).to.include('http_request_duration_seconds_sum{method="GET",endpoint="/"} 20.321');
  });

  it('keeps a documented +Inf bucket single and shows label-less metrics from the start', async () => {
    const r = new LeanRegistry();
    r.histogram(userCreditsBalance, scope).record([], 7000);
    r.values(httpConcurrentConnections, scope);
    const text = await exposition(r);
    expect(text.match(/user_credits_balance_bucket\{le="\+Inf"\}/g)).to.have.length(1);
    expect(text).to.include('user_credits_balance_bucket{le="5000"} 0');
    expect(text).to.include('http_concurrent_connections 0');
  });

  it('exports an up-down gauge as a non-monotonic sum', async () => {
    const r = new LeanRegistry();
    const g = r.values(httpConcurrentConnections, scope);
    g.add([], 3);
    g.add([], -1);
    const { resourceMetrics } = await r.collect();
    const m = resourceMetrics.scopeMetrics[0]!.metrics.find((x) => x.descriptor.name === 'http_concurrent_connections')!;
    expect(m.dataPointType).to.equal(DataPointType.SUM);
    expect(m.dataPointType === DataPointType.SUM && m.isMonotonic).to.equal(false);
    expect(m.dataPoints[0]!.value).to.equal(2);
    expect(await exposition(r)).to.include('# TYPE http_concurrent_connections gauge\nhttp_concurrent_connections 2');
  });

  it('folds label sets past the cardinality limit into one overflow series, and counts them', async () => {
    const r = new LeanRegistry();
    r.cardinalityLimit = 3;
    const c = r.values(cacheOperationsTotal, scope);
    for (let i = 0; i < 100; i++) c.add([`op${i}`, 'hit']);
    expect(c.series).to.have.length(4);
    const text = await exposition(r);
    expect(text).to.include('cache_operations_total{otel_metric_overflow="true"} 97');
    expect(text).to.include('vigil_metric_overflow_total{metric="cache_operations_total"} 97');
  });

  it('counts the overflows of more families than the limit allows series (the overflow counter is not limited)', async () => {
    const r = new LeanRegistry();
    r.cardinalityLimit = 1;
    const c = r.values(cacheOperationsTotal, scope);
    const h = r.histogram(httpRequestDurationSeconds, scope);
    for (let i = 0; i < 3; i++) {
      c.add([`op${i}`, 'hit']);
      h.record(['GET', `/e${i}`], 0.1);
    }
    const text = await exposition(r);
    expect(text).to.include('vigil_metric_overflow_total{metric="cache_operations_total"} 2');
    expect(text).to.include('vigil_metric_overflow_total{metric="http_request_duration_seconds"} 2');
  });

  it('returns the same family for the same entry', () => {
    const r = new LeanRegistry();
    expect(r.values(httpRequestsTotal, scope)).to.equal(r.values(httpRequestsTotal, scope));
    expect(() => r.values(httpRequestDurationSeconds, scope)).to.throw(/histogram/);
  });
});

describe('lean families: finding series', () => {
  it('find the same series for the same label values and a new one for new values, whatever the order, array reuse or string identity (model check)', async () => {
    const value = fc.constantFrom('GET', 'POST', '/', '/users/:id', '/a', 'b', '200', '404', 'user', 'anonymous', '', 'x'.repeat(40));
    const tuple = fc.tuple(value, value, value, value);
    await fc.assert(
      fc.asyncProperty(fc.array(tuple, { minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 400 }), async (tuples, limit) => {
        const r = new LeanRegistry();
        r.cardinalityLimit = limit;
        const family = r.values(httpRequestsTotal, scope);
        const model = new Map<string, unknown>();
        let overflowed = 0;
        const scratch = ['', '', '', ''];
        for (const t of tuples) {
          // a reused scratch array, and strings that are equal but not the same object
          for (let i = 0; i < 4; i++) scratch[i] = `${t[i]!}`.slice(0);
          const s = family.get(scratch);
          const key = JSON.stringify(t);
          const known = model.get(key);
          if (known !== undefined) {
            expect(s).to.equal(known);
          } else if (model.size < limit) {
            expect([...model.values()]).to.not.include(s);
            expect(s.attributes).to.deep.equal({ method: t[0], endpoint: t[1], status_code: t[2], user_role: t[3] });
            model.set(key, s);
          } else {
            expect(s.attributes).to.deep.equal({ otel_metric_overflow: 'true' });
            overflowed++;
          }
          s.add(1);
        }
        expect(family.series.length).to.equal(model.size + (overflowed > 0 ? 1 : 0));
        // every measurement past the limit is counted
        const text = await exposition(r);
        const counted = /^vigil_metric_overflow_total\{metric="http_requests_total"\} (\d+)$/m.exec(text);
        expect(counted ? Number(counted[1]) : 0).to.equal(overflowed);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps finding every series as the table grows to many thousands, and starts empty after clear()', () => {
    const r = new LeanRegistry();
    r.cardinalityLimit = 100_000;
    const h = r.histogram(httpRequestDurationSeconds, scope);
    const made = [];
    for (let i = 0; i < 20_000; i++) made.push(h.get([i % 2 ? 'GET' : 'POST', `/r/${i}`]));
    for (let i = 0; i < 20_000; i++) expect(h.get([i % 2 ? 'GET' : 'POST', `/r/${i}`])).to.equal(made[i]);
    expect(h.series).to.have.length(20_000);
    h.clear();
    expect(h.series).to.have.length(0);
    const again = h.get(['GET', '/r/1']);
    expect(again).to.not.equal(made[1]);
    expect(h.get(['GET', '/r/1'])).to.equal(again);
    expect(h.series).to.have.length(1);
  });
});
