// 100 000 distinct random SQL texts, Redis keys, error messages, user ids and
// AI-gateway calls through one preloaded app (issue 9, "Load and cardinality";
// the URL paths are cardinality.test.ts): for each source the series of every
// metric family stay bounded, the app's memory after 100 000 items is about
// what it was after 50 000, and the overflow is visible. Then the label scan:
// no label value of the final exposition carries a query text, literal,
// parameter, key, token, email or user id.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request, requireServices, scrape, startApp, type RunningApp } from '@vigil/testing';
import { leakingLabels, seriesPerFamily } from './scan';

const ROOT = join(__dirname, '..', '..', '..');
const FIXTURE = join(ROOT, 'test', 'reliability', 'fixtures', 'cardinality-app.js');
const ITEMS = 100_000;
/** VIGIL_METRIC_CARDINALITY_LIMIT of the app: low, so that random words overflow it. */
const LIMIT = 500;
/**
 * Memory after 100 000 items over memory after 50 000, both after a full GC. The heap is steady (within a few %);
 * RSS moves ±15% between samples with the allocator, so its bound is generous: the point is "not proportional" (×2).
 */
const MAX_HEAP_RATIO = 1.25;
const MAX_RSS_RATIO = 1.5;

interface Source {
  kind: string;
  /** Families this source feeds; each must hold new label sets from it. */
  families: string[];
  /** Families recorded in vigil's own registry, bounded by VIGIL_METRIC_CARDINALITY_LIMIT and counted when they overflow. */
  overflowing: string[];
}

const SOURCES: Source[] = [
  { kind: 'sql', families: ['db_query_duration_seconds', 'db_slow_queries_total', 'application_errors_total'], overflowing: ['db_query_duration_seconds'] },
  { kind: 'redis', families: ['cache_operations_total', 'cache_operation_duration_seconds'], overflowing: [] },
  {
    kind: 'errors',
    families: ['application_errors_total', 'payment_failures_total', 'file_upload_failures_total', 'login_failures_total', 'security_events_total', 'api_abuse_detected_total', 'suspicious_access_patterns_total', 'ai_tasks_total', 'ai_tasks_submitted_total', 'ai_service_failures_total', 'ai_task_duration_seconds'],
    overflowing: [],
  },
  { kind: 'users', families: ['new_users_registered_total', 'credits_operations_total', 'credits_consumed_total'], overflowing: [] },
  {
    kind: 'gateway',
    families: ['new_api_model_requests_total', 'new_api_model_request_errors_total', 'new_api_model_request_duration_seconds', 'new_api_model_input_tokens_total', 'new_api_channel_status'],
    overflowing: ['new_api_channel_status'],
  },
];

interface Stats {
  rss: number;
  heapUsed: number;
  gc: boolean;
}

const figures: string[] = [];
after(function () {
  if (process.env['VIGIL_RELIABILITY_REPORT']) for (const f of figures) console.log(`      ${f}`);
});

