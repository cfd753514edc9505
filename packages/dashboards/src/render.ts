import { businessDashboard } from './business';
import { gatewayDashboard } from './gateway';
import { serviceDashboard } from './service';
import type { DashboardJson } from './types';

/** Every dashboard, by the file name it is provisioned from (grafana/dashboards/<name>). */
export function renderDashboards(): Record<string, DashboardJson> {
  return {
    'ai-gateway.json': gatewayDashboard(),
    'business.json': businessDashboard(),
    'service.json': serviceDashboard(),
  };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** The file text of a dashboard: keys sorted at every level, two-space indent, trailing newline. */
export function serializeDashboard(d: DashboardJson): string {
  return `${JSON.stringify(sortKeys(d), null, 2)}\n`;
}
