/**
 * End to end, with the real programs on this machine: the demo AI gateway
 * under `node --require @vigil/node/register` (PostgreSQL, Redis), Debian's
 * Prometheus loaded with the repository's rule files, Debian's Alertmanager
 * with the repository's routing, a webhook sink for its receivers, and an OTLP
 * receiver for the push path. The traffic generator drives the gateway while
 * one channel is made to fail; then, through Prometheus' HTTP API: the target is
 * up, every documented in-process metric has series, every dashboard query and
 * recording rule has data, and the failing channel's alert fires, reaches
 * Alertmanager and is delivered. The same metrics pushed over OTLP carry the
 * names, types and labels the Prometheus endpoint shows.
 *
 * What differs from production (stack.ts has the details): 2 s scrapes, 1 s
 * rule evaluation, every alert's `for` shortened to 5 s in the test copies
 * of prometheus/alerts/*.yml (ChannelCriticalSuccessRate's is 2m), Alertmanager's
 * group_wait / group_interval 1 s, and its webhooks pointed at the sink.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { derivedEntries, recordedEntries } from '@vigil/catalog';
// Only the demo's dependency-free modules: the gateway runs in its own process, and pg, ioredis and
// express stay unloaded in the test runner (other tests instrument them when they load).
import { CHANNELS } from '@vigil/example-ai-gateway/build/src/channels';
import { runTraffic, type TrafficReport } from '@vigil/example-ai-gateway/build/src/traffic';
import { freePort, parseMetrics, request, requireServices, scrape, startApp, waitFor, type RunningApp } from '@vigil/testing';
import type { OtlpPoint, OtlpReceiver } from '../../packages/node/test/otlp-receiver';
import {
  ALERTMANAGER,
  dashboardQueries,
  dashboardVariables,
  deriveAlertmanagerConfig,
  derivePrometheusConfig,
  PROMETHEUS,
  PromApi,
  REPO_ROOT,
  startProgram,
  startSink,
  TEST_FOR,
  type Notification,
  type Program,
} from './stack';

// The OTLP stand-in backend of @vigil/node's tests (compiled by tsc -b), not a copy of it.
const { startOtlpReceiver } = require(join(REPO_ROOT, 'packages/node/build/test/otlp-receiver')) as typeof import('../../packages/node/test/otlp-receiver');

const ADMIN_TOKEN = `e2e-admin-token-${process.pid}-abcdef`;
const SITE = 'e2e';
const FAILING = CHANNELS.find((c) => c.name === 'Azure-Backup')!;
const TRAFFIC_SECONDS = 75;

/** Catalog metrics no app records (the same list as the demo's own test, for the same reasons). */
const NOT_RECORDED_BY_AN_APP: Readonly<Record<string, string>> = {
  vigil_metric_overflow_total: 'only appears when a metric reaches its series limit, which the demo never should',
  alert_relay_notifications_total: 'recorded by the alert relay, which this test does not run (packages/alert-relay has its own Alertmanager end-to-end test)',
  alert_relay_requests_total: 'recorded by the alert relay, which this test does not run',
  alert_relay_queue_depth: 'recorded by the alert relay, which this test does not run',
};

