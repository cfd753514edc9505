import { inProcessMetrics, type InProcessMetrics } from '@vigil/testing';
import { createGatewayMetrics, type GatewayMetrics, type GatewayMetricsOptions } from '../src/index';

/** The sample lines of one metric family (name, name_bucket/_sum/_count), in exposition order. */
export function lines(text: string, name: string): string[] {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('#') && /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)?.[0]?.replace(/_(bucket|sum|count)$/, '') === name);
}

/** Histogram lines without the sum and the finite buckets (which depend on timing). */
export function histogramCounts(text: string, name: string): string[] {
  return lines(text, name).filter((l) => l.startsWith(`${name}_count`) || l.includes('le="+Inf"'));
}

/** The le values of a histogram's first series. */
export function bucketBounds(text: string, name: string): string[] {
  const first = lines(text, `${name}`).find((l) => l.startsWith(`${name}_bucket`));
  if (!first) return [];
  const labels = first.replace(/,?le="[^"]*"/, '').replace(/^[^{]*/, '');
  return lines(text, name)
    .filter((l) => l.startsWith(`${name}_bucket`) && l.replace(/,?le="[^"]*"/, '').replace(/^[^{]*/, '').replace(/ \S+$/, '') === labels.replace(/ \S+$/, ''))
    .map((l) => /le="([^"]*)"/.exec(l)![1]!);
}

export interface Rig {
  m: InProcessMetrics;
  gw: GatewayMetrics;
  scrape(): Promise<string>;
  close(): Promise<void>;
}

export function rig(options: GatewayMetricsOptions = {}): Rig {
  const m = inProcessMetrics();
  const gw = createGatewayMetrics({ meterProvider: m.meterProvider, siteId: 'test', ...options });
  return {
    m,
    gw,
    scrape: () => m.scrape(),
    async close() {
      gw.shutdown();
      await m.shutdown();
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Labels of channel 1 / gpt-4o on site "test", in the catalog's order, for building expected lines. */
export const CH1 = 'channel_id="1",channel_name="openai-main",channel_type="openai"';
export const META1 = { channelId: 1, channelName: 'openai-main', channelType: 'openai' } as const;
