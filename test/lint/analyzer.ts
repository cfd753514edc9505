import { parser } from '@prometheus-io/lezer-promql';

// A PromQL analyzer over the Prometheus project's own Lezer grammar
// (@prometheus-io/lezer-promql, the grammar of the Prometheus UI): it finds every
// metric a query reads and every label it names, and infers the labels each
// sub-expression's result carries, so that a label used after it was aggregated
// away (by (), on (), a legend, an alert's $labels) is caught as well as a
// misspelt metric.

type Tree = ReturnType<typeof parser.parse>;
type SyntaxNode = Tree['topNode'];

/** The labels a result may carry, or 'unknown' (an unknown metric upstream: nothing more is checked). */
export type LabelSet = ReadonlySet<string> | 'unknown';

/** What a name resolves to: its labels, or why it is not a metric. */
export type Resolution = { readonly labels: LabelSet } | { readonly error: string };

/** Resolves metric names (catalog entries, recording rules, Prometheus' own series). */
export interface MetricResolver {
  resolve(name: string): Resolution;
  /** Every name a `{__name__=~"..."}` regex may select. */
  names(): readonly string[];
}

/** The result of an expression: its type and labels. */
export interface Shape {
  readonly type: 'vector' | 'scalar' | 'string';
  readonly labels: LabelSet;
}

export interface Analysis {
  /** Problems found, each naming the metric or label. Empty when the expression is right. */
  readonly issues: string[];
  /** The result's shape (labels available to legends, alert templates, by/on clauses of callers). */
  readonly shape: Shape;
  /** Every metric name the expression reads. */
  readonly metrics: readonly string[];
}

const EXPRESSIONS = new Set([
  'AggregateExpr',
  'BinaryExpr',
  'FunctionCall',
  'MatrixSelector',
  'NumberDurationLiteral',
  'OffsetExpr',
  'ParenExpr',
  'StringLiteral',
  'SubqueryExpr',
  'UnaryExpr',
  'VectorSelector',
  'StepInvariantExpr',
  'AnchoredExpr',
  'SmoothedExpr',
]);

const EMPTY: ReadonlySet<string> = new Set();
const SCALAR: Shape = { type: 'scalar', labels: EMPTY };
const STRING: Shape = { type: 'string', labels: EMPTY };

function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) out.push(c);
  return out;
}

function exprChildren(node: SyntaxNode): SyntaxNode[] {
  return children(node).filter((c) => EXPRESSIONS.has(c.name));
}

function child(node: SyntaxNode, name: string): SyntaxNode | undefined {
  return children(node).find((c) => c.name === name);
}

