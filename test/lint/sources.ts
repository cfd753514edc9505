import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { allEntries, derivedEntries, findEntry, OVERFLOW_ATTRIBUTE } from '@vigil/catalog';
import { analyze, type LabelSet, type MetricResolver, type Resolution } from './analyzer';

// Where the PromQL of the repository lives, read as it is at test time:
// grafana/dashboards/*.json, prometheus/alerts/*.yml, prometheus/rules/*.yml, the
// catalog's derived indicators and the ```promql blocks of docs/runbook.md.

export const ROOT = resolve(__dirname, '..', '..', '..');

/** One PromQL expression of the repository and where it is written. */
export interface Expression {
  /** Repository-relative file ('packages/catalog/src/metrics.ts' for derived catalog entries). */
  readonly file: string;
  /** Where in the file: 'panel "Requests" query A', 'alert HighErrorRate', 'record cache_hit_rate', ... */
  readonly where: string;
  /** The expression as written. */
  readonly expr: string;
  /** The expression handed to the parser (Grafana variables replaced by dummy values). */
  readonly promql: string;
  /** Labels templates read from the result: a legend, an alert's annotations and labels. */
  readonly templates: ReadonlyArray<{ readonly what: string; readonly text: string; readonly kind: 'legend' | 'alert' }>;
  /** A Grafana `label_values(selector, label)` variable: the label that must be on the selector. */
  readonly labelValuesOf?: string;
  /** Problems found while reading the source (undefined variables, unreadable queries). */
  readonly sourceIssues: readonly string[];
}

/** A recording rule defined in prometheus/rules/*.yml or prometheus/alerts/*.yml. */
export interface RecordingRule {
  readonly file: string;
  readonly record: string;
  readonly expr: string;
  readonly labels: readonly string[];
}

function rel(path: string): string {
  return relative(ROOT, path);
}

function listFiles(dir: string, ext: RegExp): string[] {
  const abs = join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs)
    .filter((f) => ext.test(f))
    .sort()
    .map((f) => join(abs, f));
}

// ---------------------------------------------------------------- Grafana

/** Grafana's global variables: durations in ranges, numbers elsewhere. */
const GRAFANA_DURATIONS = new Set(['__rate_interval', '__interval', '__range', '__auto']);
const GRAFANA_NUMBERS = new Set(['__interval_ms', '__range_ms', '__range_s', '__from', '__to']);

/**
 * Replaces Grafana template variables ($var, ${var}, ${var:fmt}, [[var]]) with values
 * that parse where they stand: a duration for $__rate_interval and friends, "dummy"
 * for dashboard variables (they are used inside label matcher strings). Reports
 * variables the dashboard does not define.
 */
export function substituteVariables(expr: string, defined: ReadonlySet<string>): { promql: string; issues: string[] } {
  const issues: string[] = [];
  const promql = expr.replace(/\$\{([a-zA-Z_]\w*)(?::[^}]*)?\}|\$([a-zA-Z_]\w*)|\[\[([a-zA-Z_]\w*)(?::[^\]]*)?\]\]/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    if (GRAFANA_DURATIONS.has(name)) return '5m';
    if (GRAFANA_NUMBERS.has(name)) return '300';
    if (defined.has(name)) return 'dummy';
    issues.push(`uses ${whole}, which is neither a variable of the dashboard nor a Grafana global`);
    return 'dummy';
  });
  return { promql, issues };
}

interface GrafanaTarget {
  expr?: string;
  refId?: string;
  legendFormat?: string;
  format?: string;
  datasource?: { type?: string };
}
interface GrafanaPanel {
  type?: string;
  title?: string;
  datasource?: { type?: string };
  targets?: GrafanaTarget[];
  panels?: GrafanaPanel[];
}
interface GrafanaVariable {
  type?: string;
  name?: string;
  query?: string | { query?: string };
  datasource?: { type?: string };
}

const LABEL_VALUES = /^\s*label_values\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/s;
const QUERY_RESULT = /^\s*query_result\((.+)\)\s*$/s;

