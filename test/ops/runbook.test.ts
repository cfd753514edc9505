/**
 * docs/runbook.md: a section for every alert, at the anchor its runbook_url
 * names, saying what it means, why it happens, what to check and how to
 * mitigate; every PromQL query in it parses (promtool) and names only
 * catalog metrics and labels.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { lintPromql } from './promql-lint';
import { alertRules, githubAnchor, REPO_ROOT, run } from './tools';

const text = readFileSync(join(REPO_ROOT, 'docs/runbook.md'), 'utf8');

/** Level-2 sections: heading -> body. */
function sections(): Map<string, string> {
  const out = new Map<string, string>();
  const parts = text.split(/^## /m).slice(1);
  for (const p of parts) {
    const nl = p.indexOf('\n');
    out.set(p.slice(0, nl).trim(), p.slice(nl + 1));
  }
  return out;
}

/** PromQL queries of ```promql blocks (one per line, comments skipped). */
function queries(body: string): string[] {
  return [...body.matchAll(/```promql\n([\s\S]*?)```/g)].flatMap((m) => {
    // a query may continue on lines that start with whitespace
    const out: string[] = [];
    for (const line of m[1]!.split('\n')) {
      if (!line.trim() || line.trim().startsWith('#')) continue;
      if (/^\s/.test(line) && out.length > 0) out[out.length - 1] += ` ${line.trim()}`;
      else out.push(line.trim());
    }
    return out;
  });
}

describe('docs/runbook.md', () => {
  const secs = sections();
  const alerts = alertRules();

  for (const a of alerts) {
    it(`${a.alert}: a section at the runbook_url anchor with meaning, causes, checks and mitigation`, () => {
      const body = secs.get(a.alert);
      expect(body, `## ${a.alert}`).to.be.a('string');
      expect(`docs/runbook.md#${githubAnchor(a.alert)}`).to.equal(a.annotations['runbook_url']);
      for (const part of ['**Meaning.**', '**Likely causes.**', '**Check.**', '**Mitigate.**']) expect(body, `${a.alert} ${part}`).to.contain(part);
      expect(queries(body!).length, `${a.alert}: PromQL to check with`).to.be.greaterThan(0);
      expect(body, `${a.alert}: states its severity`).to.contain(a.labels['severity']!);
    });
  }

  it('has no section for an alert that does not exist', () => {
    const names = new Set(alerts.map((a) => a.alert));
    const alertSections = [...secs.keys()].filter((h) => /^[A-Z][A-Za-z]+$/.test(h));
    expect(alertSections.filter((h) => !names.has(h))).to.deep.equal([]);
  });

  it('every PromQL query parses (promtool) and names only catalog metrics and labels', () => {
    const all = [...secs.values()].flatMap(queries);
    expect(all.length).to.be.greaterThan(40);
    const problems = all.flatMap((q) => lintPromql(q).map((p) => `${q}: ${p}`));
    expect(problems).to.deep.equal([]);
    const dir = mkdtempSync(join(tmpdir(), 'vigil-runbook-'));
    try {
      const file = join(dir, 'runbook-queries.yml');
      writeFileSync(file, stringify({ groups: [{ name: 'runbook', rules: all.map((expr, i) => ({ record: `runbook_query_${i}`, expr })) }] }));
      const r = run('promtool', ['check', 'rules', file]);
      expect(r.status, r.transcript).to.equal(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