/** The value of a PromQL string literal ("...", '...' or `...`). */
export function unquote(literal: string): string {
  const q = literal[0];
  const body = literal.slice(1, -1);
  if (q === '`') return body;
  return body.replace(/\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[0-7]{3}|.)/g, (_, e: string) => {
    if (e[0] === 'u' || e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]{3}$/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return ({ n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v' } as Record<string, string>)[e] ?? e;
  });
}

function union(a: LabelSet, b: LabelSet): LabelSet {
  if (a === 'unknown' || b === 'unknown') return 'unknown';
  return new Set([...a, ...b]);
}

function minus(a: LabelSet, b: Iterable<string>): LabelSet {
  if (a === 'unknown') return a;
  const out = new Set(a);
  for (const l of b) out.delete(l);
  return out;
}

function show(labels: LabelSet): string {
  return labels === 'unknown' ? '(unknown)' : `{${[...labels].sort().join(', ')}}`;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

const SET_OPERATORS = new Set(['And', 'Or', 'Unless']);
const OPERATORS = new Set(['Add', 'Sub', 'Mul', 'Div', 'Mod', 'Pow', 'Eql', 'Neq', 'Gtr', 'Lss', 'Gte', 'Lte', 'Atan2', ...SET_OPERATORS]);
const KEEP_SERIES_AGGREGATIONS = new Set(['topk', 'bottomk', 'limitk', 'limit_ratio']);
const SCALAR_FUNCTIONS = new Set(['scalar', 'time', 'pi']);
const NO_ARG_VECTOR_FUNCTIONS = new Set(['day_of_month', 'day_of_week', 'day_of_year', 'days_in_month', 'hour', 'minute', 'month', 'year']);

class Analyzer {
  readonly issues: string[] = [];
  readonly metrics = new Set<string>();

  constructor(
    private readonly src: string,
    private readonly resolver: MetricResolver,
  ) {}

  private text(n: SyntaxNode): string {
    return this.src.slice(n.from, n.to);
  }

  private issue(msg: string): void {
    if (!this.issues.includes(msg)) this.issues.push(msg);
  }

  /** `where` needs `label`: reports it when the labels are known and lack it. */
  private need(labels: LabelSet, label: string, where: string): void {
    if (labels !== 'unknown' && !labels.has(label)) this.issue(`${where}: label "${label}" is not on ${show(labels)}`);
  }

  private labelNames(grouping: SyntaxNode | undefined): string[] {
    if (!grouping) return [];
    return children(grouping).map((c) => (c.name === 'QuotedLabelName' ? unquote(this.text(c)) : this.text(c)));
  }

  visit(node: SyntaxNode): Shape {
    switch (node.name) {
      case 'PromQL':
      case 'ParenExpr':
      case 'UnaryExpr':
      case 'MatrixSelector':
      case 'SubqueryExpr':
      case 'OffsetExpr':
      case 'StepInvariantExpr':
      case 'AnchoredExpr':
      case 'SmoothedExpr': {
        const [inner] = exprChildren(node);
        return inner ? this.visit(inner) : SCALAR;
      }
      case 'NumberDurationLiteral':
        return SCALAR;
      case 'StringLiteral':
        return STRING;
      case 'VectorSelector':
        return this.selector(node);
      case 'AggregateExpr':
        return this.aggregate(node);
      case 'BinaryExpr':
        return this.binary(node);
      case 'FunctionCall':
        return this.call(node);
      default:
        this.issue(`unexpected ${node.name} "${this.text(node)}"`);
        return { type: 'vector', labels: 'unknown' };
    }
  }

  private selector(node: SyntaxNode): Shape {
    const matchers: Array<{ label: string; op: string; value: string }> = [];
    let names: string[] = [];
    const ident = child(node, 'Identifier');
    if (ident) names.push(this.text(ident));
    const list = child(node, 'LabelMatchers');
    for (const m of list ? children(list) : []) {
      if (m.name === 'QuotedLabelName') {
        names.push(unquote(this.text(m))); // {"metric.name"}
        continue;
      }
      const nameNode = m.firstChild;
      const opNode = child(m, 'MatchOp');
      const valueNode = m.lastChild;
      if (!nameNode || !opNode || !valueNode) continue;
      const label = nameNode.name === 'QuotedLabelName' ? unquote(this.text(nameNode)) : this.text(nameNode);
      matchers.push({ label, op: this.text(opNode), value: unquote(this.text(valueNode)) });
    }
    for (const m of matchers.filter((x) => x.label === '__name__')) {
      if (m.op === '=') names.push(m.value);
      else if (m.op === '=~') {
        const re = new RegExp(`^(?:${m.value})$`);
        const hits = this.resolver.names().filter((n) => re.test(n));
        if (!hits.length) this.issue(`{__name__=~"${m.value}"} matches no known metric`);
        names.push(...hits);
      }
    }
    if (!names.length) {
      this.issue(`"${this.text(node)}" selects no specific metric (give a metric name)`);
      return { type: 'vector', labels: 'unknown' };
    }
    names = [...new Set(names)];
    let labels: LabelSet = EMPTY;
    for (const name of names) {
      this.metrics.add(name);
      const r = this.resolver.resolve(name);
      if ('error' in r) {
        this.issue(r.error);
        labels = 'unknown';
      } else {
        labels = union(labels, r.labels);
      }
    }
    for (const m of matchers) {
      if (m.label === '__name__') continue;
      if (labels !== 'unknown' && !labels.has(m.label)) this.issue(`unknown label "${m.label}" on ${names.join(', ')} (its labels: ${show(labels)})`);
    }
    return { type: 'vector', labels };
  }

  private aggregate(node: SyntaxNode): Shape {
    const op = this.text(child(node, 'AggregateOp')!);
    const modifier = child(node, 'AggregateModifier');
    const body = child(node, 'FunctionCallBody');
    const args = body ? exprChildren(body) : [];
    const shapes = args.map((a) => this.visit(a));
    const input = shapes[shapes.length - 1] ?? { type: 'vector', labels: 'unknown' };
    const grouping = this.labelNames(modifier ? child(modifier, 'GroupingLabels') : undefined);
    const without = modifier ? !!child(modifier, 'Without') : false;
    for (const l of grouping) this.need(input.labels, l, `${op} ${without ? 'without' : 'by'} (${grouping.join(', ')})`);
    if (KEEP_SERIES_AGGREGATIONS.has(op)) return { type: 'vector', labels: input.labels };
    let labels: LabelSet = without ? minus(input.labels, grouping) : modifier ? new Set(grouping) : EMPTY;
    if (op === 'count_values' && args[0]?.name === 'StringLiteral') labels = union(labels, new Set([unquote(this.text(args[0]))]));
    return { type: 'vector', labels };
  }

  private binary(node: SyntaxNode): Shape {
    const parts = children(node);
    const [lhsNode, rhsNode] = exprChildren(node);
    const opNode = parts.find((p) => OPERATORS.has(p.name));
    if (!lhsNode || !rhsNode || !opNode) return { type: 'vector', labels: 'unknown' };
    const lhs = this.visit(lhsNode);
    const rhs = this.visit(rhsNode);
    const op = opNode.name;
    if (lhs.type !== 'vector' || rhs.type !== 'vector') {
      return lhs.type === 'vector' ? lhs : rhs.type === 'vector' ? rhs : SCALAR;
    }
    // Vector matching: on / ignoring, group_left / group_right.
    const clause = parts.find((p) => p.name === 'MatchingModifierClause');
    let on: string[] | undefined;
    let ignoring: string[] = [];
    let group: 'left' | 'right' | undefined;
    let include: string[] = [];
    if (clause) {
      const cs = children(clause);
      const groupings = cs.filter((c) => c.name === 'GroupingLabels');
      if (cs.some((c) => c.name === 'On')) on = this.labelNames(groupings[0]);
      if (cs.some((c) => c.name === 'Ignoring')) ignoring = this.labelNames(groupings[0]);
      if (cs.some((c) => c.name === 'GroupLeft')) group = 'left';
      if (cs.some((c) => c.name === 'GroupRight')) group = 'right';
      include = this.labelNames(groupings[1]);
    }
    const opText = this.text(opNode);
    for (const l of on ?? []) {
      this.need(lhs.labels, l, `left side of "${opText} on (${on!.join(', ')})"`);
      this.need(rhs.labels, l, `right side of "${opText} on (${on!.join(', ')})"`);
    }
    for (const l of ignoring) {
      if (lhs.labels !== 'unknown' && rhs.labels !== 'unknown' && !lhs.labels.has(l) && !rhs.labels.has(l)) {
        this.issue(`"${opText} ignoring (${ignoring.join(', ')})": label "${l}" is on neither side (${show(lhs.labels)}, ${show(rhs.labels)})`);
      }
    }
    if (group === 'left') for (const l of include) this.need(rhs.labels, l, `group_left (${include.join(', ')}) copies from the right side`);
    if (group === 'right') for (const l of include) this.need(lhs.labels, l, `group_right (${include.join(', ')}) copies from the left side`);

    // One-to-one matching (and and/unless) compares whole label sets: different sets never match.
    if (!group && op !== 'Or' && on === undefined && lhs.labels !== 'unknown' && rhs.labels !== 'unknown') {
      const l = minus(lhs.labels, ignoring) as ReadonlySet<string>;
      const r = minus(rhs.labels, ignoring) as ReadonlySet<string>;
      if (!sameSet(l, r)) {
        this.issue(
          `"${opText}" matches series one-to-one on all their labels, but the left side has ${show(l)} and the right side ${show(r)}: no series match (aggregate both sides alike, or use on (...) / ignoring (...))`,
        );
      }
    }

    if (SET_OPERATORS.has(op)) return { type: 'vector', labels: op === 'Or' ? union(lhs.labels, rhs.labels) : lhs.labels };
    if (group === 'left') return { type: 'vector', labels: union(lhs.labels, new Set(include)) };
    if (group === 'right') return { type: 'vector', labels: union(rhs.labels, new Set(include)) };
    if (on !== undefined) return { type: 'vector', labels: new Set(on) };
    return { type: 'vector', labels: minus(lhs.labels, ignoring) };
  }

  private call(node: SyntaxNode): Shape {
    const fn = this.text(child(node, 'FunctionIdentifier')!);
    const body = child(node, 'FunctionCallBody');
    const args = body ? exprChildren(body) : [];
    const shapes = args.map((a) => this.visit(a));
    const str = (i: number): string | undefined => (args[i]?.name === 'StringLiteral' ? unquote(this.text(args[i]!)) : undefined);
    const firstVector = shapes.find((s) => s.type === 'vector');
    const input: LabelSet = firstVector ? firstVector.labels : EMPTY;
    switch (fn) {
      case 'label_replace': {
        const src = str(3);
        // __name__ is on every selected series until a function or aggregation drops it.
        if (src && src !== '__name__') this.need(input, src, `label_replace source`);
        const dst = str(1);
        return { type: 'vector', labels: dst ? union(input, new Set([dst])) : input };
      }
      case 'label_join': {
        for (let i = 3; i < args.length; i++) {
          const src = str(i);
          if (src) this.need(input, src, `label_join source`);
        }
        const dst = str(1);
        return { type: 'vector', labels: dst ? union(input, new Set([dst])) : input };
      }
      case 'sort_by_label':
      case 'sort_by_label_desc': {
        for (let i = 1; i < args.length; i++) {
          const l = str(i);
          if (l) this.need(input, l, fn);
        }
        return { type: 'vector', labels: input };
      }
      case 'histogram_quantile': {
        // Classic histograms: the quantile is computed per le bucket set; sum by (le, ...) first.
        this.need(input, 'le', 'histogram_quantile needs the buckets\' le (sum by (le, ...) first)');
        return { type: 'vector', labels: minus(input, ['le']) };
      }
      case 'absent':
      case 'absent_over_time': {
        // The result carries the selector's equality matchers.
        const sel = args[0]?.name === 'MatrixSelector' ? child(args[0], 'VectorSelector') : args[0];
        const labels = new Set<string>();
        const list = sel && sel.name === 'VectorSelector' ? child(sel, 'LabelMatchers') : undefined;
        for (const m of list ? children(list) : []) {
          const op = child(m, 'MatchOp');
          const name = m.firstChild;
          if (op && name && this.text(op) === '=' && m.name === 'UnquotedLabelMatcher' && this.text(name) !== '__name__') labels.add(this.text(name));
        }
        return { type: 'vector', labels };
      }
      case 'vector':
        return { type: 'vector', labels: EMPTY };
      case 'info':
        return { type: 'vector', labels: 'unknown' };
      default:
        if (SCALAR_FUNCTIONS.has(fn)) return SCALAR;
        if (!firstVector && NO_ARG_VECTOR_FUNCTIONS.has(fn)) return { type: 'vector', labels: EMPTY };
        return { type: 'vector', labels: input };
    }
  }
}

/** Syntax errors the grammar found, with the column and the text around them. */
function syntaxErrors(src: string, tree: Tree): string[] {
  const out: string[] = [];
  tree.iterate({
    enter(n) {
      if (n.type.isError) {
        const near = src.slice(Math.max(0, n.from - 15), n.from + 15);
        out.push(`syntax error at column ${n.from + 1} near "${near}"`);
      }
    },
  });
  return out;
}

/** Parses `expr` and reports unknown metrics and labels, with the result's inferred labels. */
export function analyze(expr: string, resolver: MetricResolver): Analysis {
  const tree = parser.parse(expr);
  const errors = syntaxErrors(expr, tree);
  if (errors.length) return { issues: errors, shape: { type: 'vector', labels: 'unknown' }, metrics: [] };
  const a = new Analyzer(expr, resolver);
  const shape = a.visit(tree.topNode);
  return { issues: a.issues, shape, metrics: [...a.metrics] };
}

/** Labels a template reads: `{{ $labels.x }}`, `{{ .Labels.x }}`, `{{ index $labels "x" }}` (alerts). */
export function alertTemplateLabels(template: string): string[] {
  const out = new Set<string>();
  for (const m of template.matchAll(/(?:\$labels|\.Labels)\.([a-zA-Z_][a-zA-Z0-9_]*)/g)) out.add(m[1]!);
  for (const m of template.matchAll(/index\s+(?:\$labels|\.Labels)\s+"([^"]+)"/g)) out.add(m[1]!);
  return [...out];
}

/** Labels a Grafana legend reads: `{{label}}`. */
export function legendLabels(legend: string): string[] {
  return [...new Set([...legend.matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((m) => m[1]!))];
}

/** Reports each template label the result does not carry. */
export function checkTemplateLabels(labels: readonly string[], shape: Shape, what: string): string[] {
  if (shape.labels === 'unknown') return [];
  const have = shape.labels;
  return labels.filter((l) => !have.has(l)).map((l) => `${what} uses label "${l}", which the expression's result does not carry (it has ${show(have)})`);
}

export { show as showLabels };