export function dashboardExpressions(): Expression[] {
  const out: Expression[] = [];
  for (const path of listFiles('grafana/dashboards', /\.json$/)) {
    const file = rel(path);
    const d = JSON.parse(readFileSync(path, 'utf8')) as { panels?: GrafanaPanel[]; templating?: { list?: GrafanaVariable[] } };
    const variables = d.templating?.list ?? [];
    const defined = new Set(variables.map((v) => v.name ?? ''));
    for (const v of variables) {
      if (v.type !== 'query') continue;
      const query = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
      const where = `variable $${v.name}`;
      const lv = LABEL_VALUES.exec(query);
      const qr = QUERY_RESULT.exec(query);
      if (lv) {
        if (!lv[1]) {
          out.push({ file, where, expr: query, promql: '', templates: [], labelValuesOf: lv[2], sourceIssues: [] });
          continue;
        }
        const { promql, issues } = substituteVariables(lv[1], defined);
        out.push({ file, where, expr: lv[1], promql, templates: [], labelValuesOf: lv[2], sourceIssues: issues });
      } else if (qr) {
        const { promql, issues } = substituteVariables(qr[1]!, defined);
        out.push({ file, where, expr: qr[1]!, promql, templates: [], sourceIssues: issues });
      } else {
        out.push({ file, where, expr: query, promql: '', templates: [], sourceIssues: [`variable query ${JSON.stringify(query)} is neither label_values(...) nor query_result(...)`] });
      }
    }
    const walk = (panels: GrafanaPanel[]) => {
      for (const p of panels) {
        if (p.panels) walk(p.panels);
        for (const t of p.targets ?? []) {
          const type = t.datasource?.type ?? p.datasource?.type;
          if (type !== 'prometheus' || t.expr === undefined) continue;
          const where = `panel "${p.title}" query ${t.refId}`;
          const { promql, issues } = substituteVariables(t.expr, defined);
          const templates = t.legendFormat && t.format !== 'table' ? [{ what: `legend ${JSON.stringify(t.legendFormat)}`, text: t.legendFormat, kind: 'legend' as const }] : [];
          out.push({ file, where, expr: t.expr, promql, templates, sourceIssues: issues });
        }
      }
    };
    walk(d.panels ?? []);
  }
  return out;
}

// ---------------------------------------------------------------- Prometheus rule files

