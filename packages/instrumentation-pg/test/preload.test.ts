import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { parseMetrics, requireServices, sampleValue } from '@vigil/testing';

const fixtures = join(__dirname, '..', '..', 'test', 'fixtures');

interface Output {
  seen: Record<string, unknown>;
  metrics: string | null;
  spans: { query: number; poolConnect: number } | null;
}

function runApp(args: string[], env: Record<string, string> = {}): Promise<Output> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: fixtures, timeout: 30_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`node ${args.join(' ')} failed: ${err.message}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as Output);
      } catch {
        reject(new Error(`node ${args.join(' ')} printed no result\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
      }
    });
  });
}

describe('PgInstrumentation preloaded with --require and --import', function () {
  this.timeout(60_000);
  before(() => requireServices('postgres'));

  for (const [style, preload, app] of [
    ['CommonJS app, --require', ['--require', './register.cjs'], 'app.cjs'],
    ['ESM app, --import', ['--import', './register.mjs'], 'app.mjs'],
  ] as const) {
    it(`measures a ${style} with no change to what the app sees`, async () => {
      const plain = await runApp([app]);
      const preloaded = await runApp([...preload, app]);
      expect(plain.metrics).to.equal(null);
      // Same rows, same errors, and an unhandled rejection stays unhandled.
      expect(preloaded.seen).to.deep.equal(plain.seen);
      expect(preloaded.seen.unhandled).to.equal('42P01');
      const samples = parseMetrics(preloaded.metrics!);
      const pool = `vigil-preload-${app.endsWith('.mjs') ? 'esm' : 'cjs'}`;
      expect(sampleValue(samples, 'db_query_duration_seconds_count', { table: 'pg_class', operation: 'select' })).to.equal(2);
      expect(sampleValue(samples, 'db_query_duration_seconds_count', { table: 'pg_namespace', operation: 'select' })).to.equal(1);
      expect(sampleValue(samples, 'db_query_duration_seconds_count', { table: 'vigil_preload_missing', operation: 'select' })).to.equal(1);
      expect(sampleValue(samples, 'db_slow_queries_total', { table: 'pg_class', operation: 'select' })).to.equal(1);
      expect(sampleValue(samples, 'application_errors_total', { error_type: 'syntax_error_or_access_rule_violation', component: 'database' })).to.equal(2);
      expect(sampleValue(samples, 'db_connection_pool_size', { pool })).to.equal(3);
      expect(sampleValue(samples, 'db_connection_pool_usage', { pool })).to.equal(0);
      expect(sampleValue(samples, 'db_connection_pool_waiting', { pool })).to.equal(0);
      expect(preloaded.metrics).to.not.include('otel_scope');
    });
  }

  for (const order of ['vigil-first', 'otel-first']) {
    it(`works next to the upstream @opentelemetry/instrumentation-pg (tracing), loaded ${order}`, async () => {
      const plain = await runApp(['app.cjs']);
      const both = await runApp(['--require', './register-with-otel.cjs', 'app.cjs'], { VIGIL_ORDER: order });
      expect(both.seen).to.deep.equal(plain.seen);
      // Upstream still traces every query and every pool checkout...
      expect(both.spans!.query).to.be.at.least(5);
      expect(both.spans!.poolConnect).to.equal(2);
      // ...and vigil still measures queries and sees the pool.
      const samples = parseMetrics(both.metrics!);
      expect(sampleValue(samples, 'db_query_duration_seconds_count', { table: 'pg_class', operation: 'select' })).to.equal(2);
      expect(sampleValue(samples, 'db_slow_queries_total', { table: 'pg_class', operation: 'select' })).to.equal(1);
      expect(sampleValue(samples, 'db_connection_pool_size', { pool: 'vigil-preload-cjs' })).to.equal(3);
    });
  }
});
