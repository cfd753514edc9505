import { expect } from 'chai';
import { cacheHitRate, derivedEntries, findEntry, httpRequestDurationSeconds, httpRequestsTotal, newApiModelRequestsTotal } from '@vigil/catalog';
import { alertTemplateLabels, analyze, checkTemplateLabels, legendLabels, showLabels, type Analysis, type MetricResolver } from './analyzer';
import { promtoolParseErrors } from './promtool';
import {
  catalogExpressions,
  dashboardExpressions,
  markdownQueries,
  recordingRules,
  repositoryResolver,
  ruleExpressions,
  runbookExpressions,
  substituteVariables,
  type Expression,
} from './sources';

// The lint of every PromQL expression in the repository (DESIGN.md principle 1):
// dashboards, alert and recording rules, the catalog's derived indicators and the
// queries docs/runbook.md tells an operator to run.
// each one parses (Prometheus' Lezer grammar for the names, promtool for the
// authoritative parse and type check), and every metric and label it names exists
// in @vigil/catalog, in a recording rule, or is Prometheus' own (up, ALERTS, job,
// instance, le). Labels are followed through the expression, so a label that
// by (...) aggregated away is an error where it is used later: in on (...), in a
// Grafana legend, or in an alert's {{ $labels.x }}.

const R = newApiModelRequestsTotal.name;
const HB = `${httpRequestDurationSeconds.name}_bucket`;
const H = httpRequestsTotal.name;

function issuesOf(e: Expression, resolver: MetricResolver): string[] {
  const issues = [...e.sourceIssues];
  if (!e.promql) {
    // label_values(label) without a selector: the label must exist on some metric.
    if (e.labelValuesOf && !resolver.names().some((n) => labelsOf(resolver, n).has(e.labelValuesOf!))) {
      issues.push(`label_values(${e.labelValuesOf}): no metric has label "${e.labelValuesOf}"`);
    }
    return issues;
  }
  const a: Analysis = analyze(e.promql, resolver);
  issues.push(...a.issues);
  if (e.labelValuesOf) issues.push(...checkTemplateLabels([e.labelValuesOf], a.shape, `label_values(..., ${e.labelValuesOf})`));
  for (const t of e.templates) {
    const labels = t.kind === 'legend' ? legendLabels(t.text) : alertTemplateLabels(t.text);
    issues.push(...checkTemplateLabels(labels, a.shape, t.what));
  }
  return issues;
}

function labelsOf(resolver: MetricResolver, name: string): ReadonlySet<string> {
  const r = resolver.resolve(name);
  return 'labels' in r && r.labels !== 'unknown' ? r.labels : new Set();
}

function report(found: Array<{ e: Expression; issues: string[] }>): string {
  return found.map(({ e, issues }) => `${e.file}, ${e.where}:\n    ${e.expr.trim().replace(/\s+/g, ' ')}\n    - ${issues.join('\n    - ')}`).join('\n');
}

