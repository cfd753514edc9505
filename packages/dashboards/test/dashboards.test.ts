import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { findEntry } from '@vigil/catalog';
import {
  DATASOURCE_VARIABLE,
  DEFAULT_OUT_DIR,
  PROVISIONED_DATASOURCE_UID,
  renderDashboards,
  serializeDashboard,
  writeDashboards,
} from '../src/index';
import type { DashboardJson } from '../src/index';
import { expectPromql, substituteGrafanaVariables } from './promtool';

const ROOT = resolve(__dirname, '..', '..', '..', '..');
const DASHBOARDS_DIR = join(ROOT, 'grafana', 'dashboards');
const REGENERATE = 'tsc -b packages/dashboards && node packages/dashboards/build/src/generate.js';

// The JSON shapes the assertions read (Grafana's dashboard model, loosely).
interface Target {
  expr: string;
  refId: string;
  legendFormat?: string;
  instant?: boolean;
  format?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  fieldConfig?: {
    defaults: { unit?: string; thresholds?: { mode: string; steps: Array<{ value: number | null; color: string }> }; mappings?: unknown[] };
    overrides: Array<{ matcher: { id: string; options: string }; properties: Array<{ id: string; value: unknown }> }>;
  };
  options?: Record<string, unknown>;
}
interface Variable {
  type: string;
  name: string;
  query?: unknown;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
  datasource?: { type?: string; uid?: string };
}

function panelsOf(d: DashboardJson): Panel[] {
  return (d.panels ?? []) as unknown as Panel[];
}
function dataPanels(d: DashboardJson): Panel[] {
  return panelsOf(d).filter((p) => p.type !== 'row');
}
function variablesOf(d: DashboardJson): Variable[] {
  return (d.templating.list ?? []) as unknown as Variable[];
}
function panel(d: DashboardJson, title: string): Panel {
  const p = dataPanels(d).find((x) => x.title === title);
  if (!p) throw new Error(`no panel titled ${JSON.stringify(title)} in ${d.title}; panels: ${dataPanels(d).map((x) => x.title).join(' | ')}`);
  return p;
}

const dashboards = renderDashboards();
const gateway = dashboards['ai-gateway.json']!;
const business = dashboards['business.json']!;
const service = dashboards['service.json']!;