/** Dashboard panels that cannot have data from an instrumented app's traffic, by the metric they read. */
const PANELS_WITHOUT_DATA: Readonly<Record<string, string>> = {
  vigil_metric_overflow_total: 'service dashboard "Metric overflow": only when a metric overflows its series limit',
  alert_relay_notifications_total: 'service dashboard "Alert relay notifications": the relay is not part of this stack test',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('end to end: the demo under vigil, the real Prometheus and Alertmanager, and OTLP', function () {
  this.timeout(240_000);
  let dir = '';
  let receiver: OtlpReceiver | undefined;
  let sink: Awaited<ReturnType<typeof startSink>> | undefined;
  let app: RunningApp | undefined;
  let am: Program | undefined;
  let prom: Program | undefined;
  let api: PromApi;
  let amUrl = '';
  let shortened: Array<{ alert: string; for: string }> = [];
  const stopTraffic = new AbortController();
  let traffic: Promise<TrafficReport> | undefined;
  let startedAt = 0;

  before(async function () {
    this.timeout(90_000);
    await requireServices('postgres', 'redis');
    dir = mkdtempSync(join(tmpdir(), 'vigil-e2e-'));
    receiver = await startOtlpReceiver();
    sink = await startSink();

    app = await startApp({
      script: join(REPO_ROOT, 'examples/ai-gateway/build/src/main.js'),
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        ADMIN_TOKEN,
        SITE_ID: SITE,
        OTEL_SERVICE_NAME: 'ai-gateway',
        // both paths from one process: the Prometheus endpoint and OTLP pushes every 2 s
        OTEL_METRICS_EXPORTER: 'prometheus,otlp',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: receiver.url,
        OTEL_METRIC_EXPORT_INTERVAL: '2000',
        REDIS_URL: `redis://${process.env.REDIS_HOST ?? '127.0.0.1'}:${process.env.REDIS_PORT ?? 6379}`,
        VIGIL_USERS_REFRESH_SECONDS: '1',
        // The failing channel takes 80 calls (about half a minute) before the gateway disables it, and stays
        // disabled. ChannelCriticalSuccessRate needs an increase of 20 calls in 5 minutes, and increase() does
        // not count what a new series held at its first scrape: its errors are split over models and status
        // codes (9 new series), so a channel disabled after a few seconds would not show 20.
        DEMO_AUTO_DISABLE_MIN_REQUESTS: '80',
        DEMO_AUTO_DISABLE_COOLDOWN_SECONDS: '3600',
        DEMO_TASK_MIN_SECONDS: '1',
        DEMO_TASK_MAX_SECONDS: '3',
      },
    });

    const secrets = join(dir, 'secrets');
    mkdirSync(secrets);
    for (const f of ['relay_token', 'webhook_token', 'smtp_password']) writeFileSync(join(secrets, f), `${f}-e2e\n`);
    const amConfig = join(dir, 'alertmanager.yml');
    writeFileSync(amConfig, deriveAlertmanagerConfig(sink.url, secrets));
    const amPort = await freePort();
    amUrl = `http://127.0.0.1:${amPort}`;
    am = await startProgram(
      'alertmanager',
      ALERTMANAGER,
      [`--config.file=${amConfig}`, `--storage.path=${join(dir, 'am-data')}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address='],
      `${amUrl}/-/ready`,
    );

    const promPort = await freePort();
    const derived = derivePrometheusConfig(join(dir, 'prometheus'), {
      gateway: `127.0.0.1:${app.metricsPort}`,
      prometheus: `127.0.0.1:${promPort}`,
      alertmanager: `127.0.0.1:${amPort}`,
    });
    shortened = derived.shortened;
    prom = await startProgram(
      'prometheus',
      PROMETHEUS,
      [`--config.file=${derived.file}`, `--storage.tsdb.path=${join(dir, 'prom-data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
      `http://127.0.0.1:${promPort}/-/ready`,
    );
    api = new PromApi(`http://127.0.0.1:${promPort}`);

    // One channel fails every call from the start; then the traffic runs.
    const forced = await request(app.port, `/admin/channels/${FAILING.id}/fault`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'error' }),
    });
    expect(forced.status, forced.text).to.equal(200);
    startedAt = Date.now();
    traffic = runTraffic({ target: `http://127.0.0.1:${app.port}`, durationS: TRAFFIC_SECONDS, rate: 15, adminToken: ADMIN_TOKEN, signal: stopTraffic.signal });
    // rate() over 1m windows and the 5m recording rules need some history
    await sleep(35_000);
  });

  after(async function () {
    this.timeout(60_000);
    stopTraffic.abort();
    await traffic?.catch(() => undefined);
    if (app && app.child.exitCode === null && app.child.signalCode === null) await app.stop('SIGTERM');
    await prom?.stop();
    await am?.stop();
    await sink?.close();
    await receiver?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shortened only the `for` of the alert copies', () => {
    expect(shortened.map((s) => s.alert)).to.include('ChannelCriticalSuccessRate');
    expect(shortened.find((s) => s.alert === 'ChannelCriticalSuccessRate')!.for).to.equal('2m');
    expect(TEST_FOR).to.equal('5s');
  });

  it('scrapes the demo: the target is up', async () => {
    const targets = await api.get<{ activeTargets: Array<{ labels: Record<string, string>; health: string; lastError: string }> }>('/api/v1/targets');
    const gateway = targets.activeTargets.filter((t) => t.labels.job === 'ai-gateway');
    expect(gateway, JSON.stringify(targets.activeTargets)).to.have.length(1);
    // nearly every scrape since the start succeeded (one slow answer on a busy machine is not a failure of vigil's)
    const upShare = await api.query('avg_over_time(up{job="ai-gateway"}[5m])');
    expect(upShare[0]!.value, `share of successful scrapes; last error: ${gateway[0]!.lastError}`).to.be.at.least(0.9);
    await waitFor(async () => (await api.query('up{job="ai-gateway"}'))[0]?.value === 1, 10_000, 500);
    for (const job of ['prometheus', 'alertmanager']) expect((await api.query(`up{job="${job}"}`)).map((s) => s.value), job).to.deep.equal([1]);
  });

  it('stores a series for every documented in-process metric', async () => {
    const names = new Set(await api.get<string[]>('/api/v1/label/__name__/values', { 'match[]': '{job="ai-gateway"}' }));
    const missing: string[] = [];
    for (const e of recordedEntries) {
      if (e.name in NOT_RECORDED_BY_AN_APP) continue;
      const wanted = e.type === 'histogram' ? [`${e.name}_bucket`, `${e.name}_sum`, `${e.name}_count`] : [e.name];
      for (const n of wanted) if (!names.has(n)) missing.push(n);
    }
    expect(missing, 'documented metrics without a series in Prometheus').to.deep.equal([]);
    // and nothing else of the app's passes the keep filter but vigil's names (plus Prometheus' own scrape and alert series)
    const documented = new Set(recordedEntries.flatMap((e) => (e.type === 'histogram' ? [`${e.name}_bucket`, `${e.name}_sum`, `${e.name}_count`] : [e.name])));
    const prometheusOwn = (n: string) => n === 'up' || n.startsWith('scrape_') || n === 'ALERTS' || n === 'ALERTS_FOR_STATE';
    const others = [...names].filter((n) => !documented.has(n) && !prometheusOwn(n));
    expect(others, 'stored names that are not in the catalog').to.deep.equal([]);
  });

  it('every dashboard panel query returns data (except the listed ones, which cannot)', async () => {
    const queries = dashboardQueries();
    expect(queries.length).to.be.greaterThan(80);
    let empty: typeof queries = [];
    const listedButData: string[] = [];
    for (const q of queries) {
      const result = await api.query(q.promql);
      const listed = Object.keys(PANELS_WITHOUT_DATA).find((m) => q.expr.includes(m));
      if (listed) {
        if (result.length > 0) listedButData.push(`${q.dashboard} "${q.panel}": ${q.expr}`);
      } else if (result.length === 0) {
        empty.push(q);
      }
    }
    // A scrape that timed out marks the target's gauges stale until the next one: ask those again.
    for (let retry = 0; retry < 3 && empty.length > 0; retry++) {
      await sleep(3000);
      const still: typeof queries = [];
      for (const q of empty) if ((await api.query(q.promql)).length === 0) still.push(q);
      empty = still;
    }
    expect(empty.map((q) => `${q.dashboard} "${q.panel}": ${q.promql}`), 'panel queries without data').to.deep.equal([]);
    expect(listedButData, 'panels listed as without data that have data (update PANELS_WITHOUT_DATA)').to.deep.equal([]);
  });

  it('every dashboard variable lists values', async () => {
    const variables = dashboardVariables();
    expect(variables.map((v) => v.name)).to.include.members(['site_id', 'channel', 'model', 'job', 'instance']);
    for (const v of variables) {
      const values = await api.get<string[]>(`/api/v1/label/${v.label}/values`, v.selector ? { 'match[]': v.selector } : {});
      expect(values, `${v.dashboard} $${v.name}`).to.not.be.empty;
    }
    expect(await api.get<string[]>('/api/v1/label/site_id/values', { 'match[]': 'new_api_model_requests_total' })).to.deep.equal([SITE]);
    expect(await api.get<string[]>('/api/v1/label/channel_name/values', { 'match[]': 'new_api_model_requests_total' })).to.have.members(CHANNELS.map((c) => c.name));
  });

  it('every recording rule has values, and they read right', async () => {
    for (const e of derivedEntries) {
      const result = await api.query(e.name);
      expect(result, `recording rule ${e.name}`).to.not.be.empty;
    }
    const success = await api.query(`new_api_model_success_rate{site_id="${SITE}"}`);
    for (const s of success.filter((x) => x.metric.channel_name === FAILING.name)) expect(s.value, `${s.metric.model_name} on ${FAILING.name}`).to.equal(0);
    const healthy = success.filter((x) => x.metric.channel_name !== FAILING.name && Number.isFinite(x.value));
    expect(healthy.length).to.be.greaterThan(5);
    for (const s of healthy) expect(s.value, `${s.metric.model_name} on ${s.metric.channel_name}`).to.be.greaterThan(0.5);
    const cacheHit = await api.query('cache_hit_rate');
    expect(cacheHit[0]!.value).to.be.within(0.5, 1);
    const services = (await api.query('ai_service_usage_distribution')).map((s) => s.metric.service);
    expect(services).to.include.members(['midjourney', 'flux', 'jimeng']);
    const shares = (await api.query('sum(ai_service_usage_distribution)'))[0]!.value;
    expect(shares).to.be.closeTo(1, 1e-9);
  });

  it('fires ChannelCriticalSuccessRate for the failing channel, and Alertmanager delivers it to the critical receiver', async function () {
    this.timeout(120_000);
    const firing = await waitFor(
      async () => {
        const alerts = await api.get<{ alerts: Array<{ labels: Record<string, string>; annotations: Record<string, string>; state: string; value: string }> }>('/api/v1/alerts');
        return alerts.alerts.find((a) => a.labels.alertname === 'ChannelCriticalSuccessRate' && a.labels.channel_name === FAILING.name && a.state === 'firing');
      },
      90_000,
      1000,
    ).catch((e) => {
      throw new Error(`ChannelCriticalSuccessRate did not fire: ${(e as Error).message}\nprometheus log:\n${prom!.log().slice(-3000)}`);
    });
    expect(firing.labels).to.include({ severity: 'critical', team: 'gateway', site_id: SITE, channel_id: String(FAILING.id), channel_type: FAILING.type });
    expect(Number(firing.value)).to.equal(0);
    expect(firing.annotations.summary).to.equal(`Channel ${FAILING.name} success rate is below 90%`);
    expect(firing.annotations.runbook_url).to.equal('docs/runbook.md#channelcriticalsuccessrate');
    const seconds = (Date.now() - startedAt) / 1000;
    expect(seconds, 'fired while the traffic ran').to.be.lessThan(TRAFFIC_SECONDS + 30);

    const inAm = await waitFor(async () => {
      const alerts = (await (await fetch(`${amUrl}/api/v2/alerts?filter=alertname%3D%22ChannelCriticalSuccessRate%22`)).json()) as Array<{
        labels: Record<string, string>;
        receivers: Array<{ name: string }>;
        status: { state: string };
      }>;
      return alerts.find((a) => a.labels.channel_name === FAILING.name);
    }, 30_000);
    expect(inAm.receivers.map((r) => r.name)).to.deep.equal(['critical']);
    expect(inAm.status.state).to.equal('active');

    const delivered = await waitFor(() => {
      const hits = sink!.received.filter(
        (n: Notification) => n.body.status === 'firing' && n.body.alerts.some((a) => a.labels.alertname === 'ChannelCriticalSuccessRate' && a.labels.channel_name === FAILING.name),
      );
      // both webhooks of the critical receiver: the generic one and the relay's DingTalk route
      return hits.length >= 2 ? hits : undefined;
    }, 30_000);
    expect(new Set(delivered.map((n) => n.body.receiver))).to.deep.equal(new Set(['critical']));
    expect(delivered.map((n) => n.path.replace(/-\d+$/, '')).sort()).to.include.members(['/critical/relay-dingtalk', '/critical/webhook']);
    expect(delivered.find((n) => n.path.startsWith('/critical/webhook'))!.authorization).to.equal('Bearer webhook_token-e2e');
    expect(delivered.find((n) => n.path.startsWith('/critical/relay-dingtalk'))!.authorization).to.equal('Bearer relay_token-e2e');
  });

  it('fires ChannelDisabled once the gateway auto-disables the channel, and it reaches the warning receiver', async function () {
    this.timeout(120_000);
    const delivered = await waitFor(
      () =>
        sink!.received.find(
          (n) =>
            n.body.receiver === 'warning' &&
            n.body.alerts.some((a) => a.status === 'firing' && a.labels.alertname === 'ChannelDisabled' && a.labels.channel_name === FAILING.name),
        ),
      90_000,
      500,
    );
    const alert = delivered.body.alerts.find((a) => a.labels.alertname === 'ChannelDisabled')!;
    expect(alert.labels).to.include({ status: 'auto_disabled', severity: 'warning', site_id: SITE });
    expect(alert.annotations.summary).to.equal(`Channel ${FAILING.name} is disabled (auto_disabled)`);
    expect((await api.query(`new_api_channel_status{channel_id="${FAILING.id}"}`)).map((s) => [s.metric.status, s.value])).to.deep.equal([['auto_disabled', 3]]);
  });

  it('pushes the same names, types, labels and values over OTLP as the Prometheus endpoint shows', async function () {
    this.timeout(120_000);
    stopTraffic.abort();
    await traffic;
    await sleep(2000); // the last image tasks and in-flight requests end
    // One complete push (each carries every metric, cumulative) and a scrape right after it. A
    // series born between the two (a GC kind, a background health check) can differ once: retry.
    let pairs = { diff: { problems: ['no OTLP push arrived'], names: new Set<string>() }, points: [] as OtlpPoint[] };
    for (let attempt = 0; attempt < 5 && pairs.diff.problems.length > 0; attempt++) {
      const before = receiver!.pushes;
      receiver!.points.length = 0;
      await waitFor(() => receiver!.pushes > before && receiver!.points.length > 0, 10_000, 50);
      const points = [...receiver!.points];
      pairs = { diff: compare(points, await scrape(app!.metricsPort)), points };
    }
    expect(pairs.diff.problems, 'differences between the OTLP push and the Prometheus endpoint').to.deep.equal([]);
    expect(pairs.diff.names.size).to.be.greaterThan(60);
    expect(receiver!.resource['service.name']).to.equal('ai-gateway');
  });
});

