/**
 * docs/runbook.md: a section for every alert, at the anchor its runbook_url
 * names, saying what it means, why it happens, what to check (PromQL) and how
 * to mitigate. The PromQL itself is linted with every other expression of the
 * repository in test/lint (parsed by Prometheus' grammar and promtool, each
 * metric and label checked against the catalog).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { markdownQueries } from '../lint/sources';
import { alertRules, githubAnchor, REPO_ROOT } from './tools';

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

/** The PromQL queries of a section's ```promql blocks. */
const queriesOf = (heading: string): string[] => markdownQueries(text).filter((q) => q.section === heading).map((q) => q.query);

describe('docs/runbook.md', () => {
  const secs = sections();
  const alerts = alertRules();

  for (const a of alerts) {
    it(`${a.alert}: a section at the runbook_url anchor with meaning, causes, checks and mitigation`, () => {
      const body = secs.get(a.alert);
      expect(body, `## ${a.alert}`).to.be.a('string');
      expect(`docs/runbook.md#${githubAnchor(a.alert)}`).to.equal(a.annotations['runbook_url']);
      for (const part of ['**Meaning.**', '**Likely causes.**', '**Check.**', '**Mitigate.**']) expect(body, `${a.alert} ${part}`).to.contain(part);
      expect(queriesOf(a.alert).length, `${a.alert}: PromQL to check with`).to.be.greaterThan(0);
      expect(body, `${a.alert}: states its severity`).to.contain(a.labels['severity']!);
    });
  }

  it('has no section for an alert that does not exist', () => {
    const names = new Set(alerts.map((a) => a.alert));
    const alertSections = [...secs.keys()].filter((h) => /^[A-Z][A-Za-z]+$/.test(h));
    expect(alertSections.filter((h) => !names.has(h))).to.deep.equal([]);
  });
});