interface RuleYaml {
  record?: string;
  alert?: string;
  expr?: string | number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function ruleFiles(): string[] {
  return [...listFiles('prometheus/alerts', /\.ya?ml$/), ...listFiles('prometheus/rules', /\.ya?ml$/)];
}

function rulesOf(path: string): RuleYaml[] {
  const doc = parseYaml(readFileSync(path, 'utf8')) as { groups?: Array<{ rules?: RuleYaml[] }> } | null;
  return (doc?.groups ?? []).flatMap((g) => g.rules ?? []);
}

export function ruleExpressions(): Expression[] {
  const out: Expression[] = [];
  for (const path of ruleFiles()) {
    const file = rel(path);
    for (const r of rulesOf(path)) {
      const expr = String(r.expr ?? '');
      if (r.alert) {
        const templates = [
          ...Object.entries(r.annotations ?? {}).map(([k, text]) => ({ what: `annotation ${k}`, text, kind: 'alert' as const })),
          ...Object.entries(r.labels ?? {}).map(([k, text]) => ({ what: `label ${k}`, text, kind: 'alert' as const })),
        ];
        out.push({ file, where: `alert ${r.alert}`, expr, promql: expr, templates, sourceIssues: [] });
      } else if (r.record) {
        out.push({ file, where: `record ${r.record}`, expr, promql: expr, templates: [], sourceIssues: [] });
      }
    }
  }
  return out;
}

export function recordingRules(): RecordingRule[] {
  return ruleFiles().flatMap((path) =>
    rulesOf(path)
      .filter((r) => r.record)
      .map((r) => ({ file: rel(path), record: r.record!, expr: String(r.expr ?? ''), labels: Object.keys(r.labels ?? {}) })),
  );
}

export function catalogExpressions(): Expression[] {
  return derivedEntries.map((e) => ({
    file: 'packages/catalog/src/metrics.ts',
    where: `derived ${e.name}`,
    expr: e.expr,
    promql: e.expr,
    templates: [],
    sourceIssues: [],
  }));
}

// ---------------------------------------------------------------- Markdown (docs/runbook.md)

/** A PromQL query of a ```promql block, with the level-2 section (`## ...`) it is in. */
export interface MarkdownQuery {
  /** The heading of the `## ` section ('' before the first one). */
  readonly section: string;
  /** The query, continuation lines joined with a space. */
  readonly query: string;
}

/**
 * The queries of every ```promql block of a Markdown text: one query per line,
 * a line that starts with whitespace continues the query above it, blank lines
 * and # comments are skipped.
 */
export function markdownQueries(text: string): MarkdownQuery[] {
  const out: MarkdownQuery[] = [];
  let section = '';
  let inBlock = false;
  let current: { section: string; query: string } | undefined;
  const flush = () => {
    if (current) out.push(current);
    current = undefined;
  };
  for (const line of text.split('\n')) {
    if (!inBlock) {
      if (line.startsWith('## ')) section = line.slice(3).trim();
      else if (/^```promql\s*$/.test(line)) inBlock = true;
      continue;
    }
    if (/^```\s*$/.test(line)) {
      flush();
      inBlock = false;
      continue;
    }
    if (!line.trim() || line.trim().startsWith('#')) continue;
    if (/^\s/.test(line) && current) current.query += ` ${line.trim()}`;
    else {
      flush();
      current = { section, query: line.trim() };
    }
  }
  return out;
}

export const RUNBOOK = 'docs/runbook.md';

/** The PromQL of docs/runbook.md's ```promql blocks (each alert's **Check.** queries). */
export function runbookExpressions(): Expression[] {
  const path = join(ROOT, RUNBOOK);
  if (!existsSync(path)) return [];
  const counts = new Map<string, number>();
  return markdownQueries(readFileSync(path, 'utf8')).map(({ section, query }) => {
    const n = (counts.get(section) ?? 0) + 1;
    counts.set(section, n);
    return { file: RUNBOOK, where: `section "${section}" query ${n}`, expr: query, promql: query, templates: [], sourceIssues: [] };
  });
}

// ---------------------------------------------------------------- Prometheus scrape config

/** job, instance and the labels prometheus/prometheus.yml attaches to targets. */
export function targetLabels(): Set<string> {
  const labels = new Set(['job', 'instance']);
  const path = join(ROOT, 'prometheus', 'prometheus.yml');
  if (!existsSync(path)) return labels;
  type Relabel = { target_label?: string };
  const doc = parseYaml(readFileSync(path, 'utf8')) as {
    scrape_configs?: Array<{ static_configs?: Array<{ labels?: Record<string, string> }>; relabel_configs?: Relabel[]; metric_relabel_configs?: Relabel[] }>;
  } | null;
  for (const sc of doc?.scrape_configs ?? []) {
    for (const s of sc.static_configs ?? []) for (const l of Object.keys(s.labels ?? {})) labels.add(l);
    for (const r of [...(sc.relabel_configs ?? []), ...(sc.metric_relabel_configs ?? [])]) {
      if (r.target_label && !r.target_label.startsWith('__')) labels.add(r.target_label);
    }
  }
  return labels;
}

// ---------------------------------------------------------------- The resolver

/** Series Prometheus itself writes for every target. */
const SCRAPE_SERIES = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added'];

/**
 * Metric names the repository may query: the catalog (histograms as _bucket/_sum/_count,
 * derived entries as the recording rules they are), the recording rules of
 * prometheus/rules (labels inferred from their expressions plus their static labels),
 * Prometheus' scrape series and ALERTS.
 */
export function repositoryResolver(rules: readonly RecordingRule[] = recordingRules(), target: ReadonlySet<string> = targetLabels()): MetricResolver {
  const byName = new Map<string, RecordingRule[]>();
  for (const r of rules) byName.set(r.record, [...(byName.get(r.record) ?? []), r]);
  const inferred = new Map<string, LabelSet>();
  const inProgress = new Set<string>();

  const resolver: MetricResolver = {
    resolve(name: string): Resolution {
      const defs = byName.get(name);
      if (defs) return { labels: ruleLabels(name, defs) };
      const e = findEntry(name);
      if (e) {
        if (e.kind === 'derived') return { labels: new Set(e.labels) };
        // Every recorded metric may have its overflow series (otel_metric_overflow="true").
        const own = new Set<string>([...e.labels, ...target, OVERFLOW_ATTRIBUTE]);
        if (e.type !== 'histogram') return { labels: own };
        if (name === e.name) return { error: `${name} is a histogram: it has no series of its own; read ${name}_bucket, ${name}_sum or ${name}_count` };
        if (name.endsWith('_bucket')) own.add('le');
        return { labels: own };
      }
      if (SCRAPE_SERIES.includes(name)) return { labels: new Set(target) };
      if (name === 'ALERTS' || name === 'ALERTS_FOR_STATE') return { labels: 'unknown' };
      return { error: `unknown metric "${name}": not in @vigil/catalog, not a recording rule of prometheus/rules, not a Prometheus scrape series` };
    },
    names(): string[] {
      const names = new Set<string>([...byName.keys(), ...SCRAPE_SERIES, 'ALERTS', 'ALERTS_FOR_STATE']);
      for (const e of allEntries) {
        if (e.kind === 'recorded' && e.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(e.name + s);
        else names.add(e.name);
      }
      return [...names];
    },
  };

  function ruleLabels(name: string, defs: readonly RecordingRule[]): LabelSet {
    const known = inferred.get(name);
    if (known) return known;
    if (inProgress.has(name)) return 'unknown';
    inProgress.add(name);
    let labels: LabelSet = new Set();
    for (const d of defs) {
      const a = analyze(d.expr, resolver);
      if (a.shape.labels === 'unknown' || labels === 'unknown') labels = 'unknown';
      else labels = new Set([...labels, ...a.shape.labels, ...d.labels]);
    }
    inProgress.delete(name);
    inferred.set(name, labels);
    return labels;
  }

  return resolver;
}
