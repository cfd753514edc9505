import type { CatalogEntry } from './types';

// The Prometheus data model's rules (as prom-client enforces them).
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const UNIT_SUFFIX: Record<string, string> = { s: '_seconds', By: '_bytes' };

/** Every problem with the catalog, as readable sentences; empty when it is sound. */
export function validateCatalog(entries: readonly CatalogEntry[]): string[] {
  const problems: string[] = [];
  const names = new Map<string, string>();
  const claim = (name: string, owner: string) => {
    const prior = names.get(name);
    if (prior) problems.push(`${name} is exposed by both ${prior} and ${owner}`);
    else names.set(name, owner);
  };
  for (const e of entries) {
    const p = (msg: string) => problems.push(`${e.name}: ${msg}`);
    if (!METRIC_NAME.test(e.name) || e.name.includes(':')) p('not a valid Prometheus metric name (colons are reserved for rules)');
    if (!e.help.trim()) p('has no help text');
    if (new Set(e.labels).size !== e.labels.length) p('repeats a label key');
    for (const l of e.labels) {
      if (!LABEL_NAME.test(l) || l.startsWith('__')) p(`label "${l}" is not a valid Prometheus label name`);
      if (l === 'le' || l === 'quantile') p(`label "${l}" is reserved for histograms and summaries`);
    }
    if (e.seeds.length === 0) p('names no source');
    if (e.kind === 'derived') {
      claim(e.name, 'a recording rule');
      if (!e.expr.trim()) p('derived entry has no expression');
      continue;
    }
    claim(e.name, 'a recorded metric');
    if (e.type === 'histogram') {
      for (const suffix of ['_bucket', '_sum', '_count']) claim(e.name + suffix, `histogram ${e.name}`);
    }
    const base = e.type === 'counter' ? e.name.replace(/_total$/, '') : e.name;
    if (e.type === 'counter' && !e.name.endsWith('_total')) p('counters must end in _total');
    if (e.type !== 'counter' && e.name.endsWith('_total')) p('only counters may end in _total');
    const suffix = UNIT_SUFFIX[e.unit];
    if (suffix && !base.endsWith(suffix)) p(`unit ${e.unit} needs the base-unit suffix ${suffix}`);
    for (const [unit, sfx] of Object.entries(UNIT_SUFFIX)) {
      if (unit !== e.unit && base.endsWith(sfx)) p(`name ends in ${sfx} but the unit is "${e.unit}"`);
    }
    if (/_(milliseconds|ms|kb|mb|minutes|hours)(_|$)/.test(e.name)) p('use base units (seconds, bytes)');
    if (e.type === 'histogram') {
      const b = e.buckets ?? [];
      if (b.length === 0) p('histogram without buckets');
      for (let i = 1; i < b.length; i++) if (!(b[i]! > b[i - 1]!)) p('buckets must be strictly increasing');
    } else if (e.buckets) p('only histograms have buckets');
    if (e.upDown && e.type !== 'gauge') p('only gauges can be up-down');
  }
  return problems;
}
