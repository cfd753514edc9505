import { allEntries } from './entries';
import type { CatalogEntry, Seed } from './types';

const SEED_NAMES: Record<Seed, string> = {
  'gateway-guide': 'gateway guide (000)',
  'business-monitoring': 'business monitoring (004)',
  vigil: 'vigil',
};

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function row(e: CatalogEntry): string {
  const type = e.kind === 'derived' ? 'recording rule' : e.type;
  const labels = e.labels.length ? e.labels.map((l) => `\`${l}\``).join(', ') : '—';
  const buckets = e.kind === 'recorded' && e.buckets ? e.buckets.map((b) => (b === Infinity ? '+Inf' : String(b))).join(', ') : '';
  const detail = [e.help, e.kind === 'derived' ? `\`${e.expr}\`` : '', buckets ? `Buckets: ${buckets}.` : '', e.note ?? '']
    .filter(Boolean)
    .join(' ');
  return `| \`${e.name}\` | ${type} | ${labels} | ${e.seeds.map((s) => SEED_NAMES[s]).join(', ')} | ${cell(detail)} |`;
}

/** The Markdown table of every catalog entry (docs/metrics.md and the README). */
export function renderMetricsTable(): string {
  return [
    '| Metric | Type | Labels | Source | Meaning |',
    '| --- | --- | --- | --- | --- |',
    ...allEntries.map(row),
  ].join('\n');
}
