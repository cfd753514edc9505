/**
 * prometheus/rules/derived.yml is generated from @vigil/catalog
 * (test/ops/gen-rules.ts); this keeps it current and checks each rule is
 * exercised with values in prometheus/tests/derived_test.yml.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { derivedEntries } from '@vigil/catalog';
import { DERIVED_RULES_FILE, renderDerivedRules } from './gen-rules';
import { readYaml, run, type RuleFile } from './tools';

describe('prometheus/rules/derived.yml (generated from the catalog)', () => {
  it('is what test/ops/gen-rules.ts generates from the current catalog', () => {
    const committed = readFileSync(DERIVED_RULES_FILE, 'utf8');
    const fresh = renderDerivedRules();
    expect(committed, 'prometheus/rules/derived.yml is stale: run `tsc -b && node test/build/ops/gen-rules.js` and commit it').to.equal(fresh);
  });

  it('records every derived indicator under its documented name with the catalog’s expression', () => {
    const rules = readYaml<RuleFile>('prometheus/rules/derived.yml').groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.record)).to.deep.equal(derivedEntries.map((e) => e.name));
    for (const e of derivedEntries) expect(rules.find((r) => r.record === e.name)?.expr, e.name).to.equal(e.expr);
    for (const name of ['cache_hit_rate', 'ai_task_success_rate', 'ai_task_duration_avg', 'ai_service_usage_distribution', 'avg_user_credits', 'credit_conversion_rate', 'http_errors_rate', 'new_users_registered', 'api_abuse_detected', 'suspicious_access_patterns']) {
      expect(rules.map((r) => r.record), name).to.include(name);
    }
  });

  it('every recording rule has a value test in prometheus/tests/derived_test.yml, with the catalog’s labels', () => {
    const doc = readYaml<{ tests: Array<{ promql_expr_test?: Array<{ expr: string; exp_samples: Array<{ labels: string }> }> }> }>('prometheus/tests/derived_test.yml');
    const cases = doc.tests.flatMap((t) => t.promql_expr_test ?? []);
    for (const e of derivedEntries) {
      const c = cases.find((x) => new RegExp(`\\b${e.name}\\b`).test(x.expr));
      expect(c, `a promql_expr_test for ${e.name}`).to.not.equal(undefined);
      for (const s of c!.exp_samples) {
        const labelNames = [...s.labels.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)].map((m) => m[1]).sort();
        expect(labelNames, `${e.name} output labels`).to.deep.equal([...e.labels].sort());
      }
    }
    const r = run('promtool', ['test', 'rules', 'prometheus/tests/derived_test.yml']);
    expect(r.status, r.transcript).to.equal(0);
  });
});
