import {
  alertRelayNotificationsTotal,
  cacheOperationDurationSeconds,
  cacheOperationsTotal,
  cacheSizeBytes,
  dbConnectionPoolSize,
  dbConnectionPoolUsage,
  dbConnectionPoolWaiting,
  dbDeadlocksTotal,
  dbQueryDurationSeconds,
  dbSlowQueriesTotal,
  healthCheckStatus,
  httpConcurrentConnections,
  httpRequestDurationSeconds,
  httpRequestsTotal,
  nodejsEventloopLagMaxSeconds,
  nodejsEventloopLagP50Seconds,
  nodejsEventloopLagP99Seconds,
  nodejsExternalMemoryBytes,
  nodejsGcDurationSeconds,
  nodejsHeapSizeTotalBytes,
  nodejsHeapSizeUsedBytes,
  processCpuSecondsTotal,
  processResidentMemoryBytes,
  processStartTimeSeconds,
  redisMemoryUsageRatio,
  vigilMetricOverflowTotal,
} from '@vigil/catalog';
import { buildDashboard, labelValuesVariable, stateTimelinePanel, statPanel, steps, timeseriesPanel, valueMappings } from './panels';
import { aggregate, eq, hcount, hsum, quantile, rate, ratio, re, sel, sumBy } from './promql';
import type { DashboardJson } from './types';

// One service instrumented with @vigil/node: HTTP, PostgreSQL, Redis, the Node.js
// runtime and vigil itself, filtered by the scrape target (job, instance).

/** The job / instance variables every query filters by. */
const S = { job: re('$job'), instance: re('$instance') } as const;

const H = httpRequestsTotal;
const DB = dbQueryDurationSeconds;
const C = cacheOperationsTotal;

