import { inProcessMetrics, type InProcessMetrics } from '@vigil/testing';
import { createBusinessMetrics, type BusinessMetrics, type BusinessMetricsOptions } from '../src/index';

/** The sample lines of one metric family (name, name_bucket/_sum/_count), in exposition order. */
export function lines(text: string, name: string): string[] {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('#') && /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)?.[0]?.replace(/_(bucket|sum|count)$/, '') === name);
}

/** Every sample line of a histogram family with the sum left out (durations vary). */
export function histogramLines(text: string, name: string): string[] {
  return lines(text, name).filter((l) => !l.startsWith(`${name}_sum`));
}

export interface Rig {
  m: InProcessMetrics;
  b: BusinessMetrics;
  scrape(): Promise<string>;
  close(): Promise<void>;
}

/** A BusinessMetrics on its own in-process meter provider. */
export function rig(options: BusinessMetricsOptions = {}): Rig {
  const m = inProcessMetrics();
  const b = createBusinessMetrics({ systemInfo: false, meterProvider: m.meterProvider, ...options });
  return {
    m,
    b,
    scrape: () => m.scrape(),
    async close() {
      await b.shutdown();
      await m.shutdown();
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
