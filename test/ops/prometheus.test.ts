/**
 * prometheus/: the configuration, the alert and recording rules and their
 * promtool unit tests, checked by the real promtool (Debian's prometheus
 * package), plus the conventions promtool cannot see.
 */
import { expect } from 'chai';
import { recordedEntries } from '@vigil/catalog';
import { alertRules, durationMs, listFiles, readYaml, run, type RuleFile } from './tools';

interface PromConfig {
  global: { scrape_interval: string; scrape_timeout: string; evaluation_interval: string };
  rule_files: string[];
  alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
  scrape_configs: Array<{
    job_name: string;
    scrape_interval?: string;
    scrape_timeout?: string;
    metrics_path?: string;
    static_configs: Array<{ targets: string[] }>;
    metric_relabel_configs?: Array<{ source_labels?: string[]; action?: string; regex?: string }>;
  }>;
}

interface AlertTestCase { eval_time: string; alertname: string; exp_alerts: Array<{ exp_labels?: Record<string, string>; exp_annotations?: Record<string, string> }> }
interface UnitTestFile {
  rule_files: string[];
  evaluation_interval?: string;
  tests: Array<{ name?: string; alert_rule_test?: AlertTestCase[]; promql_expr_test?: Array<{ expr: string }> }>;
}

const config = readYaml<PromConfig>('prometheus/prometheus.yml');
const ruleFiles = [...listFiles('prometheus/alerts', ['.yml']), ...listFiles('prometheus/rules', ['.yml'])];
const unitTestFiles = listFiles('prometheus/tests', ['_test.yml']);
const alerts = alertRules();

describe('prometheus/prometheus.yml', () => {
  it('passes promtool check config, which also loads every rule file it globs', () => {
    const r = run('promtool', ['check', 'config', 'prometheus/prometheus.yml']);
    expect(r.status, r.transcript).to.equal(0);
    expect(r.stdout, r.transcript).to.contain('SUCCESS: prometheus/prometheus.yml is valid prometheus config file syntax');
    expect(r.stdout, r.transcript).to.contain(`SUCCESS: ${ruleFiles.length} rule files found`);
    for (const f of ruleFiles) expect(r.stdout, r.transcript).to.contain(`Checking ${f}`);
  });

  it('uses the seed’s tuning: 30s globally, 15s / 10s timeout for the app job', () => {
    expect(config.global).to.include({ scrape_interval: '30s', evaluation_interval: '30s', scrape_timeout: '10s' });
    const app = config.scrape_configs.find((j) => j.job_name === 'ai-gateway');
    expect(app, 'job ai-gateway').to.not.equal(undefined);
    expect(app).to.include({ scrape_interval: '15s', scrape_timeout: '10s', metrics_path: '/metrics' });
    expect(app!.static_configs[0]!.targets).to.deep.equal(['ai-gateway:9464']);
    const relay = config.scrape_configs.find((j) => j.job_name === 'alert-relay');
    expect(relay?.static_configs[0]!.targets).to.deep.equal(['alert-relay:8080']);
  });

  it('sends alerts to alertmanager:9093 and loads alerts/*.yml and rules/*.yml', () => {
    expect(config.alerting.alertmanagers[0]!.static_configs[0]!.targets).to.deep.equal(['alertmanager:9093']);
    expect(config.rule_files).to.deep.equal(['alerts/*.yml', 'rules/*.yml']);
  });

  describe('metric_relabel_configs keep filter', () => {
    const keepRegexOf = (job: string): RegExp => {
      const keep = config.scrape_configs.find((j) => j.job_name === job)?.metric_relabel_configs?.find((c) => c.action === 'keep');
      expect(keep?.source_labels, `${job} keep rule`).to.deep.equal(['__name__']);
      // Prometheus anchors relabel regexes (RE2); this one uses only syntax JavaScript reads the same way.
      return new RegExp(`^(?:${keep!.regex!.trim()})$`);
    };

    for (const job of ['ai-gateway', 'alert-relay']) {
      it(`${job}: keeps every metric of the catalog, under every name it is scraped as`, () => {
        const keep = keepRegexOf(job);
        const names = recordedEntries.flatMap((e) => (e.type === 'histogram' ? [`${e.name}_bucket`, `${e.name}_sum`, `${e.name}_count`] : [e.name]));
        expect(names.length).to.be.greaterThan(50);
        const dropped = names.filter((n) => !keep.test(n));
        expect(dropped, 'catalog metrics the keep filter would drop').to.deep.equal([]);
        expect(keep.test('new_api_some_future_metric'), 'new_api_.* as in the seed').to.equal(true);
      });

      it(`${job}: drops what is not vigil’s`, () => {
        const keep = keepRegexOf(job);
        for (const n of ['go_goroutines', 'promhttp_metric_handler_requests_total', 'otel_scope_info', 'python_gc_objects_collected_total']) {
          expect(keep.test(n), n).to.equal(false);
        }
      });
    }
  });
});

