import type { RecordedEntry } from '@vigil/catalog/metrics';

/** What the relay's exposition needs from a catalog entry. */
type RelayMetricEntry<L extends string> = Pick<RecordedEntry<L>, 'name' | 'help' | 'type' | 'labels'>;

/** Prometheus text exposition format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A label value inside double quotes: backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and line feed escaped. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

interface Series<L extends string> {
  labels: Record<L, string>;
  value: number;
}

/** A metric family whose series are kept in memory (counters). */
export class Family<L extends string> {
  private readonly series = new Map<string, Series<L>>();
  constructor(readonly entry: RelayMetricEntry<L>) {}

  inc(labels: Record<L, string>, by = 1): void {
    this.get(labels).value += by;
  }

  set(labels: Record<L, string>, value: number): void {
    this.get(labels).value = value;
  }

  /** Creates the series with 0 if it does not exist (so rate() sees the first increment). */
  touch(labels: Record<L, string>): void {
    this.get(labels);
  }

  value(labels: Record<L, string>): number {
    return this.series.get(this.key(labels))?.value ?? 0;
  }

  render(): string {
    return renderFamily(this.entry, [...this.series.values()]);
  }

  private get(labels: Record<L, string>): Series<L> {
    const key = this.key(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels: { ...labels }, value: 0 };
      this.series.set(key, s);
    }
    return s;
  }

  private key(labels: Record<L, string>): string {
    return this.entry.labels.map((l) => labels[l]).join('\u0000');
  }
}

export function renderFamily<L extends string>(entry: RelayMetricEntry<L>, series: Series<L>[]): string {
  const out = [`# HELP ${entry.name} ${escapeHelp(entry.help)}`, `# TYPE ${entry.name} ${entry.type}`];
  for (const s of series) {
    const labels = entry.labels.map((l) => `${l}="${escapeLabelValue(s.labels[l] ?? '')}"`).join(',');
    out.push(`${entry.name}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}`);
  }
  return out.join('\n') + '\n';
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
