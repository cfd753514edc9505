import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { registerInstrumentations, type Instrumentation } from '@opentelemetry/instrumentation';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { leanRegistry, type LeanRegistry } from '@vigil/catalog';

export interface InProcessMetrics {
  meterProvider: MeterProvider;
  /** The Prometheus text a scrape would return now (meters plus vigil's lean registry). */
  scrape(): Promise<string>;
  shutdown(): Promise<void>;
}

/** The text format of the exporter's scrape (no scope info, no target_info), as vigil serves it. */
const serializer = new PrometheusSerializer(undefined, false, undefined, true, true);

/**
 * Wires instrumentations to an in-process MeterProvider and Prometheus exporter, the way
 * @vigil/node does, for package tests that run without the preload.
 */
export function inProcessMetrics(instrumentations: Instrumentation[] = []): InProcessMetrics {
  const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, withoutTargetInfo: true, metricProducers: [leanRegistry()] });
  const meterProvider = new MeterProvider({ readers: [exporter] });
  const unregister = registerInstrumentations({ instrumentations, meterProvider });
  return {
    meterProvider,
    async scrape() {
      const { resourceMetrics } = await exporter.collect();
      return serializer.serialize(resourceMetrics);
    },
    async shutdown() {
      unregister();
      await meterProvider.shutdown();
    },
  };
}

/** The Prometheus text of one lean registry alone (a test's own, with a limit of its own). */
export async function registryText(registry: LeanRegistry): Promise<string> {
  const { resourceMetrics } = await registry.collect();
  return serializer.serialize(resourceMetrics);
}