describe('reliability: 100 000 distinct SQL texts, Redis keys, errors, user ids and gateway calls through a preloaded app', function () {
  this.timeout(90_000);
  let app: RunningApp;

  async function get<T>(path: string): Promise<T> {
    const res = await request(app.port, path, { timeoutMs: 85_000 });
    expect(res.status, `${path}: ${res.text.slice(0, 2000)}\n${app.stderr().slice(-2000)}`).to.equal(200);
    return JSON.parse(res.text) as T;
  }

  before(async function () {
    await requireServices('postgres', 'redis');
    app = await startApp({
      script: FIXTURE,
      nodeArgs: ['--expose-gc'],
      env: { VIGIL_METRIC_CARDINALITY_LIMIT: String(LIMIT), VIGIL_DB_SLOW_QUERY_MS: '1', VIGIL_USERS_MAX_TRACKED: '20000' },
    });
  });

  after(async function () {
    if (!app) return;
    try {
      if (app.child.exitCode === null) await get('/cleanup');
    } finally {
      await app.stop('SIGKILL');
    }
  });

  for (const source of SOURCES) {
    it(`${source.kind}: ${ITEMS} distinct items keep every family within its limit and memory flat`, async function () {
      const t0 = Date.now();
      await get(`/push?kind=${source.kind}&count=${ITEMS / 2}`);
      const half = await get<Stats>('/stats');
      await get(`/push?kind=${source.kind}&count=${ITEMS / 2}`);
      const full = await get<Stats>('/stats');
      const seconds = (Date.now() - t0) / 1000;
      expect(full.gc, 'the app runs with --expose-gc').to.equal(true);

      const text = await scrape(app.metricsPort);
      const series = seriesPerFamily(text);
      for (const family of source.families) {
        const n = series.get(family) ?? 0;
        expect(n, `${family} has no series after ${ITEMS} ${source.kind} items`).to.be.greaterThan(0);
      }
      for (const [family, n] of series) {
        // Lean families and SDK instruments (business, gateway) alike; +1: the overflow series.
        const bound = LIMIT + 1;
        expect(n, `${family}: ${n} label sets`).to.be.at.most(bound);
      }
      const overflow = seriesPerFamily(text).get('vigil_metric_overflow_total') ?? 0;
      for (const family of source.overflowing) {
        const m = new RegExp(`^vigil_metric_overflow_total\\{metric="${family}"\\} (\\d+)`, 'm').exec(text);
        expect(m, `vigil_metric_overflow_total{metric="${family}"} (${overflow} overflow series)`).not.to.equal(null);
        expect(Number(m![1])).to.be.greaterThan(0);
        expect(text).to.match(new RegExp(`^${family}(?:_count)?\\{otel_metric_overflow="true"\\} \\d+`, 'm'));
      }

      const ratio = full.rss / half.rss;
      expect(full.heapUsed / half.heapUsed, `heap ${mb(half.heapUsed)} MB after ${ITEMS / 2}, ${mb(full.heapUsed)} MB after ${ITEMS}`).to.be.at.most(MAX_HEAP_RATIO);
      expect(ratio, `RSS ${mb(half.rss)} MB after ${ITEMS / 2}, ${mb(full.rss)} MB after ${ITEMS}`).to.be.at.most(MAX_RSS_RATIO);
      const largest = source.families.map((f) => `${f} ${series.get(f)}`).join(', ');
      figures.push(
        `${source.kind}: ${ITEMS} items in ${seconds.toFixed(1)} s; RSS ${mb(half.rss)} → ${mb(full.rss)} MB (×${ratio.toFixed(3)}), heap ${mb(half.heapUsed)} → ${mb(full.heapUsed)} MB; label sets: ${largest}`,
      );
    });
  }

  it('the overflow is visible: vigil_metric_overflow_total, otel_metric_overflow series, and the VigilMetricOverflow alert rule', async function () {
    const text = await scrape(app.metricsPort);
    expect(text).to.match(/^# TYPE vigil_metric_overflow_total counter$/m);
    const rules = readFileSync(join(ROOT, 'prometheus', 'alerts', 'vigil_self.yml'), 'utf8');
    expect(rules).to.match(/- alert: VigilMetricOverflow\n\s+expr: \|[\s\S]*?increase\(vigil_metric_overflow_total\[/);
    const otelOverflows = [...text.matchAll(/^(\w+?)(?:_count|_sum|_bucket)?\{otel_metric_overflow="true"[,}]/gm)].map((m) => m[1]!);
    figures.push(`families with an overflow series: ${[...new Set(otelOverflows)].sort().join(', ')}`);
    figures.push(`vigil_metric_overflow_total: ${[...text.matchAll(/^vigil_metric_overflow_total\{metric="(\w+)"\} (\d+)/gm)].map((m) => `${m[1]} ${m[2]}`).join(', ')}`);
  });

  it('label scan: no label value carries a query text, literal, parameter, key, token, email or user id', async function () {
    const text = await scrape(app.metricsPort);
    const secrets = await get<string[]>('/secrets');
    expect(secrets.length, 'the app kept a sample of its inputs').to.be.at.least(1000);
    expect(leakingLabels(text, secrets)).to.deep.equal([]);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(check.error, 'promtool must be installed (scripts/setup.sh installs it)').to.equal(undefined);
    expect(`${check.stdout}${check.stderr}`.trim().slice(0, 2000)).to.equal('');
    expect(check.status).to.equal(0);
    figures.push(`label scan: ${text.length} bytes, ${[...seriesPerFamily(text).values()].reduce((a, b) => a + b, 0)} label sets, ${secrets.length} sampled inputs looked for`);
  });

  it('stderr: each bound reached is said once, no stack trace, no line repeated', function () {
    const lines = app.stderr().split('\n').filter((l) => l.length > 0);
    const vigil = lines.filter((l) => l.startsWith('[vigil]'));
    expect(lines.filter((l) => /^\s+at /.test(l)), app.stderr().slice(0, 3000)).to.deep.equal([]);
    expect(new Set(vigil).size, 'repeated lines').to.equal(vigil.length);
    expect(vigil.length, vigil.join('\n')).to.be.below(40);
    figures.push(`stderr: ${vigil.length} vigil lines`);
  });
});

function mb(bytes: number): string {
  return (bytes / 1048576).toFixed(1);
}
