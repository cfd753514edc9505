/** Helpers for the operations-asset tests: run promtool / amtool and show their output on failure. */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

/** The repository root (this file runs from test/build/ops/). */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The command line and everything it printed, for assertion messages. */
  transcript: string;
}

/** Runs a program to completion; fails loudly when the program is not installed. */
export function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): ToolResult {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? REPO_ROOT, env: opts.env ?? process.env, input: opts.input, encoding: 'utf8', timeout: 120_000 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT'
      ? `${cmd} is not installed: run scripts/setup.sh (Debian packages prometheus / prometheus-alertmanager)`
      : `${cmd} failed to run: ${r.error.message}`);
  }
  const stdout = r.stdout ?? '';
  const stderr = r.stderr ?? '';
  return { status: r.status, stdout, stderr, transcript: `$ ${cmd} ${args.join(' ')}\n(exit ${r.status})\n${stdout}${stderr}` };
}

/** Reads and parses a YAML file of the repository. */
export function readYaml<T = unknown>(relPath: string): T {
  return parse(readFileSync(join(REPO_ROOT, relPath), 'utf8')) as T;
}

/** A Prometheus rule file. */
export interface RuleFile {
  groups: Array<{
    name: string;
    rules: Array<{
      alert?: string;
      record?: string;
      expr: string;
      for?: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    }>;
  }>;
}

/** An alerting rule with the file it is in. */
export interface AlertRule {
  file: string;
  group: string;
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Files of a repository folder with one of the extensions, sorted, as repository-relative paths. */
export function listFiles(relDir: string, exts: readonly string[]): string[] {
  return readdirSync(join(REPO_ROOT, relDir))
    .filter((f) => exts.some((e) => f.endsWith(e)))
    .sort()
    .map((f) => `${relDir}/${f}`);
}

/** Every alerting rule of prometheus/alerts/*.yml. */
export function alertRules(): AlertRule[] {
  const out: AlertRule[] = [];
  for (const file of listFiles('prometheus/alerts', ['.yml'])) {
    for (const g of readYaml<RuleFile>(file).groups) {
      for (const r of g.rules) {
        if (r.alert) out.push({ file, group: g.name, alert: r.alert, expr: r.expr, for: r.for, labels: r.labels ?? {}, annotations: r.annotations ?? {} });
      }
    }
  }
  return out;
}

/** Parses a Prometheus duration (1h30m, 5m, 30s) into milliseconds. */
export function durationMs(d: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };
  let total = 0;
  const re = /(\d+)(ms|s|m|h|d|w|y)/g;
  let consumed = 0;
  for (const m of d.matchAll(re)) {
    total += Number(m[1]) * units[m[2]!]!;
    consumed += m[0].length;
  }
  if (consumed !== d.length || d.length === 0) throw new Error(`not a Prometheus duration: ${d}`);
  return total;
}

/** GitHub's anchor for a Markdown heading's text. */
export function githubAnchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}