describe('prometheus rule files', () => {
  for (const file of ruleFiles) {
    it(`${file} passes promtool check rules`, () => {
      const r = run('promtool', ['check', 'rules', file]);
      expect(r.status, r.transcript).to.equal(0);
      expect(r.stdout, r.transcript).to.match(/SUCCESS: \d+ rules found/);
    });
  }

  it('alert names are unique, and the two seed HighErrorRate alerts stay distinct', () => {
    const names = alerts.map((a) => a.alert);
    expect(names.filter((n, i) => names.indexOf(n) !== i), 'duplicate alert names').to.deep.equal([]);
    const gateway = alerts.find((a) => a.alert === 'HighErrorRate');
    const http = alerts.find((a) => a.alert === 'HTTPHighErrorRate');
    expect(gateway?.expr).to.contain('new_api_model_request_errors_total');
    expect(http?.expr).to.contain('http_requests_total');
  });

  it('has every alert of both seeds and vigil’s own (overflow, targets, health, alert relay)', () => {
    const expected = [
      // 000: four files
      'ChannelLowSuccessRate', 'ChannelCriticalSuccessRate', 'ChannelLowTraffic',
      'ModelLowSuccessRate', 'ModelCriticalSuccessRate', 'ModelHighLatency',
      'HighErrorRate', 'RateLimitErrors', 'ServerErrors', 'HighOverallErrorRate',
      'ChannelDisabled', 'ChannelNoRequests', 'HighActiveRequests',
      // 004: business_critical, system_resources, security (HighErrorRate -> HTTPHighErrorRate)
      'HTTPHighErrorRate', 'SlowResponseTime', 'AIServiceHighFailureRate', 'LowCacheHitRate', 'UnusualUserActivity',
      'DatabaseConnectionPoolExhausted', 'RedisHighMemoryUsage', 'HighLoginFailureRate', 'APIAbuseDetected',
      // vigil
      'VigilMetricOverflow', 'VigilTargetDown', 'HealthCheckFailing', 'AlertRelayDeliveryFailing',
    ];
    const names = alerts.map((a) => a.alert);
    expect(expected.filter((n) => !names.includes(n)), 'missing alerts').to.deep.equal([]);
    const file = (n: string) => alerts.find((a) => a.alert === n)!.file;
    expect(file('ChannelLowTraffic')).to.equal('prometheus/alerts/channel_success_rate.yml');
    expect(file('ModelHighLatency')).to.equal('prometheus/alerts/model_success_rate.yml');
    expect(file('HighOverallErrorRate')).to.equal('prometheus/alerts/error_spike.yml');
    expect(file('HighActiveRequests')).to.equal('prometheus/alerts/channel_status.yml');
    expect(file('VigilMetricOverflow')).to.equal('prometheus/alerts/vigil_self.yml');
    expect(file('AlertRelayDeliveryFailing')).to.equal('prometheus/alerts/vigil_self.yml');
  });

  it('keeps the seeds’ thresholds and for durations', () => {
    const rule = (n: string) => alerts.find((a) => a.alert === n)!;
    const cases: Array<[string, RegExp, string]> = [
      ['ChannelLowSuccessRate', /< 0\.95\b/, '5m'],
      ['ChannelCriticalSuccessRate', /< 0\.90\b/, '2m'],
      ['ModelLowSuccessRate', /< 0\.90\b/, '5m'],
      ['ModelCriticalSuccessRate', /< 0\.80\b/, '2m'],
      ['ModelHighLatency', /histogram_quantile\(0\.95,[\s\S]*\) > 30\b/, '5m'],
      ['HighErrorRate', /> 10\b/, '2m'],
      ['RateLimitErrors', /error_code="429"[\s\S]*> 5\b/, '2m'],
      ['ServerErrors', /error_code=~"5\[0-9\]\[0-9\]"[\s\S]*> 3\b/, '2m'],
      ['HighOverallErrorRate', /> 0\.10\b/, '2m'],
      ['HighActiveRequests', /> 100\b/, '5m'],
      ['HTTPHighErrorRate', /> 0\.05\b/, '2m'],
      ['SlowResponseTime', /histogram_quantile\(0\.95,[\s\S]*\) > 2\b/, '3m'],
      ['AIServiceHighFailureRate', /\[10m\][\s\S]*> 0\.1\b/, '5m'],
      ['LowCacheHitRate', /cache_hit_rate < 0\.7\b/, '5m'],
      ['UnusualUserActivity', /offset 1d[\s\S]*> 0\.5\b/, '10m'],
      ['DatabaseConnectionPoolExhausted', /db_connection_pool_usage \/ \(db_connection_pool_size > 0\) > 0\.9\b/, '2m'],
      ['RedisHighMemoryUsage', /redis_memory_usage_ratio\) > 0\.85\b/, '5m'],
      ['HighLoginFailureRate', /event_type="login_failure"[\s\S]*> 10\b/, '2m'],
      ['APIAbuseDetected', /event_type="api_abuse"/, '0m'],
      ['ChannelNoRequests', /\[10m\]/, '0m'],
      // the relay's result label is sent / failed / skipped (packages/alert-relay)
      ['AlertRelayDeliveryFailing', /alert_relay_notifications_total\{result="failed"\}\[15m\]/, '0m'],
    ];
    for (const [name, expr, forDuration] of cases) {
      expect(rule(name).expr, name).to.match(expr);
      expect(rule(name).for, `${name} for`).to.equal(forDuration);
    }
  });

  it('no alert counts client aborts as model-request failures (status="error" over status=~"success|error")', () => {
    // new_api_model_requests_total's status is success, error or aborted; an
    // aborted request is neither a success nor a channel failure. The promtool
    // cases in prometheus/tests prove it for each alert; this keeps new alerts
    // from reintroducing the negative match.
    const negative = alerts.filter((a) => /new_api_model_requests_total\{[^}]*status\s*!(=|~)/.test(a.expr)).map((a) => a.alert);
    expect(negative, 'alerts matching status!="success" (or !~) count aborts as failures').to.deep.equal([]);
    const ratios = ['ChannelLowSuccessRate', 'ChannelCriticalSuccessRate', 'ModelLowSuccessRate', 'ModelCriticalSuccessRate', 'HighOverallErrorRate'];
    for (const name of ratios) {
      const expr = alerts.find((a) => a.alert === name)!.expr;
      expect(expr, name).to.contain('new_api_model_requests_total{status="error"}');
      const unfiltered = [...expr.matchAll(/new_api_model_requests_total(\{[^}]*\})?/g)].filter((m) => !/status=(~"success\|error"|"error")/.test(m[1] ?? ''));
      expect(unfiltered.map((m) => m[0]), `${name}: every read of the counter is filtered to success|error (or error)`).to.deep.equal([]);
    }
  });

  for (const a of alerts) {
    it(`${a.alert}: severity, team, summary, description and runbook_url`, () => {
      expect(['critical', 'warning', 'info'], 'severity').to.include(a.labels['severity']);
      expect(a.labels['team'], 'team').to.match(/^[a-z_]+$/);
      expect(a.annotations['summary'], 'summary').to.be.a('string').and.not.equal('');
      expect(a.annotations['description'], 'description').to.match(/\{\{ \$value \| humanize(Percentage|Duration)? \}\}|\{\{ \$value \}\}|\$labels/);
      expect(a.annotations['runbook_url'], 'runbook_url').to.equal(`docs/runbook.md#${a.alert.toLowerCase()}`);
    });
  }
});

