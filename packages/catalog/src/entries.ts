import * as metrics from './metrics';
import type { CatalogEntry, DerivedEntry, RecordedEntry } from './types';

/** Every entry of the catalog, in definition order. */
export const allEntries: readonly CatalogEntry[] = Object.freeze(Object.values(metrics));

/** The metrics recorded in-process. */
export const recordedEntries: readonly RecordedEntry[] = allEntries.filter((e): e is RecordedEntry => e.kind === 'recorded');

/** The derived indicators served as Prometheus recording rules. */
export const derivedEntries: readonly DerivedEntry[] = allEntries.filter((e): e is DerivedEntry => e.kind === 'derived');

/** The entry exposed under a Prometheus name (a histogram's _bucket/_sum/_count resolve to the histogram). */
export function findEntry(prometheusName: string): CatalogEntry | undefined {
  for (const e of allEntries) {
    if (e.name === prometheusName) return e;
    if (e.kind === 'recorded' && e.type === 'histogram' && /^(.*)_(bucket|sum|count)$/.exec(prometheusName)?.[1] === e.name) return e;
  }
  return undefined;
}
