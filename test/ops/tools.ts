/** Helpers for the operations-asset tests: run promtool / amtool and show their output on failure. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
