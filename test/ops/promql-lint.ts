/**
 * A small PromQL reader that finds the metric names and label names an
 * expression uses, and checks them against @vigil/catalog (DESIGN.md,
 * principle 1: every metric and label an alert or rule names must exist).
 *
 * It is not a full parser — promtool parses the rules — but it walks the
 * token stream with PromQL's grammar in mind: selectors `name{l="v"}`,
 * grouping clauses `by (...)`, `without (...)`, `on (...)`, `ignoring (...)`,
 * `group_left (...)`, `group_right (...)`, functions and aggregations
 * `f(...)`, range and subquery brackets `[5m]`, `[1h:1m]`, `offset 1d`.
 */
import { derivedEntries, findEntry, type CatalogEntry } from '@vigil/catalog';

type Token = { kind: 'ident' | 'string' | 'number' | 'punct' | 'op'; text: string };

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'atan2']);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile']);
/** Labels every scraped series has (target labels) and the histogram bucket label. */
const TARGET_LABELS = ['job', 'instance'];
/** Series Prometheus makes itself. */
const BUILTIN_METRICS: Record<string, readonly string[]> = { up: [], scrape_duration_seconds: [], scrape_samples_scraped: [] };

function tokenize(expr: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '#') { while (i < expr.length && expr[i] !== '\n') i++; continue; }
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += expr[j] === '\\' && c !== '`' ? 2 : 1;
      out.push({ kind: 'string', text: expr.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    const ident = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i));
    if (ident) { out.push({ kind: 'ident', text: ident[0] }); i += ident[0].length; continue; }
    const num = /^(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?(?:ms|[smhdwy])?(?:[0-9]+(?:ms|[smhdwy]))*)/.exec(expr.slice(i));
    if (num && num[0].length > 0) { out.push({ kind: 'number', text: num[0] }); i += num[0].length; continue; }
    const op = /^(?:=~|!~|!=|==|<=|>=|[-+*/%^<>=])/.exec(expr.slice(i));
    if (op) { out.push({ kind: 'op', text: op[0] }); i += op[0].length; continue; }
    out.push({ kind: 'punct', text: c });
    i++;
  }
  return out;
}

/** A metric selector found in an expression. */
export interface SelectorRef {
  metric: string;
  /** Label names used in its matchers. */
  labels: string[];
}

/** What an expression names. */
export interface PromqlRefs {
  selectors: SelectorRef[];
  /** Label names in grouping / matching clauses. */
  groupingLabels: string[];
}

/** Finds the metrics and labels an expression names. */
export function promqlRefs(expr: string): PromqlRefs {
  const t = tokenize(expr);
  const selectors: SelectorRef[] = [];
  const groupingLabels: string[] = [];
  const readMatchers = (start: number): { labels: string[]; end: number } => {
    // t[start] is '{'
    const labels: string[] = [];
    let i = start + 1;
    while (i < t.length && t[i]!.text !== '}') {
      const tok = t[i]!;
      if (tok.kind === 'ident' && t[i + 1]?.kind === 'op') labels.push(tok.text);
      i++;
    }
    return { labels, end: i };
  };
  for (let i = 0; i < t.length; i++) {
    const tok = t[i]!;
    if (tok.kind === 'punct' && tok.text === '[') {
      while (i < t.length && t[i]!.text !== ']') i++;
      continue;
    }
    if (tok.kind === 'punct' && tok.text === '{') {
      // selector without a metric name: {__name__="x", ...}
      const m = readMatchers(i);
      selectors.push({ metric: '', labels: m.labels });
      i = m.end;
      continue;
    }
    if (tok.kind !== 'ident') continue;
    const next = t[i + 1];
    if (GROUPING.has(tok.text)) {
      if (next?.text === '(') {
        let j = i + 2;
        for (; j < t.length && t[j]!.text !== ')'; j++) if (t[j]!.kind === 'ident') groupingLabels.push(t[j]!.text);
        i = j;
      }
      continue;
    }
    if (KEYWORDS.has(tok.text.toLowerCase())) continue;
    if (AGGREGATIONS.has(tok.text) || next?.text === '(') continue; // function or aggregation
    // a metric name, maybe with matchers
    if (next?.text === '{') {
      const m = readMatchers(i + 1);
      selectors.push({ metric: tok.text, labels: m.labels });
      i = m.end;
    } else {
      selectors.push({ metric: tok.text, labels: [] });
    }
  }
  return { selectors, groupingLabels };
}

/** Labels a metric's series carry in Prometheus (catalog labels + target labels + le for buckets). */
function seriesLabels(metric: string, entry: CatalogEntry): string[] {
  const labels = [...entry.labels];
  if (entry.kind === 'recorded') {
    labels.push(...TARGET_LABELS);
    if (metric === `${entry.name}_bucket`) labels.push('le');
  }
  return labels;
}

/**
 * Problems with an expression: metrics that are not in the catalog (nor a
 * derived recording rule, nor `up`), labels a selector matches on that its
 * metric does not have, grouping labels and template `$labels.x` names no
 * metric of the expression has.
 */
export function lintPromql(expr: string, templateLabels: readonly string[] = []): string[] {
  const problems: string[] = [];
  const refs = promqlRefs(expr);
  const available = new Set<string>();
  for (const sel of refs.selectors) {
    if (!sel.metric) { problems.push('selector without a metric name'); continue; }
    const builtin = BUILTIN_METRICS[sel.metric];
    const entry = findEntry(sel.metric) ?? derivedEntries.find((d) => d.name === sel.metric);
    let labels: string[];
    if (builtin) labels = [...builtin, ...TARGET_LABELS];
    else if (entry) labels = seriesLabels(sel.metric, entry);
    else { problems.push(`metric ${sel.metric} is not in @vigil/catalog`); continue; }
    labels.forEach((l) => available.add(l));
    for (const l of sel.labels) if (!labels.includes(l)) problems.push(`${sel.metric} has no label ${l} (it has: ${labels.join(', ') || 'none'})`);
  }
  for (const l of refs.groupingLabels) if (!available.has(l)) problems.push(`grouping label ${l} is on no metric of the expression`);
  for (const l of templateLabels) if (!available.has(l)) problems.push(`template uses $labels.${l}, which no metric of the expression has`);
  return problems;
}

/** `$labels.x` references in alert annotations. */
export function templateLabelRefs(text: string): string[] {
  return [...text.matchAll(/\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)/g)].map((m) => m[1]!);
}
