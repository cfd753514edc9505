import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Grafana's variables replaced by what "All" and a 1-minute scrape give. */
export function substituteGrafanaVariables(expr: string, rateInterval = '5m'): string {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}/g, rateInterval)
    .replace(/\$__range|\$\{__range\}/g, rateInterval)
    .replace(/\$\{?(site_id|channel|model|job|instance)\}?/g, '.*');
}

/** An input series in promtool's notation: `metric{labels}` and `0+60x10` values, one per minute. */
export interface InputSeries {
  readonly series: string;
  readonly values: string;
}

/** An expected result sample: labels as promtool prints them (`{a="b"}`), and the value. */
export interface ExpectedSample {
  readonly labels: string;
  readonly value: number;
}

/** `{labels} value` pairs of one line of promtool's report. */
function samplesOf(line: string): [string, number][] {
  return [...line.matchAll(/(\{[^}]*\})\s+(\S+?)(?:,|$)/g)].map((m) => [m[1]!, Number(m[2])]);
}

/**
 * Whether every failure promtool reports is the same samples with values equal up to
 * float rounding: a sum over series adds in the engine's order, which varies from run to
 * run (96.99999999999999 for 97), and promtool 2.42 compares exactly.
 */
function onlyRoundingDiffers(report: string): boolean {
  const exp = [...report.matchAll(/^\s*exp: (.*)$/gm)].map((m) => samplesOf(m[1]!));
  const got = [...report.matchAll(/^\s*got: (.*)$/gm)].map((m) => samplesOf(m[1]!));
  if (exp.length === 0 || exp.length !== got.length) return false;
  return exp.every((e, i) => {
    const g = got[i]!;
    const close = (a: number, b: number) => a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
    return e.length === g.length && e.every(([labels, value], j) => g[j]![0] === labels && close(g[j]![1], value));
  });
}

/**
 * Evaluates `expr` with the real Prometheus engine (`promtool test rules`, a
 * promql_expr_test at `evalTime`) over the given series and resolves when the
 * result is exactly `expected`; rejects with promtool's own report otherwise.
 */
export function expectPromql(expr: string, series: readonly InputSeries[], evalTime: string, expected: readonly ExpectedSample[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-dashboards-'));
  const file = join(dir, 'test.yml');
  const doc = {
    rule_files: [],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: series,
        promql_expr_test: [{ expr, eval_time: evalTime, exp_samples: expected }],
      },
    ],
  };
  writeFileSync(file, JSON.stringify(doc, null, 2)); // JSON is YAML
  return new Promise<void>((resolve, reject) => {
    execFile('promtool', ['test', 'rules', file], { timeout: 30_000 }, (err, stdout, stderr) => {
      rmSync(dir, { recursive: true, force: true });
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error('promtool is not installed: run the tests with `npm test` (scripts/setup.sh installs the Debian prometheus package)'));
      } else if (err && !onlyRoundingDiffers(stdout + stderr)) {
        reject(new Error(`promtool evaluated ${expr}\nand did not get ${JSON.stringify(expected)}:\n${stdout}${stderr}`));
      } else {
        resolve();
      }
    });
  });
}
