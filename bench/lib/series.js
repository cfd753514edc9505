// Realistic HTTP label sets for the scale and OTLP benchmarks: routes of an API
// (method + endpoint template), each with one http_request_duration_seconds
// histogram series (10 buckets + _sum + _count = 12 Prometheus series) and four
// http_requests_total series (status and role), so one route is 16 Prometheus
// series. `plan(n)` returns label sets whose exposition has exactly n series.
'use strict';

const RESOURCES = [
  'users', 'orders', 'invoices', 'projects', 'models', 'channels', 'tokens', 'tasks', 'files', 'messages',
  'sessions', 'credits', 'payments', 'reports', 'teams', 'keys', 'images', 'embeddings', 'completions', 'webhooks',
];
const ACTIONS = ['', '/:id', '/:id/items', '/:id/status', '/search', '/:id/history', '/export', '/:id/usage'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];
const COUNTER_SETS = [
  ['200', 'user'],
  ['200', 'anonymous'],
  ['404', 'user'],
  ['500', 'user'],
];
/** Prometheus series of one histogram label set: the catalog's 9 buckets + +Inf, _sum, _count. */
const HISTOGRAM_SERIES = 12;

function endpoint(i) {
  const r = RESOURCES[i % RESOURCES.length];
  const a = ACTIONS[Math.floor(i / RESOURCES.length) % ACTIONS.length];
  const v = Math.floor(i / (RESOURCES.length * ACTIONS.length));
  return `/api/v${v + 1}/${r}${a}`;
}

/**
 * Label sets for n Prometheus series: { histograms: [[method, endpoint]...],
 * counters: [[method, endpoint, status, role]...] }.
 */
function plan(n) {
  const histograms = [];
  const counters = [];
  let count = 0;
  let i = 0;
  const perRoute = HISTOGRAM_SERIES + COUNTER_SETS.length;
  while (count + perRoute <= n) {
    const method = METHODS[i % METHODS.length];
    const ep = endpoint(Math.floor(i / METHODS.length));
    histograms.push([method, ep]);
    for (const [status, role] of COUNTER_SETS) counters.push([method, ep, status, role]);
    count += perRoute;
    i++;
  }
  // the remainder as counter series of one more route
  for (let k = 0; count < n; k++, count++) counters.push(['GET', endpoint(1_000_000 + i), String(200 + k), 'user']);
  return { histograms, counters, series: count };
}

/** Deterministic pseudo-random numbers (the same data in every process). */
function rng(seed = 42) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

module.exports = { plan, rng, endpoint, HISTOGRAM_SERIES };
