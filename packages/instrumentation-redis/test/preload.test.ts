// The instrumentation in real processes: a CommonJS application preloaded with --require
// and an ESM application preloaded with --import get exactly the results they get without
// vigil, their commands are counted, the server's memory is reported, and the process
// still ends by itself when the application closes its connections.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { requireServices, sampleValue } from '@vigil/testing';
import { cacheCounts, uniquePrefix } from './helpers';

const FIXTURES = path.join(__dirname, '..', '..', 'test', 'fixtures');
const SERVER = `${process.env.REDIS_HOST ?? '127.0.0.1'}:${process.env.REDIS_PORT ?? 6379}`;

interface Run {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Runs node with args; fails when the process does not end by itself within 20 s. */
function run(args: string[], prefix: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: FIXTURES,
      env: { ...process.env, SCENARIO_PREFIX: prefix },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${args.join(' ')} did not end by itself within 20 s\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
    }, 20_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? 'unknown', stdout, stderr });
    });
  });
}

function output(r: Run): { ioredis: unknown; nodeRedis: unknown; metrics?: string } {
  expect(r.code, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as { ioredis: unknown; nodeRedis: unknown; metrics?: string };
}

/** What the scenario must count: its setup, and per client the same reads, one of them an error. */
const EXPECTED = {
  'delete/success': 1,
  'set/success': 1,
  'hset/success': 1,
  'get/hit': 6,
  'get/miss': 4,
  'get/error': 2,
  'mget/hit': 2,
  'mget/miss': 2,
  'hgetall/hit': 2,
  'exists/hit': 2,
  'exists/miss': 2,
  'hget/hit': 2,
  'hmget/hit': 2,
  'hmget/miss': 2,
};

describe('@vigil/instrumentation-redis in preloaded processes (--require, --import)', function () {
  before(async function () {
    await requireServices('redis');
  });

  it('returns what the application gets without vigil, counts every command, reports memory, and lets the process end', async function () {
    const prefix = uniquePrefix('preload');
    const plain = output(await run(['scenario.cjs'], prefix));
    expect(plain.metrics).to.equal(undefined);

    for (const [mode, args] of [
      ['--require', ['--require', './preload.cjs', 'scenario.cjs']],
      ['--import', ['--import', './preload.mjs', 'scenario.mjs']],
    ] as const) {
      const out = output(await run([...args], prefix));
      expect(out.ioredis, `${mode}: ioredis results`).to.deep.equal(plain.ioredis);
      expect(out.nodeRedis, `${mode}: node-redis results`).to.deep.equal(plain.nodeRedis);
      const text = out.metrics ?? '';
      const got = Object.fromEntries([...cacheCounts(text)].filter(([k]) => !k.endsWith('/count')));
      expect(got, `${mode}: cache_operations_total`).to.deep.equal(EXPECTED);
      expect(sampleValue(text, 'cache_size_bytes', { server: SERVER }), `${mode}: cache_size_bytes`).to.be.above(0);
      expect(sampleValue(text, 'redis_memory_usage_ratio', { server: SERVER }), `${mode}: redis_memory_usage_ratio`).to.be.above(0);
      expect(text, `${mode}: no key in any label`).not.to.include(prefix);
    }
  });
});
