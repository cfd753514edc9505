// Regenerates the files derived from the catalog. Run after `tsc -b`: `npm run generate`.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { renderMetricsTable } = require('../packages/catalog');

const root = join(__dirname, '..');
const table = renderMetricsTable();
const BEGIN = '<!-- metrics:begin (generated from @vigil/catalog by npm run generate) -->';
const END = '<!-- metrics:end -->';

writeFileSync(join(root, 'docs', 'metrics.md'),
  `# Metrics\n\nEvery metric vigil records or derives, generated from \`@vigil/catalog\`.\n\n${BEGIN}\n${table}\n${END}\n`);

const readmePath = join(root, 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const start = readme.indexOf(BEGIN);
const end = readme.indexOf(END);
if (start < 0 || end < start) throw new Error(`README.md needs the markers ${BEGIN} and ${END}`);
writeFileSync(readmePath, readme.slice(0, start + BEGIN.length) + '\n' + table + '\n' + readme.slice(end));
console.log('generated docs/metrics.md and the README metric table');
