import { expect } from 'chai';
import fc from 'fast-check';
import { diag, DiagLogLevel, ValueType, type Attributes, type DiagLogger } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { emptyResource, resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, MeterProvider, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { httpRequestDurationSeconds, httpRequestsTotal, LeanRegistry } from '../src';
import { PrometheusTextSerializer } from '../src/lean';

/** OpenTelemetry's serializer with the settings @vigil/node uses. */
const otel = () => new PrometheusSerializer(undefined, false, undefined, true, true);

const T: [number, number] = [1_700_000_000, 0];

// ---------------------------------------------------------------- arbitrary ResourceMetrics

// Names and texts with what needs escaping or sanitising: quotes, backslashes, newlines,
// characters Prometheus does not allow in names, leading digits, runs of underscores.
const text = fc.oneof(
  fc.constantFrom('', '_', 'a', 'http_requests_total', 'x.y-z', '9lives', 'a__b', 'le', 'quote"d', 'back\\slash', 'new\nline', 'ünï', ' sp ace '),
  fc.string({ maxLength: 12 }),
);
const attrValue = fc.oneof(
  text,
  fc.integer(),
  fc.double({ noNaN: false }),
  fc.boolean(),
  fc.array(fc.oneof(fc.string({ maxLength: 4 }), fc.integer()), { maxLength: 3 }),
);
const attributes: fc.Arbitrary<Attributes> = fc.dictionary(text, attrValue, { maxKeys: 4 });
const number = fc.oneof(fc.integer({ min: -1000, max: 1_000_000 }), fc.double(), fc.constantFrom(0, -0, 0.1, 1e21, Infinity, -Infinity, NaN));

const boundaries: fc.Arbitrary<number[]> = fc.oneof(
  fc.constant(httpRequestDurationSeconds.buckets!.filter((b) => b !== Infinity)),
  fc.uniqueArray(fc.double({ min: -10, max: 1000, noNaN: true }), { maxLength: 5 }).map((b) => b.sort((x, y) => x - y)),
  fc.constant<number[]>([0, 100, Infinity]),
  fc.constant<number[]>([]),
);

function metric(): fc.Arbitrary<MetricData> {
  const descriptor = fc.record({ name: text, description: text, unit: fc.oneof(fc.constantFrom('', 's', 'By', '1'), text) });
  const descriptorOf = (d: { name: string; description: string; unit: string }) => ({ ...d, valueType: ValueType.DOUBLE });
  const point = <V>(value: fc.Arbitrary<V>) => fc.record({ attributes, value }).map((p) => ({ ...p, startTime: T, endTime: T }));
  const sum = fc.record({ d: descriptor, mono: fc.boolean(), points: fc.array(point(number), { maxLength: 4 }) }).map(
    ({ d, mono, points }): MetricData => ({
      descriptor: descriptorOf(d),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: mono,
      dataPoints: points,
    }),
  );
  const gauge = fc.record({ d: descriptor, points: fc.array(point(number), { maxLength: 4 }) }).map(
    ({ d, points }): MetricData => ({ descriptor: descriptorOf(d), aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints: points }),
  );
  const histogram = fc
    .record({ d: descriptor, b: boundaries, n: fc.integer({ min: 0, max: 4 }) })
    .chain(({ d, b, n }) =>
      fc
        .array(
          fc.record({
            attributes,
            counts: fc.array(fc.nat(1000), { minLength: b.length + 1, maxLength: b.length + 1 }),
            sum: fc.option(number, { nil: undefined }),
          }),
          { minLength: n, maxLength: n },
        )
        .map(
          (points): MetricData => ({
            descriptor: descriptorOf(d),
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.HISTOGRAM,
            dataPoints: points.map((p) => ({
              attributes: p.attributes,
              startTime: T,
              endTime: T,
              value: { buckets: { boundaries: b, counts: p.counts }, sum: p.sum, count: p.counts.reduce((a, c) => a + c, 0) },
            })),
          }),
        ),
    );
  return fc.oneof(sum, gauge, histogram);
}

const resourceMetrics: fc.Arbitrary<ResourceMetrics> = fc
  .array(fc.record({ scope: fc.record({ name: fc.constantFrom('a', 'b') }), metrics: fc.array(metric(), { maxLength: 4 }) }), { maxLength: 3 })
  .map((scopeMetrics) => ({ resource: emptyResource(), scopeMetrics }));

/** Collects diag warnings and errors while fn runs. */
function diagnostics(fn: () => void): string[] {
  const seen: string[] = [];
  const logger: DiagLogger = {
    error: (m) => seen.push(`error ${m}`),
    warn: (m) => seen.push(`warn ${m}`),
    info: () => {},
    debug: () => {},
    verbose: () => {},
  };
  diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  try {
    fn();
  } finally {
    diag.disable();
  }
  return seen;
}

describe('PrometheusTextSerializer', () => {
  it('writes the same bytes as OpenTelemetry’s PrometheusSerializer for any metric data, scrape after scrape', () => {
    fc.assert(
      fc.property(resourceMetrics, (rm) => {
        const mine = new PrometheusTextSerializer();
        const theirs = otel();
        let a = '';
        let b = '';
        const warnedA = diagnostics(() => (a = theirs.serialize(rm)));
        const warnedB = diagnostics(() => (b = mine.serialize(rm)));
        expect(b).to.equal(a);
        expect(warnedB.filter((w) => w.startsWith('warn'))).to.deep.equal(warnedA.filter((w) => w.startsWith('warn')));
        // a second scrape of the same data: label text comes from the cache, and a
        // conflict already told is not told again
        const again = diagnostics(() => expect(mine.serialize(rm)).to.equal(a));
        const againTheirs = diagnostics(() => theirs.serialize(rm));
        expect(again.filter((w) => w.startsWith('warn'))).to.deep.equal(againTheirs.filter((w) => w.startsWith('warn')));
      }),
      { numRuns: 400 },
    );
  });

  it('serializeAsync writes the same bytes, and lets the event loop run between slices', async () => {
    await fc.assert(
      fc.asyncProperty(resourceMetrics, async (rm) => {
        const expected = otel().serialize(rm);
        expect(await new PrometheusTextSerializer().serializeAsync(rm)).to.equal(expected);
      }),
      { numRuns: 200 },
    );
    // 3 000 histogram series: with a 0 ms slice, every chunk of data points is followed by a turn of the loop.
    const registry = new LeanRegistry();
    registry.cardinalityLimit = 10_000;
    const duration = registry.histogram(httpRequestDurationSeconds, { name: '@vigil/instrumentation-http' });
    for (let i = 0; i < 3000; i++) duration.record(['GET', `/r${i}`], 0.1);
    const rm: ResourceMetrics = { resource: emptyResource(), scopeMetrics: registry.snapshot() };
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    const text = await new PrometheusTextSerializer().serializeAsync(rm, 0);
    clearInterval(ticker);
    expect(text).to.equal(new PrometheusTextSerializer().serialize(rm));
    expect(text.split('\n').filter((l) => l.startsWith('http_request_duration_seconds_count')).length).to.equal(3000);
    expect(turns, 'timer callbacks that ran while the text was built').to.be.greaterThan(3);
  });

  it('serialises what a running process holds — lean families and SDK instruments — as OTel does, also after the values change', async () => {
    const registry = new LeanRegistry();
    registry.cardinalityLimit = 3; // one family overflows
    const requests = registry.values(httpRequestsTotal, { name: '@vigil/instrumentation-http' });
    const duration = registry.histogram(httpRequestDurationSeconds, { name: '@vigil/instrumentation-http' });
    const reader = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, withoutTargetInfo: true, metricProducers: [registry] });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'svc' }), readers: [reader] });
    const meter = provider.getMeter('app');
    const gauge = meter.createObservableGauge('process_resident_memory_bytes', { unit: 'By', description: 'Resident memory size in bytes' });
    gauge.addCallback((r) => r.observe(123456789));
    const sdkHistogram = meter.createHistogram('gc_seconds', { unit: 's', advice: { explicitBucketBoundaries: [0.001, 0.01] } });
    const mine = new PrometheusTextSerializer();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) requests.add(['GET', `/api/v${i}/users/:id`, String(200 + round), 'user'], i + 1);
      duration.record(['POST', '/api/v1/chat/completions'], 0.2 * (round + 1));
      sdkHistogram.record(0.005 * round, { kind: 'minor' });
      const { resourceMetrics } = await reader.collect();
      const expected = otel().serialize(resourceMetrics);
      expect(mine.serialize(resourceMetrics)).to.equal(expected);
      expect(expected).to.include('http_requests_total{otel_metric_overflow="true"}');
      expect(expected).to.include(`http_request_duration_seconds_count{method="POST",endpoint="/api/v1/chat/completions"} ${round + 1}`);
    }
    await provider.shutdown();
  });

  it('says so when there are no metrics', () => {
    expect(new PrometheusTextSerializer().serialize({ resource: emptyResource(), scopeMetrics: [] })).to.equal('# no registered metrics');
  });
});