describe('promtool unit tests (prometheus/tests)', () => {
  for (const file of unitTestFiles) {
    it(`${file} passes promtool test rules`, () => {
      const r = run('promtool', ['test', 'rules', file]);
      expect(r.status, r.transcript).to.equal(0);
      expect(r.stdout, r.transcript).to.contain('SUCCESS');
    });
  }

  const suites = unitTestFiles.map((file) => ({ file, doc: readYaml<UnitTestFile>(file) }));

  it('every rule file is loaded by a unit test file', () => {
    const loaded = new Set(suites.flatMap((s) => s.doc.rule_files.map((r) => `prometheus/tests/${r}`.replace('tests/../', ''))));
    expect(ruleFiles.filter((f) => !loaded.has(f)), 'rule files no test loads').to.deep.equal([]);
  });

  for (const a of alerts) {
    it(`${a.alert}: fires at its for boundary (not one evaluation earlier) and has a case where it must stay quiet`, () => {
      let boundary = false;
      let quietGroup = false;
      for (const { doc } of suites) {
        const step = durationMs(doc.evaluation_interval ?? '1m');
        for (const t of doc.tests) {
          const cases = (t.alert_rule_test ?? []).filter((c) => c.alertname === a.alert);
          const firing = cases.filter((c) => c.exp_alerts.length > 0);
          if (cases.length > 0 && firing.length === 0) quietGroup = true;
          for (const f of firing) {
            const before = durationMs(f.eval_time) - step;
            const quietBefore = cases.some((c) => c.exp_alerts.length === 0 && durationMs(c.eval_time) === before);
            // the case pins exact labels and all three annotations
            const full = f.exp_alerts.every((e) => e.exp_labels?.['severity'] === a.labels['severity'] && e.exp_annotations?.['summary'] && e.exp_annotations['description'] && e.exp_annotations['runbook_url']);
            if (quietBefore && full) boundary = true;
          }
        }
      }
      expect(boundary, `${a.alert}: a firing case with labels and annotations, and an empty case one evaluation interval before it`).to.equal(true);
      expect(quietGroup, `${a.alert}: a test where it never fires (healthy traffic, a small error share, an idle system)`).to.equal(true);
    });
  }

  it('unit tests load only the repository’s own rule files', () => {
    for (const { file, doc } of suites) {
      for (const r of doc.rule_files) expect(r, file).to.match(/^\.\.\/(alerts|rules)\/[a-z_]+\.yml$/);
    }
    for (const f of ruleFiles) expect(readYaml<RuleFile>(f).groups.length, f).to.be.greaterThan(0);
  });
});
