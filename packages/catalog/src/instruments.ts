// Typed helpers that create OpenTelemetry instruments from catalog entries, for
// the low-frequency metrics (business, gateway, pool and runtime gauges).
// Label keys are checked by the compiler through AttributesOf<entry>.
import type {
  Counter,
  Histogram,
  Meter,
  ObservableCounter,
  ObservableGauge,
  ObservableUpDownCounter,
  UpDownCounter,
} from '@opentelemetry/api';
import type { AttributesOf, RecordedEntry } from './types';

function options(entry: RecordedEntry) {
  const buckets = entry.buckets?.filter((b) => b !== Infinity);
  return {
    description: entry.help,
    unit: entry.unit,
    ...(buckets ? { advice: { explicitBucketBoundaries: buckets } } : {}),
  };
}

function expect(entry: RecordedEntry, type: RecordedEntry['type'], upDown = false): void {
  if (entry.type !== type || !!entry.upDown !== upDown) {
    throw new TypeError(`catalog entry ${entry.name} is a ${entry.upDown ? 'up-down ' : ''}${entry.type}`);
  }
}

export function createCounter<E extends RecordedEntry>(meter: Meter, entry: E): Counter<AttributesOf<E>> {
  expect(entry, 'counter');
  return meter.createCounter<AttributesOf<E>>(entry.name, options(entry));
}

export function createHistogram<E extends RecordedEntry>(meter: Meter, entry: E): Histogram<AttributesOf<E>> {
  expect(entry, 'histogram');
  return meter.createHistogram<AttributesOf<E>>(entry.name, options(entry));
}

/** For gauges that go up and down by deltas (requests in flight). */
export function createUpDownCounter<E extends RecordedEntry>(meter: Meter, entry: E): UpDownCounter<AttributesOf<E>> {
  expect(entry, 'gauge', true);
  return meter.createUpDownCounter<AttributesOf<E>>(entry.name, options(entry));
}

/** For gauges read at collection time (pool sizes, memory, distinct users). */
export function createObservableGauge<E extends RecordedEntry>(meter: Meter, entry: E): ObservableGauge<AttributesOf<E>> {
  expect(entry, 'gauge');
  return meter.createObservableGauge<AttributesOf<E>>(entry.name, options(entry));
}

/** For up-down gauges read at collection time. */
export function createObservableUpDownCounter<E extends RecordedEntry>(
  meter: Meter,
  entry: E,
): ObservableUpDownCounter<AttributesOf<E>> {
  expect(entry, 'gauge', true);
  return meter.createObservableUpDownCounter<AttributesOf<E>>(entry.name, options(entry));
}

/** For counters read at collection time (CPU seconds). */
export function createObservableCounter<E extends RecordedEntry>(meter: Meter, entry: E): ObservableCounter<AttributesOf<E>> {
  expect(entry, 'counter');
  return meter.createObservableCounter<AttributesOf<E>>(entry.name, options(entry));
}
