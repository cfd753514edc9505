import { expect } from 'chai';
import fc from 'fast-check';
import { LeanRegistry, httpRequestDurationSeconds, httpRequestsTotal, type LeanHistogramFamily, type LeanValueFamily } from '@vigil/catalog';
import { ANONYMOUS_ROLE, METHOD_LABELS, USER_ROLE, countedStatus, statusLabel } from '../src/normalise';
import { RequestSeries } from '../src/request-series';

const scope = { name: 'test' };

interface Families {
  requests: LeanValueFamily;
  duration: LeanHistogramFamily;
}

function families(limit: number): Families {
  const r = new LeanRegistry();
  r.cardinalityLimit = limit;
  return { requests: r.values(httpRequestsTotal, scope), duration: r.histogram(httpRequestDurationSeconds, scope) };
}

/** What the families hold, in a comparable form. */
function contents(f: Families): string[] {
  const rows = [
    ...f.requests.series.map((s) => `requests ${JSON.stringify(s.attributes)} ${s.value}`),
    ...f.duration.series.map((s) => `duration ${JSON.stringify(s.attributes)} ${s.count} ${s.sum} ${s.counts.join(',')}`),
  ];
  return rows.sort();
}

type Op = { kind: 'record'; method: number; endpoint: string; status: number; role: string; seconds: number } | { kind: 'clear'; which: 'requests' | 'duration' };

/** Each op through RequestSeries, and the same through the families' own lookup by label values. */
function replay(ops: Op[], limit: number): { cached: string[]; reference: string[]; remembered: number } {
  const cached = families(limit);
  const reference = families(limit);
  const series = new RequestSeries(cached.requests, cached.duration);
  for (const op of ops) {
    if (op.kind === 'clear') {
      cached[op.which].clear();
      reference[op.which].clear();
      continue;
    }
    series.record(op.method, op.endpoint, op.status, op.role, op.seconds);
    const method = METHOD_LABELS[op.method]!;
    reference.requests.get([method, op.endpoint, statusLabel(op.status), op.role]).value++;
    reference.duration.get([method, op.endpoint]).record(op.seconds);
  }
  return { cached: contents(cached), reference: contents(reference), remembered: series.remembered };
}

const record = (method: number, endpoint: string, status: number, role: string, seconds = 0.01): Op => ({ kind: 'record', method, endpoint, status, role, seconds });

describe('RequestSeries: the series of a finished request', () => {
  it('records what the families would by label values, through clear() of either family and past the cardinality limit', () => {
    const op: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 20,
        arbitrary: fc.record({
          kind: fc.constant('record' as const),
          method: fc.integer({ min: 0, max: METHOD_LABELS.length - 1 }),
          endpoint: fc.constantFrom('/', '/users/:id', '/api/v1/chat/completions', 'unmatched', ''),
          status: fc.constantFrom(0, 200, 201, 404, 499, 500),
          role: fc.constantFrom(ANONYMOUS_ROLE, USER_ROLE, 'admin', 'vip', ''),
          seconds: fc.double({ min: 0, max: 20, noNaN: true }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const), which: fc.constantFrom('requests' as const, 'duration' as const) }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), fc.integer({ min: 1, max: 60 }), (ops, limit) => {
        const { cached, reference } = replay(ops, limit);
        expect(cached).to.deep.equal(reference);
      }),
      { numRuns: 300 },
    );
  });

  it('counts every request past the endpoints and roles it remembers', () => {
    const ops: Op[] = [];
    // more roles than it numbers (256) and more endpoints than it keeps (4096), each seen twice
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 300; i++) ops.push(record(0, '/roles', 200, `role-${i}`));
      for (let i = 0; i < 5000; i++) ops.push(record(i % 3, `/e${i}`, 200, ANONYMOUS_ROLE));
    }
    const { cached, reference, remembered } = replay(ops, 100_000);
    expect(cached).to.deep.equal(reference);
    expect(cached.filter((row) => row.startsWith('requests') && row.endsWith(' 2'))).to.have.length(5300);
    // '/roles': the counters of 254 roles (anonymous and user keep 0 and 1) and its histogram; 4,095 more endpoints, two each
    expect(remembered).to.equal(254 + 1 + 4095 * 2);
  });

  it('does not remember the overflow series, so what it keeps is bounded by the cardinality limit', () => {
    const f = families(2);
    const series = new RequestSeries(f.requests, f.duration);
    series.record(0, '/a', 200, ANONYMOUS_ROLE, 0.01);
    series.record(0, '/a', 404, ANONYMOUS_ROLE, 0.01); // the counters' limit: 2 series
    for (let status = 500; status < 600; status++) series.record(0, '/a', status, ANONYMOUS_ROLE, 0.01); // overflow
    series.record(0, '/a', 200, ANONYMOUS_ROLE, 0.01);
    expect(contents(f).filter((row) => row.startsWith('requests'))).to.deep.equal([
      'requests {"method":"GET","endpoint":"/a","status_code":"200","user_role":"anonymous"} 2',
      'requests {"method":"GET","endpoint":"/a","status_code":"404","user_role":"anonymous"} 1',
      'requests {"otel_metric_overflow":"true"} 100',
    ]);
    expect(series.remembered).to.equal(3); // two counters and the histogram
    // new endpoints past the limits: '/b0' gets the histograms' second series, the rest only overflow series
    for (let i = 0; i < 100; i++) series.record(0, `/b${i}`, 200, ANONYMOUS_ROLE, 0.01);
    // a known endpoint with new methods: overflow series for both metrics
    for (let method = 1; method < METHOD_LABELS.length; method++) series.record(method, '/a', 200, ANONYMOUS_ROLE, 0.01);
    expect(series.remembered).to.equal(4);
    expect(contents(f).filter((row) => row.startsWith('duration')).map((row) => row.split(' ').slice(0, 3).join(' '))).to.deep.equal([
      'duration {"method":"GET","endpoint":"/a"} 103',
      'duration {"method":"GET","endpoint":"/b0"} 1',
      'duration {"otel_metric_overflow":"true"} 109',
    ]);
  });

  it('counts statuses as countedStatus() does', () => {
    expect([200, 99, 1000, 200.5, Number.NaN, 999].map(countedStatus)).to.deep.equal([200, 0, 0, 0, 0, 999]);
    const { cached } = replay([record(0, '/', countedStatus(-1), ANONYMOUS_ROLE)], 10);
    expect(cached.filter((row) => row.startsWith('requests'))).to.deep.equal(['requests {"method":"GET","endpoint":"/","status_code":"0","user_role":"anonymous"} 1']);
  });
});