/** The Prometheus names the collector's exporter would emit for an OTLP point (add_metric_suffixes: false). */
function promNamesOf(p: OtlpPoint): string[] {
  return p.type === 'histogram' ? [`${p.metric}_bucket`, `${p.metric}_sum`, `${p.metric}_count`] : [p.metric];
}

function labelKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * Compares one OTLP push with one scrape as the collector's Prometheus
 * exporter (add_metric_suffixes: false, without_scope_info, no resource
 * attributes as labels) would: metric names; types (monotonic sum = counter,
 * non-monotonic sum and gauge = gauge, histogram = histogram); for each metric
 * the set of series (label sets); histogram bucket bounds; and, for the
 * counters the traffic alone moves, the values.
 */
function compare(points: OtlpPoint[], text: string): { problems: string[]; names: Set<string> } {
  const problems: string[] = [];
  const types = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1]!, m[2]!);
  const scraped = parseMetrics(text);

  const otlpSeries = new Map<string, Set<string>>();
  const otlpValues = new Map<string, number>();
  for (const p of points) {
    const expectedType = p.type === 'histogram' ? 'histogram' : p.type === 'sum' && p.monotonic ? 'counter' : 'gauge';
    if (types.get(p.metric) !== expectedType) problems.push(`${p.metric}: OTLP ${p.type}${p.monotonic ? ' (monotonic)' : ''} but Prometheus TYPE ${types.get(p.metric)}`);
    if (!otlpSeries.has(p.metric)) otlpSeries.set(p.metric, new Set());
    otlpSeries.get(p.metric)!.add(labelKey(p.attributes));
    otlpValues.set(`${p.metric}${labelKey(p.attributes)}`, p.type === 'histogram' ? p.count! : p.value!);
    if (p.type === 'histogram') {
      const les = scraped
        .filter((s) => s.name === `${p.metric}_bucket` && labelKey(Object.fromEntries(Object.entries(s.labels).filter(([k]) => k !== 'le'))) === labelKey(p.attributes))
        .map((s) => s.labels.le!)
        .filter((le) => le !== '+Inf')
        .map(Number);
      if (JSON.stringify(les) !== JSON.stringify(p.bounds)) problems.push(`${p.metric}: OTLP bounds ${JSON.stringify(p.bounds)} but Prometheus le ${JSON.stringify(les)}`);
    }
  }

  const promSeries = new Map<string, Set<string>>();
  for (const s of scraped) {
    const base = types.get(s.name) ? s.name : s.name.replace(/_(bucket|sum|count)$/, '');
    if (types.get(base) === 'histogram' && !s.name.endsWith('_count')) continue;
    if (!promSeries.has(base)) promSeries.set(base, new Set());
    promSeries.get(base)!.add(labelKey(s.labels));
  }

  const names = new Set(points.flatMap(promNamesOf));
  const scrapedNames = new Set(scraped.map((s) => s.name));
  for (const n of names) if (!scrapedNames.has(n)) problems.push(`${n}: pushed over OTLP but not on /metrics`);
  for (const n of scrapedNames) if (!names.has(n)) problems.push(`${n}: on /metrics but not pushed over OTLP`);

  for (const [metric, series] of otlpSeries) {
    const prom = promSeries.get(metric) ?? new Set();
    for (const k of series) if (!prom.has(k)) problems.push(`${metric}${k}: pushed over OTLP but not on /metrics`);
    for (const k of prom) if (!series.has(k)) problems.push(`${metric}${k}: on /metrics but not pushed over OTLP`);
  }

  // Counters only the (stopped) traffic moves: the same values on both paths.
  for (const metric of ['new_api_model_requests_total', 'new_api_model_input_tokens_total', 'credits_operations_total', 'credits_consumed_total', 'ai_tasks_submitted_total', 'login_failures_total']) {
    for (const s of scraped.filter((x) => x.name === metric)) {
      const pushed = otlpValues.get(`${metric}${labelKey(s.labels)}`);
      if (pushed !== s.value) problems.push(`${metric}${labelKey(s.labels)}: OTLP ${pushed}, Prometheus ${s.value}`);
    }
  }
  return { problems, names };
}
