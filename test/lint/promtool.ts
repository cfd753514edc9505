import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Parses each expression with Prometheus' own parser and type checker: one
 * recording rule per expression in a temporary rules file, `promtool check rules`.
 * Resolves to the error message of each expression that does not parse (by index).
 */
export function promtoolParseErrors(exprs: readonly string[]): Promise<Map<number, string>> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-lint-'));
  const file = join(dir, 'lint.rules.yml');
  const doc = { groups: [{ name: 'lint', rules: exprs.map((expr, i) => ({ record: `lint_expr_${i}`, expr })) }] };
  writeFileSync(file, JSON.stringify(doc, null, 2)); // JSON is YAML
  return new Promise((resolve, reject) => {
    execFile('promtool', ['check', 'rules', file], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      rmSync(dir, { recursive: true, force: true });
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error('promtool is not installed: run the tests with `npm test` (scripts/setup.sh installs the Debian prometheus package)'));
        return;
      }
      const errors = new Map<number, string>();
      const output = `${stdout}\n${stderr}`;
      for (const m of output.matchAll(/"lint_expr_(\d+)": (.*)/g)) errors.set(Number(m[1]), m[2]!);
      if (err && errors.size === 0) {
        reject(new Error(`promtool check rules failed without naming an expression:\n${output}`));
        return;
      }
      if (!err && !/SUCCESS: \d+ rules found/.test(output)) {
        reject(new Error(`promtool check rules did not report success:\n${output}`));
        return;
      }
      resolve(errors);
    });
  });
}