describe('@vigil/dashboards', () => {
  describe('generated files', () => {
    it('grafana/dashboards/*.json is exactly what the generator writes (run the generator after changing packages/dashboards/src)', () => {
      const committed = existsSync(DASHBOARDS_DIR) ? readdirSync(DASHBOARDS_DIR).filter((f) => f.endsWith('.json')).sort() : [];
      expect(committed, `the dashboards in grafana/dashboards differ from the generated set; run \`${REGENERATE}\``).to.deep.equal(Object.keys(dashboards).sort());
      for (const [name, d] of Object.entries(dashboards)) {
        const onDisk = readFileSync(join(DASHBOARDS_DIR, name), 'utf8');
        if (onDisk !== serializeDashboard(d)) {
          expect.fail(`grafana/dashboards/${name} is out of date with packages/dashboards/src; run \`${REGENERATE}\` and commit the result`);
        }
      }
    });

    it('the default output directory is the repository\'s grafana/dashboards', () => {
      expect(DEFAULT_OUT_DIR).to.equal(DASHBOARDS_DIR);
    });

    it('writeDashboards writes every dashboard as sorted, indented JSON and removes stale generated files', () => {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-dashboards-'));
      try {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'renamed-long-ago.json'), '{}\n');
        writeFileSync(join(dir, 'README.md'), 'kept\n');
        const written = writeDashboards({ outDir: dir });
        expect(written.map((p) => p.slice(dir.length + 1)).sort()).to.deep.equal(['ai-gateway.json', 'business.json', 'service.json']);
        expect(readdirSync(dir).sort()).to.deep.equal(['README.md', 'ai-gateway.json', 'business.json', 'service.json']);
        const text = readFileSync(join(dir, 'ai-gateway.json'), 'utf8');
        expect(text.startsWith('{\n  "annotations"')).to.equal(true, 'keys are sorted and indented by two spaces');
        expect(text.endsWith('}\n')).to.equal(true);
        expect(JSON.parse(text).uid).to.equal('vigil-ai-gateway');
        // Rendering twice gives the same bytes (stable key order, no timestamps, no random ids).
        expect(serializeDashboard(renderDashboards()['ai-gateway.json']!)).to.equal(text);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('every dashboard', () => {
    it('has a unique uid and a title', () => {
      const uids = Object.values(dashboards).map((d) => d.uid);
      expect(new Set(uids).size).to.equal(uids.length);
      expect(uids).to.deep.equal(['vigil-ai-gateway', 'vigil-business', 'vigil-service']);
      for (const d of Object.values(dashboards)) expect(d.title).to.be.a('string').and.not.equal('');
    });

    for (const [name, d] of Object.entries(dashboards)) {
      describe(name, () => {
        it('has a $datasource variable of type prometheus, defaulting to the provisioned datasource', () => {
          const v = variablesOf(d).find((x) => x.name === DATASOURCE_VARIABLE);
          expect(v, 'datasource variable').to.not.equal(undefined);
          expect(v!.type).to.equal('datasource');
          expect(v!.query).to.equal('prometheus');
          expect((v as unknown as { current: { value: string } }).current.value).to.equal(PROVISIONED_DATASOURCE_UID);
        });

        it('reads $datasource in every panel, every query and every query variable', () => {
          for (const p of dataPanels(d)) {
            expect(p.datasource, p.title).to.deep.equal({ type: 'prometheus', uid: '${datasource}' });
            expect(p.targets, p.title).to.be.an('array').that.is.not.empty;
            for (const t of p.targets!) expect(t.datasource, `${p.title} ${t.refId}`).to.deep.equal({ type: 'prometheus', uid: '${datasource}' });
          }
          for (const v of variablesOf(d).filter((x) => x.type === 'query')) {
            expect(v.datasource, v.name).to.deep.equal({ type: 'prometheus', uid: '${datasource}' });
          }
        });

        it('gives every panel a unit, a description and queries with distinct refIds', () => {
          for (const p of dataPanels(d)) {
            expect(p.fieldConfig?.defaults.unit, `unit of ${p.title}`).to.be.a('string').and.not.equal('');
            expect(p.description, `description of ${p.title}`).to.be.a('string').and.not.equal('');
            const refIds = p.targets!.map((t) => t.refId);
            expect(new Set(refIds).size, p.title).to.equal(refIds.length);
            for (const t of p.targets!) {
              expect(t.refId, p.title).to.match(/^[A-Z]$/);
              expect(t.expr.trim(), p.title).to.not.equal('');
            }
          }
        });

        it('numbers panels uniquely and lays them out on the 24-column grid without overlaps', () => {
          const all = panelsOf(d);
          const ids = all.map((p) => p.id);
          expect(new Set(ids).size).to.equal(ids.length);
          expect(ids.every((id) => Number.isInteger(id) && id > 0)).to.equal(true);
          for (const [i, a] of all.entries()) {
            expect(a.gridPos.x + a.gridPos.w, a.title).to.be.at.most(24);
            for (const b of all.slice(i + 1)) {
              const overlap =
                a.gridPos.x < b.gridPos.x + b.gridPos.w &&
                b.gridPos.x < a.gridPos.x + a.gridPos.w &&
                a.gridPos.y < b.gridPos.y + b.gridPos.h &&
                b.gridPos.y < a.gridPos.y + a.gridPos.h;
              expect(overlap, `${a.title} overlaps ${b.title}`).to.equal(false);
            }
          }
        });

        it('uses $__rate_interval in every range, $__range only where the panel says why', () => {
          for (const p of dataPanels(d)) {
            for (const t of p.targets!) {
              for (const m of t.expr.matchAll(/\[([^\]]*)\]/g)) {
                const range = m[1];
                if (range === '$__rate_interval') continue;
                expect(range, `${p.title}: ${t.expr}`).to.equal('$__range');
                expect(p.description, `${p.title} uses $__range and must say why`).to.include('$__range');
              }
            }
          }
        });

        it('gives multi-series time series a legend that names the series', () => {
          for (const p of dataPanels(d).filter((x) => x.type === 'timeseries' || x.type === 'bargauge' || x.type === 'piechart')) {
            for (const t of p.targets!) {
              const grouped = /\bby \(([^)]*)\)/.exec(t.expr.replace(/by \(le, /g, 'by ('));
              const labels = grouped ? grouped[1]!.split(',').map((s) => s.trim()).filter((s) => s && s !== 'le') : [];
              expect(t.legendFormat, `${p.title} ${t.refId}`).to.be.a('string').and.not.equal('');
              if (labels.length && !t.legendFormat!.includes('{{')) expect.fail(`${p.title} ${t.refId} splits by ${labels.join(', ')} but its legend ${t.legendFormat} names no label`);
            }
          }
        });
      });
    }
  });

  describe('AI gateway dashboard (seed 000)', () => {
    it('has the site_id, channel and model variables: label_values queries, multi-value, with All', () => {
      const vars = variablesOf(gateway);
      expect(vars.map((v) => v.name)).to.deep.equal(['datasource', 'site_id', 'channel', 'model']);
      const expected: Record<string, string> = {
        site_id: 'label_values(new_api_model_requests_total, site_id)',
        channel: 'label_values(new_api_model_requests_total{site_id=~"$site_id"}, channel_name)',
        model: 'label_values(new_api_model_requests_total{site_id=~"$site_id", channel_name=~"$channel"}, model_name)',
      };
      for (const v of vars.slice(1)) {
        expect(v.type).to.equal('query');
        expect(v.query, v.name).to.equal(expected[v.name]);
        expect(v.multi, v.name).to.equal(true);
        expect(v.includeAll, v.name).to.equal(true);
        expect(v.allValue, v.name).to.equal('.*');
      }
    });

    const total = panel(gateway, '总成功率 (Total success rate)');

    it('总成功率 is a stat in percent with the seed\'s thresholds (red, 95 orange, 98 yellow, 99 green)', () => {
      expect(total.type).to.equal('stat');
      expect(total.fieldConfig!.defaults.unit).to.equal('percent');
      expect(total.fieldConfig!.defaults.thresholds).to.deep.equal({
        mode: 'absolute',
        steps: [
          { value: null, color: 'red' },
          { value: 95, color: 'orange' },
          { value: 98, color: 'yellow' },
          { value: 99, color: 'green' },
        ],
      });
      expect(total.targets![0]!.expr).to.equal(
        'sum(rate(new_api_model_requests_total{status="success", site_id=~"$site_id", channel_name=~"$channel", model_name=~"$model"}[$__rate_interval]))' +
          ' / sum(rate(new_api_model_requests_total{status=~"success|error", site_id=~"$site_id", channel_name=~"$channel", model_name=~"$model"}[$__rate_interval])) * 100',
      );
    });

    // Two channels, two instances: 97 of every 100 answered requests succeed overall; client aborts count neither way.
    const gatewaySeries = [
      { series: 'new_api_model_requests_total{instance="a",channel_name="openai",model_name="gpt-4o",site_id="s1",status="aborted"}', values: '0+30x20' },
      { series: 'new_api_model_requests_total{instance="a",channel_name="openai",model_name="gpt-4o",site_id="s1",status="success"}', values: '0+57x20' },
      { series: 'new_api_model_requests_total{instance="a",channel_name="openai",model_name="gpt-4o",site_id="s1",status="error"}', values: '0+3x20' },
      { series: 'new_api_model_requests_total{instance="b",channel_name="azure",model_name="gpt-4o",site_id="s1",status="success"}', values: '0+40x20' },
    ];

    it('总成功率 evaluates to the overall success percentage across channels and instances (real Prometheus engine)', async () => {
      await expectPromql(substituteGrafanaVariables(total.targets![0]!.expr), gatewaySeries, '10m', [{ labels: '{}', value: 97 }]);
    });

    const ranking = panel(gateway, '渠道成功率排名 (Channel success rate ranking)');

    it('渠道成功率排名 is a horizontal gradient bar gauge of the success rate by channel_name', async () => {
      expect(ranking.type).to.equal('bargauge');
      expect(ranking.options!.orientation).to.equal('horizontal');
      expect(ranking.options!.displayMode).to.equal('gradient');
      expect(ranking.fieldConfig!.defaults.unit).to.equal('percent');
      expect(ranking.targets![0]!.expr).to.include('sum by (channel_name) (rate(new_api_model_requests_total{status="success"');
      expect(ranking.targets![0]!.legendFormat).to.equal('{{channel_name}}');
      await expectPromql(substituteGrafanaVariables(ranking.targets![0]!.expr), gatewaySeries, '10m', [
        { labels: '{channel_name="openai"}', value: 95 },
        { labels: '{channel_name="azure"}', value: 100 },
      ]);
    });

    it('shows latency p50 / p95 / p99 by model, errors by error code, top error messages, active requests, tokens and TTFT', () => {
      const latency = panel(gateway, 'Latency p50 / p95 / p99 by model');
      expect(latency.fieldConfig!.defaults.unit).to.equal('s');
      expect(latency.targets!.map((t) => t.expr.slice(0, 24))).to.deep.equal(['histogram_quantile(0.5, ', 'histogram_quantile(0.95,', 'histogram_quantile(0.99,']);
      for (const t of latency.targets!) expect(t.expr).to.include('sum by (le, model_name) (rate(new_api_model_request_duration_seconds_bucket{');
      expect(panel(gateway, 'Errors by error code').targets![0]!.expr).to.match(/^sum by \(error_code\) \(rate\(new_api_model_request_errors_total\{/);
      const top = panel(gateway, 'Top error messages');
      expect(top.type).to.equal('table');
      expect(top.targets![0]!.expr).to.match(/^topk\(15, sum by \(channel_name, model_name, error_code, error_message\) \(increase\(new_api_model_request_errors_total\{.*\}\[\$__range\]\)\)\)$/);
      expect(top.targets![0]!.instant).to.equal(true);
      expect(top.targets![0]!.format).to.equal('table');
      expect(panel(gateway, 'Active requests').targets![0]!.expr).to.include('new_api_active_requests{');
      const tokens = panel(gateway, 'Tokens by model').targets!.map((t) => t.expr);
      expect(tokens[0]).to.include('new_api_model_input_tokens_total{');
      expect(tokens[1]).to.include('new_api_model_output_tokens_total{');
      expect(panel(gateway, 'Time to first token p50 / p95 by model').targets![1]!.expr).to.include('new_api_model_time_to_first_token_seconds_bucket{');
    });

    it('maps channel status 1..4 to enabled / manually disabled / auto disabled / deleted in the timeline and the table', () => {
      const expected = { 1: 'Enabled', 2: 'Manually disabled', 3: 'Auto disabled', 4: 'Deleted' };
      const texts = (mappings: unknown): Record<string, string> => {
        const [m] = mappings as Array<{ type: string; options: Record<string, { text: string }> }>;
        expect(m!.type).to.equal('value');
        return Object.fromEntries(Object.entries(m!.options).map(([k, v]) => [k, v.text]));
      };
      const timeline = panel(gateway, 'Channel status');
      expect(timeline.type).to.equal('state-timeline');
      expect(texts(timeline.fieldConfig!.defaults.mappings)).to.deep.equal(expected);
      const table = panel(gateway, 'Channel status now');
      expect(table.type).to.equal('table');
      // Only the value column is mapped: channel_id "1" must stay "1".
      expect(table.fieldConfig!.defaults.mappings).to.equal(undefined);
      const override = table.fieldConfig!.overrides.find((o) => o.matcher.options === 'Status')!;
      expect(texts(override.properties.find((p) => p.id === 'mappings')!.value)).to.deep.equal(expected);
    });

    it('counts channels that are not enabled, 0 when all are (real Prometheus engine)', async () => {
      const p = panel(gateway, 'Channels not enabled');
      const expr = substituteGrafanaVariables(p.targets![0]!.expr);
      const status = (id: string, value: number) => ({ series: `new_api_channel_status{channel_id="${id}",channel_name="c${id}",site_id="s1"}`, values: `${value}x20` });
      await expectPromql(expr, [status('1', 1), status('2', 3), status('3', 2)], '10m', [{ labels: '{}', value: 2 }]);
      await expectPromql(expr, [status('1', 1), status('2', 1)], '10m', [{ labels: '{}', value: 0 }]);
    });
  });

  describe('business dashboard (seed 004 方案4)', () => {
    it('opens with the seed\'s five panels, in order, with their types', () => {
      const first = dataPanels(business).slice(0, 5).map((p) => [p.title, p.type]);
      expect(first).to.deep.equal([
        ['实时用户活跃', 'stat'],
        ['AI任务成功率', 'stat'],
        ['各AI服务使用量', 'piechart'],
        ['API响应时间趋势', 'timeseries'],
        ['缓存命中率', 'timeseries'],
      ]);
      expect(panel(business, '实时用户活跃').targets![0]!.expr).to.equal('sum(active_users_current)');
      expect(panel(business, '各AI服务使用量').targets![0]!.expr).to.equal('ai_service_usage_distribution');
      expect(panel(business, '缓存命中率').targets![0]!.expr).to.equal('cache_hit_rate');
      expect(panel(business, '缓存命中率').fieldConfig!.defaults.unit).to.equal('percentunit');
      expect(panel(business, 'API响应时间趋势').targets!.map((t) => t.legendFormat)).to.deep.equal(['95th percentile', '50th percentile']);
    });

    it('AI任务成功率 is the overall share of finished tasks, not the seed\'s per-series ratio (real Prometheus engine)', async () => {
      const expr = substituteGrafanaVariables(panel(business, 'AI任务成功率').targets![0]!.expr);
      // flux: 9 of 10 finished tasks succeed; kling: 1 of 2; 5 pending tasks are not finished.
      await expectPromql(
        expr,
        [
          { series: 'ai_tasks_total{service="flux",status="success",user_role="user"}', values: '0+9x20' },
          { series: 'ai_tasks_total{service="flux",status="failed",user_role="user"}', values: '0+1x20' },
          { series: 'ai_tasks_total{service="kling",status="success",user_role="user"}', values: '0+1x20' },
          { series: 'ai_tasks_total{service="kling",status="failed",user_role="user"}', values: '0+1x20' },
          { series: 'ai_tasks_total{service="kling",status="pending",user_role="user"}', values: '0+5x20' },
        ],
        '10m',
        [{ labels: '{}', value: 10 / 12 }],
      );
    });

    it('covers credits, users, security and errors', () => {
      const exprs = dataPanels(business).flatMap((p) => p.targets!.map((t) => t.expr)).join('\n');
      for (const name of [
        'credits_consumed_total',
        'credits_purchased_total',
        'user_credits_balance_bucket',
        'credit_conversion_rate',
        'avg_user_credits',
        'daily_active_users',
        'monthly_active_users',
        'new_users_registered',
        'user_retention_rate',
        'login_failures_total',
        'api_abuse_detected',
        'suspicious_access_patterns',
        'security_events_total',
        'application_errors_total',
        'payment_failures_total',
        'file_upload_failures_total',
        'ai_task_success_rate',
        'ai_task_duration_avg',
      ]) {
        expect(exprs, name).to.match(new RegExp(`\\b${name}\\b`));
      }
      expect(panel(business, 'Application errors by component').targets![0]!.expr).to.equal('sum by (component) (rate(application_errors_total[$__rate_interval]))');
      expect(panel(business, 'Security events by type').targets![0]!.expr).to.equal('sum by (event_type, severity) (rate(security_events_total[$__rate_interval]))');
    });
  });

  describe('service dashboard', () => {
    it('filters by job and instance', () => {
      expect(variablesOf(service).map((v) => v.name)).to.deep.equal(['datasource', 'job', 'instance']);
      for (const p of dataPanels(service)) {
        for (const t of p.targets!) {
          // Every metric the query reads (a catalog name) is filtered by both variables.
          for (const m of t.expr.matchAll(/\b[a-z_][a-z0-9_]*\b/g)) {
            if (!findEntry(m[0])) continue;
            const rest = t.expr.slice(m.index + m[0].length);
            expect(rest.startsWith('{') ? rest.slice(0, rest.indexOf('}')) : '', `${p.title}: ${m[0]}`).to.include('job=~"$job", instance=~"$instance"');
          }
        }
      }
    });

    it('shows HTTP by endpoint, the database by table and pool, cache, Redis memory, the runtime and overflow', () => {
      const exprs = dataPanels(service).flatMap((p) => p.targets!.map((t) => t.expr)).join('\n');
      for (const fragment of [
        'sum by (method, endpoint) (rate(http_requests_total{',
        'sum by (endpoint) (rate(http_requests_total{status_code=~"5.."',
        'sum by (le, method, endpoint) (rate(http_request_duration_seconds_bucket{',
        'http_concurrent_connections{',
        'sum by (table, operation) (rate(db_query_duration_seconds_count{',
        'db_connection_pool_usage{',
        'db_connection_pool_size{',
        'db_connection_pool_waiting{',
        'db_slow_queries_total{',
        'db_deadlocks_total{',
        'sum by (operation, result) (rate(cache_operations_total{',
        'cache_operation_duration_seconds_bucket{',
        'redis_memory_usage_ratio{',
        'process_cpu_seconds_total{',
        'process_resident_memory_bytes{',
        'nodejs_heap_size_used_bytes{',
        'nodejs_eventloop_lag_p99_seconds{',
        'nodejs_gc_duration_seconds_sum{',
        'vigil_metric_overflow_total{',
      ]) {
        expect(exprs).to.include(fragment);
      }
    });

    it('pool usage is in use over size per pool, worst instance (real Prometheus engine)', async () => {
      const expr = substituteGrafanaVariables(panel(service, 'Connection pool usage').targets![0]!.expr);
      await expectPromql(
        expr,
        [
          { series: 'db_connection_pool_usage{job="app",instance="a",pool="main"}', values: '9x20' },
          { series: 'db_connection_pool_size{job="app",instance="a",pool="main"}', values: '10x20' },
          { series: 'db_connection_pool_usage{job="app",instance="b",pool="main"}', values: '2x20' },
          { series: 'db_connection_pool_size{job="app",instance="b",pool="main"}', values: '10x20' },
        ],
        '10m',
        [{ labels: '{pool="main"}', value: 0.9 }],
      );
    });
  });

  describe('provisioning', () => {
    it('provisions Prometheus at http://prometheus:9090 with the uid the dashboards default to', () => {
      const doc = parseYaml(readFileSync(join(ROOT, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8')) as {
        apiVersion: number;
        datasources: Array<Record<string, unknown>>;
      };
      expect(doc.apiVersion).to.equal(1);
      expect(doc.datasources).to.have.length(1);
      expect(doc.datasources[0]).to.include({ name: 'Prometheus', uid: PROVISIONED_DATASOURCE_UID, type: 'prometheus', url: 'http://prometheus:9090', access: 'proxy', isDefault: true });
    });

    it('loads the dashboards from /etc/grafana/dashboards (where docker-compose mounts grafana/dashboards)', () => {
      const doc = parseYaml(readFileSync(join(ROOT, 'grafana', 'provisioning', 'dashboards', 'dashboards.yml'), 'utf8')) as {
        apiVersion: number;
        providers: Array<{ type: string; options: { path: string } }>;
      };
      expect(doc.apiVersion).to.equal(1);
      expect(doc.providers).to.have.length(1);
      expect(doc.providers[0]!.type).to.equal('file');
      expect(doc.providers[0]!.options.path).to.equal('/etc/grafana/dashboards');
    });

    it('grafana/dashboards/README.md describes every dashboard and its variables', () => {
      const readme = readFileSync(join(DASHBOARDS_DIR, 'README.md'), 'utf8');
      for (const [file, d] of Object.entries(dashboards)) {
        expect(readme, file).to.include(file);
        expect(readme, d.uid).to.include(d.uid!);
        for (const v of variablesOf(d)) expect(readme, `${file} variable ${v.name}`).to.include(`\`${v.name}\``);
      }
      expect(readme).to.include('generate.js');
    });
  });
});