export function serviceDashboard(): DashboardJson {
  return buildDashboard({
    uid: 'vigil-service',
    title: 'Service (HTTP, database, cache, runtime)',
    description: 'What @vigil/node records with no code change: HTTP by endpoint, PostgreSQL by table and pool, Redis, the Node.js runtime and vigil\'s own health.',
    tags: ['vigil', 'service', 'runtime'],
    variables: [
      labelValuesVariable('job', 'job', sel(processStartTimeSeconds), 'Job'),
      labelValuesVariable('instance', 'instance', sel(processStartTimeSeconds, { job: re('$job') }), 'Instance'),
    ],
    sections: [
      {
        title: 'Overview',
        panels: [
          statPanel({
            title: 'Requests',
            description: 'HTTP requests per second across the selected instances.',
            unit: 'reqps',
            queries: [{ expr: `${sumBy(H, [], rate(sel(H, S)))} or vector(0)`, legend: 'requests/s' }],
          }),
          statPanel({
            title: '5xx share',
            description: 'Share of HTTP requests answered with a 5xx status (HTTPHighErrorRate fires above 5% for 2 minutes).',
            unit: 'percentunit',
            decimals: 2,
            thresholds: steps('green', [0.01, 'orange'], [0.05, 'red']),
            noValue: 'No traffic',
            queries: [{ expr: `(${sumBy(H, [], rate(sel(H, { status_code: re('5..'), ...S })))} or vector(0)) / ${sumBy(H, [], rate(sel(H, S)))}`, legend: '5xx share' }],
          }),
          statPanel({
            title: 'P95 response time',
            description: '95th percentile HTTP response time (SlowResponseTime fires above 2 s for 3 minutes).',
            unit: 's',
            thresholds: steps('green', [1, 'orange'], [2, 'red']),
            queries: [{ expr: quantile(0.95, httpRequestDurationSeconds, [], S), legend: 'p95' }],
          }),
          statPanel({
            title: 'In-flight requests',
            description: 'HTTP requests being served now.',
            unit: 'short',
            queries: [{ expr: `${sumBy(httpConcurrentConnections, [], sel(httpConcurrentConnections, S))} or vector(0)`, legend: 'in flight' }],
          }),
          statPanel({
            title: 'Uptime',
            description: 'Time since the most recently started selected instance started: a small value means a restart.',
            unit: 's',
            thresholds: steps('orange', [600, 'green']),
            queries: [{ expr: `min(time() - ${sel(processStartTimeSeconds, S)})`, legend: 'uptime' }],
          }),
          statPanel({
            title: 'Failing health checks',
            description: 'Health checks (database, Redis, ...) whose last result was unhealthy.',
            unit: 'short',
            thresholds: steps('green', [1, 'red']),
            sparkline: false,
            queries: [{ expr: `count(${sel(healthCheckStatus, S)} == 0) or vector(0)`, legend: 'failing' }],
          }),
        ],
      },
      {
        title: 'HTTP',
        panels: [
          timeseriesPanel({
            title: 'Requests by endpoint',
            description: 'HTTP requests per second by method and route template.',
            unit: 'reqps',
            stack: true,
            queries: [{ expr: sumBy(H, ['method', 'endpoint'], rate(sel(H, S))), legend: '{{method}} {{endpoint}}' }],
          }),
          timeseriesPanel({
            title: 'Responses by status code',
            description: 'HTTP responses per second by status code.',
            unit: 'reqps',
            stack: true,
            queries: [{ expr: sumBy(H, ['status_code'], rate(sel(H, S))), legend: '{{status_code}}' }],
          }),
          timeseriesPanel({
            title: '5xx share by endpoint',
            description: 'Share of requests answered with a 5xx status, by route (endpoints without errors are not drawn).',
            unit: 'percentunit',
            min: 0,
            thresholds: steps('green', [0.05, 'red']),
            thresholdLines: true,
            queries: [{ expr: ratio(H, ['endpoint'], { status_code: re('5..'), ...S }, S), legend: '{{endpoint}}' }],
          }),
          timeseriesPanel({
            title: 'P95 response time by endpoint',
            description: '95th percentile HTTP response time by method and route.',
            unit: 's',
            thresholds: steps('green', [2, 'red']),
            thresholdLines: true,
            queries: [{ expr: quantile(0.95, httpRequestDurationSeconds, ['method', 'endpoint'], S), legend: '{{method}} {{endpoint}}' }],
          }),
          timeseriesPanel({
            title: 'In-flight requests',
            description: 'HTTP requests being served, by instance.',
            unit: 'short',
            queries: [{ expr: sumBy(httpConcurrentConnections, ['instance'], sel(httpConcurrentConnections, S)), legend: '{{instance}}' }],
            w: 24,
          }),
        ],
      },
      {
        title: 'Database (PostgreSQL)',
        panels: [
          timeseriesPanel({
            title: 'Queries by table and operation',
            description: 'Database queries per second, by table and operation (SELECT, INSERT, ...).',
            unit: 'ops',
            stack: true,
            queries: [{ expr: sumBy(DB, ['table', 'operation'], rate(hcount(DB, S))), legend: '{{operation}} {{table}}' }],
          }),
          timeseriesPanel({
            title: 'P95 query time by table and operation',
            description: '95th percentile query duration, by table and operation.',
            unit: 's',
            queries: [{ expr: quantile(0.95, DB, ['table', 'operation'], S), legend: '{{operation}} {{table}}' }],
          }),
          timeseriesPanel({
            title: 'Connection pool',
            description: 'Clients checked out of each pool, the pool\'s maximum size, and requests waiting for a client. Waiting above zero means the pool is the bottleneck.',
            unit: 'short',
            queries: [
              { expr: sumBy(dbConnectionPoolUsage, ['pool'], sel(dbConnectionPoolUsage, S)), legend: 'in use {{pool}}' },
              { expr: sumBy(dbConnectionPoolSize, ['pool'], sel(dbConnectionPoolSize, S)), legend: 'size {{pool}}' },
              { expr: sumBy(dbConnectionPoolWaiting, ['pool'], sel(dbConnectionPoolWaiting, S)), legend: 'waiting {{pool}}' },
            ],
          }),
          timeseriesPanel({
            title: 'Connection pool usage',
            description: 'Clients in use over pool size, worst instance per pool (DatabaseConnectionPoolExhausted fires above 90% for 2 minutes).',
            unit: 'percentunit',
            min: 0,
            max: 1,
            thresholds: steps('green', [0.9, 'red']),
            thresholdLines: true,
            queries: [{ expr: aggregate('max', dbConnectionPoolUsage, ['pool'], `${sel(dbConnectionPoolUsage, S)} / ${sel(dbConnectionPoolSize, S)}`), legend: '{{pool}}' }],
          }),
          timeseriesPanel({
            title: 'Slow queries',
            description: 'Queries slower than the slow-query threshold, per second, by table and operation.',
            unit: 'cps',
            stack: true,
            queries: [{ expr: sumBy(dbSlowQueriesTotal, ['table', 'operation'], rate(sel(dbSlowQueriesTotal, S))), legend: '{{operation}} {{table}}' }],
          }),
          timeseriesPanel({
            title: 'Deadlocks',
            description: 'Statements aborted by a deadlock (SQLSTATE 40P01), per second, by table and operation.',
            unit: 'cps',
            stack: true,
            queries: [{ expr: sumBy(dbDeadlocksTotal, ['table', 'operation'], rate(sel(dbDeadlocksTotal, S))), legend: '{{operation}} {{table}}' }],
          }),
        ],
      },
      {
        title: 'Cache (Redis)',
        panels: [
          timeseriesPanel({
            title: 'Cache operations by result',
            description: 'Cache operations per second by operation and result (hit / miss for reads, success / error for the rest).',
            unit: 'ops',
            stack: true,
            queries: [{ expr: sumBy(C, ['operation', 'result'], rate(sel(C, S))), legend: '{{operation}} {{result}}' }],
          }),
          timeseriesPanel({
            title: 'Cache hit rate',
            description: 'Share of cache reads that were hits for the selected instances (the business dashboard shows the cache_hit_rate rule across all). LowCacheHitRate fires below 70%.',
            unit: 'percentunit',
            min: 0,
            max: 1,
            thresholds: steps('red', [0.7, 'green']),
            thresholdLines: true,
            queries: [{ expr: ratio(C, [], { result: eq('hit'), ...S }, { result: re('hit|miss'), ...S }), legend: 'hit rate' }],
          }),
          timeseriesPanel({
            title: 'Cache latency p50 / p95 / p99',
            description: 'Cache operation duration quantiles, by operation.',
            unit: 's',
            queries: [
              { expr: quantile(0.5, cacheOperationDurationSeconds, ['operation'], S), legend: 'p50 {{operation}}' },
              { expr: quantile(0.95, cacheOperationDurationSeconds, ['operation'], S), legend: 'p95 {{operation}}' },
              { expr: quantile(0.99, cacheOperationDurationSeconds, ['operation'], S), legend: 'p99 {{operation}}' },
            ],
          }),
          timeseriesPanel({
            title: 'Redis memory',
            description: 'Used memory over maxmemory per Redis server (RedisHighMemoryUsage fires above 85% for 5 minutes).',
            unit: 'percentunit',
            min: 0,
            max: 1,
            thresholds: steps('green', [0.85, 'red']),
            thresholdLines: true,
            queries: [{ expr: aggregate('max', redisMemoryUsageRatio, ['server'], sel(redisMemoryUsageRatio, S)), legend: '{{server}}' }],
            w: 6,
          }),
          timeseriesPanel({
            title: 'Redis used memory',
            description: 'Memory used by each Redis server (INFO memory used_memory).',
            unit: 'bytes',
            queries: [{ expr: aggregate('max', cacheSizeBytes, ['server'], sel(cacheSizeBytes, S)), legend: '{{server}}' }],
            w: 6,
          }),
        ],
      },
      {
        title: 'Node.js runtime',
        panels: [
          timeseriesPanel({
            title: 'CPU',
            description: 'CPU time per second, by instance: 100% is one core fully busy (the JavaScript thread of a Node.js process cannot use more than one).',
            unit: 'percentunit',
            min: 0,
            queries: [{ expr: sumBy(processCpuSecondsTotal, ['instance'], rate(sel(processCpuSecondsTotal, S))), legend: '{{instance}}' }],
            w: 8,
          }),
          timeseriesPanel({
            title: 'Memory',
            description: 'Resident set size, V8 heap used and total, and external (C++) memory, by instance.',
            unit: 'bytes',
            queries: [
              { expr: sumBy(processResidentMemoryBytes, ['instance'], sel(processResidentMemoryBytes, S)), legend: 'rss {{instance}}' },
              { expr: sumBy(nodejsHeapSizeUsedBytes, ['instance'], sel(nodejsHeapSizeUsedBytes, S)), legend: 'heap used {{instance}}' },
              { expr: sumBy(nodejsHeapSizeTotalBytes, ['instance'], sel(nodejsHeapSizeTotalBytes, S)), legend: 'heap total {{instance}}' },
              { expr: sumBy(nodejsExternalMemoryBytes, ['instance'], sel(nodejsExternalMemoryBytes, S)), legend: 'external {{instance}}' },
            ],
            w: 8,
          }),
          timeseriesPanel({
            title: 'Event loop lag',
            description: 'Event loop delay since the previous collection: median, 99th percentile and maximum, by instance. Sustained lag above ~100 ms means requests queue behind synchronous work.',
            unit: 's',
            thresholds: steps('green', [0.1, 'red']),
            thresholdLines: true,
            queries: [
              { expr: sumBy(nodejsEventloopLagP50Seconds, ['instance'], sel(nodejsEventloopLagP50Seconds, S)), legend: 'p50 {{instance}}' },
              { expr: sumBy(nodejsEventloopLagP99Seconds, ['instance'], sel(nodejsEventloopLagP99Seconds, S)), legend: 'p99 {{instance}}' },
              { expr: sumBy(nodejsEventloopLagMaxSeconds, ['instance'], sel(nodejsEventloopLagMaxSeconds, S)), legend: 'max {{instance}}' },
            ],
            w: 8,
          }),
          timeseriesPanel({
            title: 'Time in GC',
            description: 'Share of wall time spent in garbage collection, by GC kind.',
            unit: 'percentunit',
            stack: true,
            queries: [{ expr: sumBy(nodejsGcDurationSeconds, ['kind'], rate(hsum(nodejsGcDurationSeconds, S))), legend: '{{kind}}' }],
          }),
          timeseriesPanel({
            title: 'GC runs',
            description: 'Garbage collections per second, by kind.',
            unit: 'ops',
            stack: true,
            queries: [{ expr: sumBy(nodejsGcDurationSeconds, ['kind'], rate(hcount(nodejsGcDurationSeconds, S))), legend: '{{kind}}' }],
          }),
        ],
      },
      {
        title: 'vigil',
        panels: [
          timeseriesPanel({
            title: 'Metric overflow',
            description: 'Measurements per second folded into a metric\'s overflow series because it reached its series limit. Anything above zero: a label has too many values (look at the metric named).',
            unit: 'cps',
            thresholds: steps('green', [0.000001, 'red']),
            queries: [{ expr: `${sumBy(vigilMetricOverflowTotal, ['metric'], rate(sel(vigilMetricOverflowTotal, S)))}`, legend: '{{metric}}' }],
            w: 8,
          }),
          stateTimelinePanel({
            title: 'Health checks',
            description: 'Result of each health check over time (worst instance): 1 healthy, 0 unhealthy.',
            unit: 'short',
            mappings: valueMappings({ 0: ['Unhealthy', 'red'], 1: ['Healthy', 'green'] }),
            queries: [{ expr: aggregate('min', healthCheckStatus, ['check'], sel(healthCheckStatus, S)), legend: '{{check}}' }],
            w: 8,
          }),
          timeseriesPanel({
            title: 'Alert relay notifications',
            description: 'Chat messages the alert relay delivered or failed to deliver, per second, by target and result (job alert-relay).',
            unit: 'cps',
            stack: true,
            queries: [{ expr: sumBy(alertRelayNotificationsTotal, ['target', 'result'], rate(sel(alertRelayNotificationsTotal, S))), legend: '{{target}} {{result}}' }],
            w: 8,
          }),
        ],
      },
    ],
  });
}
