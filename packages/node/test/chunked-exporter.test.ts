// OTLP exports in pieces: what each piece carries, and that together they carry the export.
import { expect } from 'chai';
import fc from 'fast-check';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { MetricData, PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { ChunkedExporter, splitExport } from '../src/chunked-exporter';

/** An export of `shape[s][m]` points in metric m of scope s; each point names where it came from. */
function exportOf(shape: number[][]): ResourceMetrics {
  return {
    resource: { attributes: { 'service.name': 'x' } } as unknown as ResourceMetrics['resource'],
    scopeMetrics: shape.map((metrics, s) => ({
      scope: { name: `scope${s}` },
      metrics: metrics.map((n, m) => ({ descriptor: { name: `m${s}.${m}` }, dataPoints: Array.from({ length: n }, (_, p) => ({ p })) }) as unknown as MetricData),
    })),
  };
}

/** Every point as scope/metric/point, and every metric without points as scope/metric. */
function flatten(pieces: ResourceMetrics[]): string[] {
  const out: string[] = [];
  for (const rm of pieces)
    for (const sm of rm.scopeMetrics)
      for (const m of sm.metrics) {
        if (m.dataPoints.length === 0) out.push(`${sm.scope.name}/${m.descriptor.name}`);
        for (const dp of m.dataPoints) out.push(`${sm.scope.name}/${m.descriptor.name}/${(dp as unknown as { p: number }).p}`);
      }
  return out;
}

const count = (rm: ResourceMetrics) => rm.scopeMetrics.reduce((n, sm) => n + sm.metrics.reduce((k, m) => k + m.dataPoints.length, 0), 0);

describe('splitExport: an OTLP export in pieces of at most N data points', () => {
  it('keeps every point and empty metric, in order, with its scope, metric and the resource; no piece over N or empty', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.nat(40), { maxLength: 6 }), { maxLength: 5 }), fc.integer({ min: 1, max: 50 }), (shape, max) => {
        const whole = exportOf(shape);
        const pieces = splitExport(whole, max);
        expect(flatten(pieces)).to.deep.equal(flatten([whole]));
        for (const piece of pieces) {
          expect(piece.resource).to.equal(whole.resource);
          expect(count(piece)).to.be.at.most(max);
        }
        const total = count(whole);
        if (total > 0) {
          expect(pieces.every((p) => count(p) > 0)).to.equal(true);
          expect(pieces.length).to.equal(Math.max(1, Math.ceil(total / max)));
        }
      }),
    );
  });

  it('an export that fits is sent as it is; one without scopes is one piece, itself', () => {
    const small = exportOf([[3, 2]]);
    expect(splitExport(small, 10)).to.have.length(1);
    expect(flatten(splitExport(small, 10))).to.deep.equal(flatten([small]));
    const empty = exportOf([]);
    expect(splitExport(empty, 10)).to.deep.equal([empty]);
  });
});

describe('ChunkedExporter', () => {
  const inner = (answer: (i: number) => ExportResult, seen: ResourceMetrics[]): PushMetricExporter => ({
    export: (m, cb) => {
      seen.push(m);
      setTimeout(() => cb(answer(seen.length - 1)), 1);
    },
    forceFlush: async () => {},
    shutdown: async () => {},
  });
  const run = (exporter: PushMetricExporter, m: ResourceMetrics) => new Promise<ExportResult>((resolve) => exporter.export(m, resolve));

  it('sends the pieces one after another and succeeds when all did', async () => {
    const seen: ResourceMetrics[] = [];
    const result = await run(new ChunkedExporter(inner(() => ({ code: ExportResultCode.SUCCESS }), seen), Infinity, 10), exportOf([[25, 7]]));
    expect(result.code).to.equal(ExportResultCode.SUCCESS);
    expect(seen.map(count)).to.deep.equal([10, 10, 10, 2]);
  });

  it('stops at the first failed piece and fails the export with its error', async () => {
    const seen: ResourceMetrics[] = [];
    const error = new Error('503');
    const result = await run(
      new ChunkedExporter(inner((i) => (i === 1 ? { code: ExportResultCode.FAILED, error } : { code: ExportResultCode.SUCCESS }), seen), Infinity, 10),
      exportOf([[40]]),
    );
    expect(result).to.deep.equal({ code: ExportResultCode.FAILED, error });
    expect(seen).to.have.length(2);
  });

  it('past its budget it sends no further piece and fails the export', async () => {
    const seen: ResourceMetrics[] = [];
    const slow: PushMetricExporter = {
      export: (m, cb) => {
        seen.push(m);
        setTimeout(() => cb({ code: ExportResultCode.SUCCESS }), 30);
      },
      forceFlush: async () => {},
      shutdown: async () => {},
    };
    const result = await run(new ChunkedExporter(slow, 50, 10), exportOf([[100]]));
    expect(result.code).to.equal(ExportResultCode.FAILED);
    expect(result.error?.message).to.match(/^2 of 10 requests took more than 50 ms/);
    expect(seen).to.have.length(2);
  });

  it('an exporter that throws fails the export instead of throwing', async () => {
    const throwing: PushMetricExporter = { export: () => { throw new Error('boom'); }, forceFlush: async () => {}, shutdown: async () => {} };
    const result = await run(new ChunkedExporter(throwing, Infinity, 10), exportOf([[5]]));
    expect(result.code).to.equal(ExportResultCode.FAILED);
    expect(result.error?.message).to.equal('boom');
  });
});