describe('PromQL lint', () => {
  describe('the analyzer', () => {
    const resolver = repositoryResolver([], new Set(['job', 'instance']));
    const issues = (expr: string) => analyze(expr, resolver).issues;
    const labels = (expr: string) => showLabels(analyze(expr, resolver).shape.labels);

    it('accepts the seed\'s success-rate query and infers an unlabelled result', () => {
      const expr = `sum(rate(${R}{status="success"}[5m])) / sum(rate(${R}[5m])) * 100`;
      expect(issues(expr)).to.deep.equal([]);
      expect(labels(expr)).to.equal('{}');
      expect(analyze(expr, resolver).metrics).to.deep.equal([R]);
    });

    it('names an unknown metric', () => {
      expect(issues('sum(rate(new_api_model_request_total[5m]))')).to.deep.equal([
        'unknown metric "new_api_model_request_total": not in @vigil/catalog, not a recording rule of prometheus/rules, not a Prometheus scrape series',
      ]);
    });

    it('names an unknown label in a matcher, with the metric\'s labels', () => {
      const [issue] = issues(`${R}{channel="openai"}`);
      expect(issue).to.match(/^unknown label "channel" on new_api_model_requests_total \(its labels: \{channel_id, channel_name, /);
    });

    it('accepts the target labels (job, instance) on recorded metrics but not on a recording rule that aggregated them away', () => {
      expect(issues(`${H}{job="app", instance="a:9464"}`)).to.deep.equal([]);
      expect(issues(`${cacheHitRate.name}{job="app"}`)).to.deep.equal(['unknown label "job" on cache_hit_rate (its labels: {})']);
    });

    it('names a by (...) label the input does not have', () => {
      expect(issues(`sum by (model) (rate(${R}[5m]))`)[0]).to.match(/^sum by \(model\): label "model" is not on \{/);
    });

    it('follows labels through aggregations: on (...) with a label aggregated away', () => {
      const found = issues(`sum by (channel_name) (rate(${R}[5m])) / on (model_name) sum by (model_name) (rate(${R}[5m]))`);
      expect(found).to.deep.equal(['left side of "/ on (model_name)": label "model_name" is not on {channel_name}']);
    });

    it('reports one-to-one matching between different label sets (no series can match)', () => {
      const [issue] = issues(`sum by (channel_name) (rate(${R}[5m])) / sum by (model_name) (rate(${R}[5m]))`);
      expect(issue).to.include('the left side has {channel_name} and the right side {model_name}: no series match');
      // ... also for and / unless, which match the same way.
      expect(issues(`sum by (job) (rate(${H}[5m])) > 1 and sum(rate(${H}[5m])) > 10`)[0]).to.include('no series match');
      expect(issues(`sum by (job) (rate(${H}[5m])) > 1 and sum by (job) (rate(${H}[5m])) > 10`)).to.deep.equal([]);
    });

    it('knows histograms: _bucket has le, the bare name has no series, histogram_quantile needs le and drops it', () => {
      expect(issues(`rate(${httpRequestDurationSeconds.name}[5m])`)).to.deep.equal([
        'http_request_duration_seconds is a histogram: it has no series of its own; read http_request_duration_seconds_bucket, http_request_duration_seconds_sum or http_request_duration_seconds_count',
      ]);
      expect(issues(`histogram_quantile(0.95, sum by (endpoint) (rate(${HB}[5m])))`)).to.deep.equal([
        'histogram_quantile needs the buckets\' le (sum by (le, ...) first): label "le" is not on {endpoint}',
      ]);
      const ok = `histogram_quantile(0.95, sum by (le, endpoint) (rate(${HB}[5m])))`;
      expect(issues(ok)).to.deep.equal([]);
      expect(labels(ok)).to.equal('{endpoint}');
      expect(issues(`${httpRequestDurationSeconds.name}_count{le="1"}`)[0]).to.match(/^unknown label "le"/);
    });

    it('accepts labels the expression makes (label_replace, count_values) and checks label_replace\'s source', () => {
      const made = `sum by (route) (label_replace(rate(${H}[5m]), "route", "$1", "endpoint", "(.*)"))`;
      expect(issues(made)).to.deep.equal([]);
      expect(labels(made)).to.equal('{route}');
      expect(issues(`label_replace(${H}, "route", "$1", "path", "(.*)")`)[0]).to.match(/^label_replace source: label "path" is not on/);
      expect(labels(`count_values("code", ${H})`)).to.equal('{code}');
    });

    it('resolves {__name__=~"..."} against the known names, and rejects a selector with no metric', () => {
      expect(issues('{__name__=~"new_api_model_.*_tokens_total", model_name="x"}')).to.deep.equal([]);
      expect(issues('{__name__=~"nothing_like_this_.*"}')[0]).to.equal('{__name__=~"nothing_like_this_.*"} matches no known metric');
      expect(issues('{job="app"}')[0]).to.include('selects no specific metric');
    });

    it('reports syntax errors', () => {
      expect(issues(`sum(rate(${R}[5m])`)[0]).to.match(/^syntax error at column/);
    });

    it('checks the labels a Grafana legend and an alert template read against the result', () => {
      const summed = analyze(`sum(rate(${R}[5m]))`, resolver).shape;
      expect(checkTemplateLabels(legendLabels('{{channel_name}} / {{ model_name }}'), summed, 'legend')).to.deep.equal([
        'legend uses label "channel_name", which the expression\'s result does not carry (it has {})',
        'legend uses label "model_name", which the expression\'s result does not carry (it has {})',
      ]);
      const byModel = analyze(`sum by (model_name) (rate(${R}[5m])) > 1`, resolver).shape;
      const template = 'Channel {{ $labels.channel_name }} serves {{ $labels.model_name }} at {{ $value | humanizePercentage }} ({{ index $labels "site_id" }})';
      expect(alertTemplateLabels(template)).to.deep.equal(['channel_name', 'model_name', 'site_id']);
      expect(checkTemplateLabels(alertTemplateLabels(template), byModel, 'annotation description')).to.deep.equal([
        'annotation description uses label "channel_name", which the expression\'s result does not carry (it has {model_name})',
        'annotation description uses label "site_id", which the expression\'s result does not carry (it has {model_name})',
      ]);
    });

    it('substitutes Grafana variables and reports undefined ones', () => {
      const { promql, issues: found } = substituteVariables(
        `sum(rate(${R}{site_id=~"$site_id", model_name=~"\${model:regex}", channel_name=~"[[channel]]", x="$nope"}[$__rate_interval])) * $__range_s + label_replace(vector(1), "a", "$1", "b", "")`,
        new Set(['site_id', 'model', 'channel']),
      );
      expect(promql).to.equal(
        `sum(rate(${R}{site_id=~"dummy", model_name=~"dummy", channel_name=~"dummy", x="dummy"}[5m])) * 300 + label_replace(vector(1), "a", "$1", "b", "")`,
      );
      expect(found).to.deep.equal(['uses $nope, which is neither a variable of the dashboard nor a Grafana global']);
    });

    it('infers the labels of recording rules from their expressions and static labels', () => {
      const rules = repositoryResolver(
        [{ file: 'prometheus/rules/x.yml', record: 'job:http_requests:rate5m', expr: `sum by (job) (rate(${H}[5m]))`, labels: ['team'] }],
        new Set(['job', 'instance']),
      );
      expect(analyze('job:http_requests:rate5m{team="platform", job="app"}', rules).issues).to.deep.equal([]);
      expect(analyze('job:http_requests:rate5m{endpoint="/"}', rules).issues).to.deep.equal(['unknown label "endpoint" on job:http_requests:rate5m (its labels: {job, team})']);
    });

    // What the token-based lint of test/ops (removed) reported, each still caught here.
    it('catches every kind of mistake the earlier token lint caught', () => {
      const withRules = repositoryResolver();
      const found = (expr: string) => analyze(expr, withRules).issues;
      expect(found('rate(http_request_total[5m])')).to.deep.equal([
        'unknown metric "http_request_total": not in @vigil/catalog, not a recording rule of prometheus/rules, not a Prometheus scrape series',
      ]);
      expect(found(`rate(${H}{status="500"}[5m])`)[0]).to.match(/^unknown label "status" on http_requests_total \(its labels: \{endpoint, instance, job, method, otel_metric_overflow, status_code, user_role\}\)$/);
      expect(found('sum by (channel) (new_api_active_requests)')[0]).to.match(/^sum by \(channel\): label "channel" is not on \{/);
      expect(checkTemplateLabels(alertTemplateLabels('{{ $labels.channel_id }}'), analyze('up == 0', withRules).shape, 'annotation summary')[0]).to.match(
        /^annotation summary uses label "channel_id", which the expression's result does not carry/,
      );
      expect(found('{job="ai-gateway"}')[0]).to.include('selects no specific metric');
      // ... and accepts what it accepted: recording rules, Prometheus' own series, and on () against a scalar-like sum.
      expect(found('cache_hit_rate < 0.7 and on () sum(increase(cache_operations_total{result=~"hit|miss"}[5m])) >= 20')).to.deep.equal([]);
      expect(found('up{job="ai-gateway"} == 0')).to.deep.equal([]);
      expect(found('scrape_duration_seconds{job="ai-gateway"}')).to.deep.equal([]);
      expect(found('scrape_samples_scraped{instance="gw-1:9464"}')).to.deep.equal([]);
      const read = analyze(`sum by (site_id, le) (rate(new_api_model_request_duration_seconds_bucket{model_name=~"gpt.*"}[5m] offset 1d)) > 0 and on () vector(1)`, withRules);
      expect(read.issues).to.deep.equal([]);
      expect(read.metrics).to.deep.equal(['new_api_model_request_duration_seconds_bucket']);
    });

    it('reads the queries of ```promql blocks by section: one per line, indented lines continue, comments skipped', () => {
      const md = [
        '# Title',
        '```promql',
        'up',
        '```',
        '## First',
        'text `not_a_query` and a ```sh block:',
        '```sh',
        'amtool check-config x',
        '```',
        '```promql',
        '# a comment',
        'sum(rate(a[5m]))',
        '  / sum(rate(b[5m]))',
        '',
        'c',
        '```',
        '## Second',
        '```promql',
        '  d',
        'e',
        '```',
      ].join('\n');
      expect(markdownQueries(md)).to.deep.equal([
        { section: '', query: 'up' },
        { section: 'First', query: 'sum(rate(a[5m])) / sum(rate(b[5m]))' },
        { section: 'First', query: 'c' },
        { section: 'Second', query: 'd' },
        { section: 'Second', query: 'e' },
      ]);
    });

    it('promtool rejects what only Prometheus\' type checker sees, naming the expression', async () => {
      const errors = await promtoolParseErrors([`sum(rate(${R}[5m]))`, `rate(${R})`, `sum(rate(${R}[5m])) + on() group_left "x"`]);
      expect([...errors.keys()]).to.deep.equal([1, 2]);
      expect(errors.get(1)).to.include('expected type range vector in call to function "rate", got instant vector');
    });
  });

  describe('every expression in the repository', () => {
    const resolver = repositoryResolver();
    const dashboards = dashboardExpressions();
    const rules = ruleExpressions();
    const catalog = catalogExpressions();
    const runbook = runbookExpressions();
    const all = [...dashboards, ...rules, ...catalog, ...runbook];

    it('finds the expressions of the dashboards, the rule files, the catalog and the runbook', () => {
      expect(dashboards.filter((e) => e.where.startsWith('panel')).length, 'dashboard queries').to.be.greaterThan(100);
      expect(dashboards.filter((e) => e.where.startsWith('variable')).length, 'dashboard variables').to.be.at.least(5);
      expect(catalog.length).to.equal(derivedEntries.length);
      // every alert's runbook section has queries to check with (test/ops/runbook.test.ts); here they are linted
      expect(runbook.length, 'docs/runbook.md queries').to.be.greaterThan(40);
      expect(new Set(runbook.map((e) => e.where.replace(/ query \d+$/, ''))).size, 'runbook sections with queries').to.be.at.least(25);
      // The rule files are read as they are at test time; every rule has an expression.
      for (const e of rules) expect(e.expr.trim(), `${e.file} ${e.where}`).to.not.equal('');
    });

    const files = [...new Set(all.map((e) => e.file))];
    for (const file of files) {
      it(`${file}: every metric and label exists, and every label used after aggregation is still there`, () => {
        const found = all
          .filter((e) => e.file === file)
          .map((e) => ({ e, issues: issuesOf(e, resolver) }))
          .filter((x) => x.issues.length > 0);
        if (found.length) expect.fail(`${found.length} expression(s) in ${file} name unknown metrics or labels:\n${report(found)}`);
      });
    }

    it('promtool parses and type-checks every expression', async () => {
      const parsed = all.filter((e) => e.promql);
      const errors = await promtoolParseErrors(parsed.map((e) => e.promql));
      const found = [...errors].map(([i, msg]) => ({ e: parsed[i]!, issues: [msg] }));
      if (found.length) expect.fail(`${found.length} expression(s) do not parse:\n${report(found)}`);
    });

    it('each derived catalog entry\'s expression yields exactly the labels the entry declares', () => {
      const catalogOnly = repositoryResolver([]);
      const wrong = derivedEntries
        .map((e) => ({ e, got: analyze(e.expr, catalogOnly).shape.labels }))
        .filter(({ e, got }) => got === 'unknown' || showLabels(got) !== showLabels(new Set(e.labels)));
      expect(wrong.map(({ e, got }) => `${e.name}: declares ${showLabels(new Set(e.labels))}, its expression yields ${showLabels(got)}`)).to.deep.equal([]);
    });

    it('recording rules named after a catalog entry yield the labels the catalog declares for it', () => {
      const mismatches: string[] = [];
      for (const r of recordingRules()) {
        const entry = findEntry(r.record);
        if (!entry) continue;
        if (entry.kind !== 'derived') {
          mismatches.push(`${r.file}: record ${r.record} reuses the name of a metric vigil records in-process`);
          continue;
        }
        const got = analyze(r.expr, resolver).shape.labels;
        const have = got === 'unknown' ? got : new Set([...got, ...r.labels]);
        if (showLabels(have) !== showLabels(new Set(entry.labels))) {
          mismatches.push(`${r.file}: record ${r.record} yields ${showLabels(have)}, the catalog declares ${showLabels(new Set(entry.labels))}`);
        }
      }
      expect(mismatches).to.deep.equal([]);
    });
  });
});
