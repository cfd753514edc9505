// system_info (seed 004 方案1 Info): one series of value 1 whose labels say
// what runs: service name and version, Node.js version, vigil version.
import type { Meter } from '@opentelemetry/api';
import { createObservableGauge, stringSetting, systemInfo } from '@vigil/catalog';
import { nameValue } from './labels';
import { VERSION } from './version';

/** Key/value pairs of OTEL_RESOURCE_ATTRIBUTES (k=v,k2=v2; values percent-decoded). */
export function resourceAttributes(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (process.env.OTEL_RESOURCE_ATTRIBUTES ?? '').split(',')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    let v = part.slice(i + 1).trim();
    try {
      v = decodeURIComponent(v);
    } catch {
      // keep it raw
    }
    if (k) out[k] = v;
  }
  return out;
}

export interface SystemInfoLabels {
  service_name: string;
  service_version: string;
  node_version: string;
  vigil_version: string;
}

export function systemInfoLabels(serviceName?: string, serviceVersion?: string): SystemInfoLabels {
  const attrs = resourceAttributes();
  const name = stringSetting('OTEL_SERVICE_NAME', serviceName, attrs['service.name'] ?? `unknown_service:${process.argv0 || 'node'}`);
  const version = serviceVersion || attrs['service.version'] || process.env.npm_package_version || 'unknown';
  return {
    service_name: nameValue(name, 'unknown_service:node', 128),
    service_version: nameValue(version, 'unknown', 64),
    node_version: process.versions.node,
    vigil_version: VERSION,
  };
}

/** Registers the value-1 system_info series; returns the function that removes it. */
export function registerSystemInfo(meter: Meter, labels: SystemInfoLabels): () => void {
  const gauge = createObservableGauge(meter, systemInfo);
  const cb = (r: { observe(v: number, a: SystemInfoLabels): void }) => r.observe(1, labels);
  gauge.addCallback(cb);
  return () => gauge.removeCallback(cb);
}
