// The seed's admin-only stats endpoint (004, 工具1: GET /monitoring/stats with
// get_admin_user). The seed reads prometheus_client's private fields; vigil
// reads the same numbers from the current metric values through OTel's
// collect() interface (vigil's lean registry, or the reader @vigil/node
// registers), and requires authentication: there is no open mode.
import type { IncomingMessage } from 'node:http';
import {
  aiTasksTotal,
  cacheOperationsTotal,
  httpConcurrentConnections,
  httpRequestsTotal,
  leanRegistry,
  logOnce,
  METRIC_SOURCE_KEY,
  stringSetting,
} from '@vigil/catalog';
import { Authenticator } from './auth';
import type { Answer } from './answer';
import { json } from './answer';
import type { MetricSource, StatsOptions } from './types';

/** Default path, the seed's. */
export const DEFAULT_STATS_PATH = '/monitoring/stats';
/** The seed's fixed service list. */
export const SEED_AI_SERVICES: readonly string[] = ['midjourney', 'flux', 'dreamwork', 'jimeng', 'kling'];
export { METRIC_SOURCE_KEY };

const SERVICE_LABEL = aiTasksTotal.labels[0];
const OPERATION_LABEL = cacheOperationsTotal.labels[0];
const RESULT_LABEL = cacheOperationsTotal.labels[1];

function defaultSources(): MetricSource[] {
  const registered = (globalThis as { [METRIC_SOURCE_KEY]?: MetricSource })[METRIC_SOURCE_KEY];
  return [registered && typeof registered.collect === 'function' ? registered : leanRegistry()];
}

type Points = Array<{ attributes: Readonly<Record<string, unknown>>; value: number }>;

async function collectPoints(sources: readonly MetricSource[]): Promise<Map<string, Points>> {
  const byName = new Map<string, Points>();
  for (const source of sources) {
    const { resourceMetrics } = await source.collect();
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        let points = byName.get(metric.descriptor.name);
        if (!points) byName.set(metric.descriptor.name, (points = []));
        for (const dp of metric.dataPoints) {
          if (typeof dp.value === 'number' && Number.isFinite(dp.value)) points.push({ attributes: dp.attributes, value: dp.value });
        }
      }
    }
  }
  return byName;
}

function sum(points: Points | undefined): number {
  let n = 0;
  for (const p of points ?? []) n += p.value;
  return n;
}

function cacheFromMetrics(points: Points | undefined): Record<string, unknown> {
  if (!points || points.length === 0) return {};
  let hits = 0;
  let misses = 0;
  const operations: Record<string, number> = {};
  for (const p of points) {
    const result = p.attributes[RESULT_LABEL];
    if (result === 'hit') hits += p.value;
    else if (result === 'miss') misses += p.value;
    const op = p.attributes[OPERATION_LABEL];
    if (typeof op === 'string') operations[op] = (operations[op] ?? 0) + p.value;
  }
  const reads = hits + misses;
  return { hits, misses, hit_rate: reads > 0 ? Math.round((hits / reads) * 10_000) / 10_000 : null, operations };
}

/** The seed's stats, from current metric values. */
export async function computeStats(
  sources: readonly MetricSource[],
  aiServices: readonly string[],
  cacheStats?: () => unknown,
): Promise<Record<string, unknown>> {
  const points = await collectPoints(sources);
  const aiTasks: Record<string, number> = {};
  for (const s of aiServices) aiTasks[s] = 0;
  for (const p of points.get(aiTasksTotal.name) ?? []) {
    const service = p.attributes[SERVICE_LABEL];
    if (typeof service === 'string') aiTasks[service] = (aiTasks[service] ?? 0) + p.value;
  }
  return {
    cache_stats: cacheStats ? ((await cacheStats()) ?? {}) : cacheFromMetrics(points.get(cacheOperationsTotal.name)),
    active_connections: sum(points.get(httpConcurrentConnections.name)),
    total_requests: sum(points.get(httpRequestsTotal.name)),
    ai_tasks_stats: aiTasks,
  };
}

/** A resolved stats endpoint. */
export class StatsEndpoint {
  readonly path: string;
  private readonly auth: Authenticator;
  private readonly sources: MetricSource[] | undefined;
  private readonly aiServices: readonly string[];

  constructor(private readonly options: StatsOptions) {
    this.path = typeof options.path === 'string' && options.path.startsWith('/') ? options.path : DEFAULT_STATS_PATH;
    this.auth = new Authenticator({
      token: stringSetting('VIGIL_HEALTH_STATS_TOKEN', options.token, ''),
      basic: options.basic,
      authorize: options.authorize,
    });
    this.sources = Array.isArray(options.sources) ? options.sources.filter((s) => s && typeof s.collect === 'function') : undefined;
    this.aiServices = Array.isArray(options.aiServices) ? options.aiServices.map(String) : SEED_AI_SERVICES;
    if (!this.auth.configured) {
      logOnce(
        'health:stats:no-auth',
        'warn',
        `the stats endpoint ${this.path} has no authentication configured (set stats.token, stats.basic, stats.authorize or VIGIL_HEALTH_STATS_TOKEN); it answers 404 until one is set`,
      );
    }
  }

  async answer(req: IncomingMessage, context: unknown): Promise<Answer> {
    if (!this.auth.configured) return json(404, { error: 'not found' });
    if (!(await this.auth.allows(req, context))) {
      return json(401, { error: 'unauthorized' }, { 'www-authenticate': this.auth.challenges.length === 1 ? this.auth.challenges[0]! : this.auth.challenges });
    }
    try {
      const body = this.options.stats
        ? await this.options.stats()
        : await computeStats(this.sources ?? defaultSources(), this.aiServices, this.options.cacheStats);
      return json(200, body ?? {}); // inside the try: a user's stats() may return what JSON cannot hold
    } catch (err) {
      logOnce('health:stats:failed', 'warn', `the stats endpoint could not compute its answer: ${String(err).slice(0, 200)}`);
      return json(500, { error: 'stats unavailable' });
    }
  }
}

/** The stats endpoint for handler options: undefined when it is not served. */
export function resolveStats(option: StatsOptions | false | undefined): StatsEndpoint | undefined {
  if (option === false) return undefined;
  if (option === undefined || option === null) {
    // Not asked for in code: served only when the token is set in the environment.
    return stringSetting('VIGIL_HEALTH_STATS_TOKEN', undefined, '') === '' ? undefined : new StatsEndpoint({});
  }
  if (typeof option !== 'object') {
    logOnce('health:stats:option', 'warn', 'the `stats` handler option must be an object or false; the stats endpoint is not served');
    return undefined;
  }
  return new StatsEndpoint(option);
}
