import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as catalog from '../src';
import { allEntries, derivedEntries, findEntry, recordedEntries, renderMetricsTable, validateCatalog } from '../src';
import type { CatalogEntry } from '../src';

const ROOT = join(__dirname, '..', '..', '..', '..');

describe('catalog', () => {
  it('passes the Prometheus naming rules, with no duplicate exposed name', () => {
    expect(validateCatalog(allEntries)).to.deep.equal([]);
  });

  it('rejects what the naming rules forbid', () => {
    const bad: CatalogEntry[] = [
      { kind: 'recorded', name: 'requests', type: 'counter', unit: '', help: 'x', labels: [], seeds: ['vigil'] },
      { kind: 'recorded', name: 'latency_ms', type: 'histogram', unit: 's', help: 'x', labels: ['le'], buckets: [2, 1], seeds: ['vigil'] },
      { kind: 'recorded', name: 'size', type: 'gauge', unit: 'By', help: 'x', labels: ['a', 'a'], seeds: ['vigil'] },
      { kind: 'recorded', name: 'size_bytes', type: 'gauge', unit: '', help: 'x', labels: ['1x'], seeds: [] },
      { kind: 'derived', name: 'requests', expr: 'x', unit: '', help: 'x', labels: [], seeds: ['vigil'] },
    ];
    const problems = validateCatalog(bad).join('\n');
    for (const fragment of [
      'requests: counters must end in _total',
      'latency_ms: unit s needs the base-unit suffix _seconds',
      'latency_ms: use base units',
      'latency_ms: label "le" is reserved',
      'latency_ms: buckets must be strictly increasing',
      'size: repeats a label key',
      'size: unit By needs the base-unit suffix _bytes',
      'size_bytes: name ends in _bytes but the unit is ""',
      'size_bytes: label "1x" is not a valid',
      'size_bytes: names no source',
      'requests is exposed by both a recorded metric and a recording rule',
    ]) {
      expect(problems).to.include(fragment);
    }
  });

  it('holds every metric the seeds name, with their label keys and buckets', () => {
    // Names as written in the two seeds (000: Prometheus Metrics 说明; 004: indicator lists and code).
    const seedNames = [
      'new_api_model_requests_total', 'new_api_model_request_duration_seconds', 'new_api_model_request_errors_total',
      'new_api_channel_status', 'new_api_active_requests',
      'http_requests_total', 'http_request_duration_seconds', 'http_errors_rate', 'http_concurrent_connections',
      'db_query_duration_seconds', 'db_connection_pool_usage', 'db_connection_pool_size', 'db_slow_queries_total', 'db_deadlocks_total',
      'cache_hit_rate', 'cache_size_bytes', 'cache_operation_duration_seconds', 'redis_memory_usage_ratio', 'cache_operations_total',
      'daily_active_users', 'monthly_active_users', 'new_users_registered', 'user_retention_rate', 'active_users_current',
      'ai_tasks_submitted_total', 'ai_task_success_rate', 'ai_task_duration_avg', 'ai_service_usage_distribution',
      'ai_tasks_total', 'ai_task_duration_seconds',
      'credits_consumed_total', 'avg_user_credits', 'credits_purchased_total', 'credit_conversion_rate',
      'credits_operations_total', 'user_credits_balance',
      'application_errors_total', 'ai_service_failures_total', 'payment_failures_total', 'file_upload_failures_total',
      'login_failures_total', 'api_abuse_detected', 'suspicious_access_patterns', 'security_events_total', 'system_info',
    ];
    const missing = seedNames.filter((n) => !allEntries.some((e) => e.name === n));
    expect(missing).to.deep.equal([]);

    const labels = (name: string) => findEntry(name)?.labels;
    expect(labels('http_requests_total')).to.deep.equal(['method', 'endpoint', 'status_code', 'user_role']);
    expect(labels('new_api_model_requests_total')).to.deep.equal(
      ['channel_id', 'channel_name', 'channel_type', 'model_name', 'status', 'error_code', 'site_id']);
    expect(labels('new_api_model_request_errors_total')).to.deep.equal(
      ['channel_id', 'channel_name', 'channel_type', 'model_name', 'error_code', 'error_message', 'site_id']);
    expect(labels('new_api_channel_status')).to.deep.equal(['channel_id', 'channel_name', 'channel_type', 'status', 'site_id']);
    expect(labels('ai_tasks_total')).to.deep.equal(['service', 'status', 'user_role']);
    expect(labels('security_events_total')).to.deep.equal(['event_type', 'severity']);

    expect(catalog.httpRequestDurationSeconds.buckets).to.deep.equal([0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
    expect(catalog.dbQueryDurationSeconds.buckets).to.deep.equal([0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1]);
    expect(catalog.aiTaskDurationSeconds.buckets).to.deep.equal([1, 5, 10, 30, 60, 120, 300, 600, 1200]);
    expect(catalog.userCreditsBalance.buckets).to.deep.equal([0, 10, 50, 100, 500, 1000, 5000, Infinity]);
  });

  it('marks ratios, rates and averages as recording rules over recorded metrics', () => {
    for (const e of derivedEntries) {
      const names = e.expr.match(/[a-z_][a-z0-9_]*(?=\{|\[)/g) ?? [];
      expect(names, e.name).to.not.be.empty;
      for (const n of names) {
        const source = findEntry(n);
        expect(source?.kind, `${e.name} reads ${n}`).to.equal('recorded');
      }
    }
    expect(recordedEntries.length + derivedEntries.length).to.equal(allEntries.length);
  });

  it('exports every entry from the package index', () => {
    const exported = new Set<unknown>(Object.values(catalog));
    expect(allEntries.filter((e) => !exported.has(e)).map((e) => e.name)).to.deep.equal([]);
  });

  it('keeps docs/metrics.md and the README table current (run `npm run generate`)', () => {
    const table = renderMetricsTable();
    expect(readFileSync(join(ROOT, 'docs', 'metrics.md'), 'utf8')).to.include(table);
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).to.include(table);
  });
});
