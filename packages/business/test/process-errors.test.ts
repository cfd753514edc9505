import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';

const CHILD = join(__dirname, 'fixtures', 'process-errors-child.js');

interface Run {
  status: number | null;
  signal: string | null;
  stderr: string;
  appStdout: string;
  metrics: string[];
}

function run(scenario: string, vigil: number, nodeArgs: string[] = [], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [...nodeArgs, CHILD], {
    encoding: 'utf8',
    env: { ...process.env, ...env, SCENARIO: scenario, VIGIL: String(vigil) },
    timeout: 20_000,
  });
  const out = r.stdout.split('\n');
  return {
    status: r.status,
    signal: r.signal,
    // Warnings carry the pid: "(node:12345) UnhandledPromiseRejectionWarning ..."
    stderr: r.stderr.replace(/\(node:\d+\)/g, '(node:PID)'),
    appStdout: out.filter((l) => !l.startsWith('METRIC ')).join('\n'),
    metrics: out.filter((l) => l.startsWith('METRIC application_errors_total')),
  };
}

const counted = (errorType: string, times = 1) =>
  Array.from({ length: times }, () => `METRIC application_errors_total {"error_type":"${errorType}","component":"process"} 1`);

interface Case {
  title: string;
  scenario: string;
  nodeArgs?: string[];
  env?: Record<string, string>;
  exit: number;
  errors: string[];
  /** How many separate captures run in the child. @default 1 */
  captures?: number;
}

const CASES: Case[] = [
  { title: 'an uncaught exception (crash, exit 1)', scenario: 'uncaught', exit: 1, errors: counted('Error') },
  { title: 'an uncaught exception the app handles (keeps running)', scenario: 'uncaught-handled', exit: 0, errors: counted('Error') },
  { title: 'an unhandled rejection, default mode (crash, exit 1)', scenario: 'rejection', exit: 1, errors: counted('TypeError') },
  { title: 'an unhandled rejection with a non-Error reason', scenario: 'rejection-string', exit: 1, errors: counted('UnhandledPromiseRejection') },
  { title: 'an unhandled rejection the app listens for, listener added after vigil', scenario: 'app-listener', exit: 0, errors: counted('Error') },
  { title: 'an unhandled rejection the app listens for, listener added before vigil', scenario: 'early-listener', exit: 0, errors: counted('Error') },
  { title: 'a rejection after the app removed its listener (crash again)', scenario: 'listener-removed', exit: 1, errors: counted('RangeError') },
  { title: 'a once listener: the first rejection handled, the second crashes', scenario: 'once-listener', exit: 1, errors: counted('Error', 2) },
  { title: '--unhandled-rejections=warn (warning, keeps running)', scenario: 'rejection', nodeArgs: ['--unhandled-rejections=warn'], exit: 0, errors: counted('TypeError') },
  { title: '--unhandled-rejections=warn-with-error-code (warning, exit 1)', scenario: 'rejection', nodeArgs: ['--unhandled-rejections=warn-with-error-code'], exit: 1, errors: counted('TypeError') },
  { title: '--unhandled-rejections=warn-with-error-code with an app listener', scenario: 'app-listener', nodeArgs: ['--unhandled-rejections=warn-with-error-code'], exit: 0, errors: counted('Error') },
  { title: '--unhandled-rejections=strict', scenario: 'rejection', nodeArgs: ['--unhandled-rejections=strict'], exit: 1, errors: counted('TypeError') },
  { title: '--unhandled-rejections=strict with an app listener', scenario: 'app-listener', nodeArgs: ['--unhandled-rejections=strict'], exit: 1, errors: counted('Error') },
  { title: '--unhandled-rejections=none (silent)', scenario: 'rejection', nodeArgs: ['--unhandled-rejections=none'], exit: 0, errors: counted('TypeError') },
  { title: 'two captures, app listener removed again (crash as without vigil)', scenario: 'listener-removed', captures: 2, exit: 1, errors: counted('RangeError', 2) },
  { title: 'two captures, app listener', scenario: 'app-listener', captures: 2, exit: 0, errors: counted('Error', 2) },
  { title: 'NODE_OPTIONS=--unhandled-rejections=warn', scenario: 'rejection-string', env: { NODE_OPTIONS: '--unhandled-rejections=warn' }, exit: 0, errors: counted('UnhandledPromiseRejection') },
];

describe('business: captureProcessErrors in spawned processes', () => {
  for (const c of CASES) {
    it(`${c.title}: counted exactly as often as it happens, exit code, stderr and output unchanged`, () => {
      const without = run(c.scenario, 0, c.nodeArgs, c.env);
      const withVigil = run(c.scenario, c.captures ?? 1, c.nodeArgs, c.env);
      expect(without.status, without.stderr).to.equal(c.exit);
      expect(withVigil.status, withVigil.stderr).to.equal(without.status);
      expect(withVigil.signal).to.equal(without.signal);
      expect(withVigil.stderr).to.equal(without.stderr);
      expect(withVigil.appStdout).to.equal(without.appStdout);
      expect(without.metrics).to.deep.equal([]);
      expect(withVigil.metrics).to.deep.equal(c.errors);
    });
  }
});
