import { mkdirSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderDashboards, serializeDashboard } from './render';
import type { WriteOptions } from './types';

// Regenerate the committed dashboards after changing packages/dashboards/src:
//
//   tsc -b packages/dashboards && node packages/dashboards/build/src/generate.js [outDir]
//
// packages/dashboards/test checks that grafana/dashboards/*.json is what this writes.

/** grafana/dashboards of the repository this package is built in (build/src -> repository root). */
export const DEFAULT_OUT_DIR = resolve(__dirname, '..', '..', '..', '..', 'grafana', 'dashboards');

/** Writes every dashboard to `outDir` and removes stale generated *.json files there; returns the paths written. */
export function writeDashboards(options: WriteOptions = {}): string[] {
  const outDir = options.outDir ?? DEFAULT_OUT_DIR;
  mkdirSync(outDir, { recursive: true });
  const files = renderDashboards();
  for (const name of readdirSync(outDir)) {
    if (name.endsWith('.json') && !(name in files)) unlinkSync(join(outDir, name));
  }
  return Object.entries(files).map(([name, d]) => {
    const path = join(outDir, name);
    writeFileSync(path, serializeDashboard(d));
    return path;
  });
}

if (require.main === module) {
  const outDir = process.argv[2] ? resolve(process.argv[2]) : undefined;
  for (const path of writeDashboards({ outDir })) console.log(`wrote ${path}`);
}
