/**
 * Generates prometheus/rules/derived.yml — the recording rules of the
 * catalog's derived indicators (cache_hit_rate, ai_task_success_rate, ...),
 * each recorded under its documented name with the catalog's expression.
 *
 *   tsc -b && node test/build/ops/gen-rules.js
 *
 * derived-rules.test.ts fails when the committed file differs from what this
 * produces, so the rules cannot drift from @vigil/catalog.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Document, isMap, isSeq } from 'yaml';
import { derivedEntries } from '@vigil/catalog';
import { REPO_ROOT } from './tools';

export const DERIVED_RULES_FILE = join(REPO_ROOT, 'prometheus', 'rules', 'derived.yml');

const HEADER = [
  ' GENERATED from @vigil/catalog by test/ops/gen-rules.ts — do not edit.',
  ' Regenerate: tsc -b && node test/build/ops/gen-rules.js',
  '',
  ' Recording rules for the derived indicators of the seeds: ratios, averages',
  ' and daily counts that are only right across instances, recorded under their',
  ' documented names (DESIGN.md, principle 2).',
].join('\n');

/** The text of prometheus/rules/derived.yml for the current catalog. */
export function renderDerivedRules(): string {
  const doc = new Document({
    groups: [
      {
        name: 'vigil_derived',
        rules: derivedEntries.map((e) => ({ record: e.name, expr: e.expr })),
      },
    ],
  });
  doc.commentBefore = HEADER;
  const rules = doc.getIn(['groups', 0, 'rules'], true);
  if (!isSeq(rules)) throw new Error('unexpected document shape');
  rules.items.forEach((item, i) => {
    const entry = derivedEntries[i]!;
    if (!isMap(item)) throw new Error('unexpected document shape');
    const lines = [` ${entry.help} (unit: ${entry.unit}; labels: ${entry.labels.length ? entry.labels.join(', ') : 'none'})`];
    if (entry.note) lines.push(` ${entry.note}`);
    item.commentBefore = lines.join('\n');
  });
  return doc.toString({ lineWidth: 0 });
}

if (require.main === module) {
  writeFileSync(DERIVED_RULES_FILE, renderDerivedRules());
  console.log(`wrote ${DERIVED_RULES_FILE} (${derivedEntries.length} recording rules)`);
}
