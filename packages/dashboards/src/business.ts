import {
  activeUsersCurrent,
  aiServiceFailuresTotal,
  aiServiceUsageDistribution,
  aiTaskDurationAvg,
  aiTaskDurationSeconds,
  aiTaskSuccessRate,
  aiTasksSubmittedTotal,
  aiTasksTotal,
  apiAbuseDetected,
  applicationErrorsTotal,
  avgUserCredits,
  cacheHitRate,
  creditConversionRate,
  creditsConsumedTotal,
  creditsOperationsTotal,
  creditsPurchasedTotal,
  dailyActiveUsers,
  fileUploadFailuresTotal,
  httpErrorsRate,
  httpRequestDurationSeconds,
  loginFailuresTotal,
  monthlyActiveUsers,
  newUsersRegistered,
  paymentFailuresTotal,
  securityEventsTotal,
  suspiciousAccessPatterns,
  userCreditsBalance,
  userRetentionRate,
} from '@vigil/catalog';
import { barGaugePanel, buildDashboard, piePanel, statPanel, steps, timeseriesPanel } from './panels';
import { RANGE, bucket, eq, increase, quantile, rate, re, sel, sumBy } from './promql';
import type { DashboardJson } from './types';

// The business dashboard of seed 004 (方案4: Grafana仪表板, "WXIAI 业务监控仪表板"), its five
// panels first, then the credits, users, AI task, security and error indicators of
// the seed's 监控指标体系. Ratios and averages read the catalog's recording rules
// (prometheus/rules/derived.yml), which aggregate across instances.
//
// Per-process gauges (active_users_current, daily/monthly_active_users) are summed over
// instances: exact with one instance, an upper bound when one user reaches several.

const TASK_SUCCESS_THRESHOLDS = steps('red', [0.9, 'orange'], [0.95, 'green']);

export function businessDashboard(): DashboardJson {
  return buildDashboard({
    uid: 'vigil-business',
    title: 'WXIAI 业务监控仪表板 (Business)',
    description: 'Users, AI tasks, credits, security and errors of an AI platform instrumented with @vigil/business (seed 004).',
    tags: ['vigil', 'business'],
    variables: [],
    sections: [
      {
        title: '业务概览 (seed 004 方案4)',
        panels: [
          statPanel({
            title: '实时用户活跃',
            description: 'Users active in the recent activity window (active_users_current), summed over instances.',
            unit: 'short',
            decimals: 0,
            queries: [{ expr: sumBy(activeUsersCurrent, [], sel(activeUsersCurrent)), legend: '当前活跃用户' }],
            w: 6,
            h: 8,
          }),
          statPanel({
            title: 'AI任务成功率',
            description:
              'Share of finished AI tasks (success or failed) that succeeded, across every service and instance. The seed divides un-aggregated rates (one ratio per series); this is the overall share it meant. Pending tasks are not finished and not counted. The AIServiceHighFailureRate alert fires above 10% failures per service.',
            unit: 'percentunit',
            decimals: 1,
            min: 0,
            max: 1,
            thresholds: TASK_SUCCESS_THRESHOLDS,
            noValue: 'No finished tasks',
            queries: [
              {
                expr: `${sumBy(aiTasksTotal, [], rate(sel(aiTasksTotal, { status: eq('success') })))} / ${sumBy(aiTasksTotal, [], rate(sel(aiTasksTotal, { status: re('success|failed') })))}`,
                legend: '成功率',
              },
            ],
            w: 6,
            h: 8,
          }),
          piePanel({
            title: '各AI服务使用量',
            description:
              'Each AI service\'s share of task submissions over the last hour (recording rule ai_service_usage_distribution). The fixed 1 h window is the seed\'s (rate(ai_tasks_total[1h])); submissions rather than outcomes, so a task counts once.',
            unit: 'percentunit',
            queries: [{ expr: sel(aiServiceUsageDistribution), legend: '{{service}}', instant: true }],
            w: 12,
            h: 8,
          }),
          timeseriesPanel({
            title: 'API响应时间趋势',
            description: 'HTTP response time quantiles across every endpoint and instance (buckets summed by le first, as the seed meant). SlowResponseTime fires when p95 stays above 2 s.',
            unit: 's',
            thresholds: steps('green', [2, 'red']),
            thresholdLines: true,
            queries: [
              { expr: quantile(0.95, httpRequestDurationSeconds, []), legend: '95th percentile' },
              { expr: quantile(0.5, httpRequestDurationSeconds, []), legend: '50th percentile' },
            ],
            w: 12,
            h: 8,
          }),
          timeseriesPanel({
            title: '缓存命中率',
            description: 'Share of cache reads that were hits over 5 minutes (recording rule cache_hit_rate). LowCacheHitRate fires below 70%.',
            unit: 'percentunit',
            min: 0,
            max: 1,
            thresholds: steps('red', [0.7, 'green']),
            thresholdLines: true,
            queries: [{ expr: sel(cacheHitRate), legend: '命中率' }],
            w: 12,
            h: 8,
          }),
        ],
      },
      {
        title: 'AI tasks',
        panels: [
          timeseriesPanel({
            title: 'AI task submissions by service',
            description: 'AI tasks submitted per second, by service (ai_tasks_submitted_total).',
            unit: 'cps',
            stack: true,
            queries: [{ expr: sumBy(aiTasksSubmittedTotal, ['service'], rate(sel(aiTasksSubmittedTotal))), legend: '{{service}}' }],
            w: 8,
          }),
          timeseriesPanel({
            title: 'AI task success rate by service',
            description: 'Share of finished tasks that succeeded over 5 minutes, by service (recording rule ai_task_success_rate).',
            unit: 'percentunit',
            min: 0,
            max: 1,
            thresholds: TASK_SUCCESS_THRESHOLDS,
            thresholdLines: true,
            queries: [{ expr: sel(aiTaskSuccessRate), legend: '{{service}}' }],
            w: 8,
          }),
          timeseriesPanel({
            title: 'AI task outcomes',
            description: 'AI task outcomes per second (success, failed, pending), by service.',
            unit: 'cps',
            stack: true,
            queries: [{ expr: sumBy(aiTasksTotal, ['service', 'status'], rate(sel(aiTasksTotal))), legend: '{{service}} {{status}}' }],
            w: 8,
          }),
          timeseriesPanel({
            title: 'AI task duration by service',
            description: 'Average task duration over 5 minutes (recording rule ai_task_duration_avg) and the 95th percentile, by service.',
            unit: 's',
            queries: [
              { expr: sel(aiTaskDurationAvg), legend: 'avg {{service}}' },
              { expr: quantile(0.95, aiTaskDurationSeconds, ['service']), legend: 'p95 {{service}}' },
            ],
          }),
          timeseriesPanel({
            title: 'AI service call failures',
            description: 'Failed calls to AI services per second, by service and error type.',
            unit: 'cps',
            stack: true,
            queries: [{ expr: sumBy(aiServiceFailuresTotal, ['service', 'error_type'], rate(sel(aiServiceFailuresTotal))), legend: '{{service}} {{error_type}}' }],
          }),
        ],
      },
      {
        title: 'Credits',
        panels: [
          statPanel({
            title: '积分转化率 (Credit conversion)',
            description: 'Credits consumed over credits purchased in the last day (recording rule credit_conversion_rate).',
            unit: 'percentunit',
            decimals: 1,
            queries: [{ expr: sel(creditConversionRate), legend: 'conversion' }],
          }),
          statPanel({
            title: '平均用户积分余额 (Average balance)',
            description: 'Average of the user credit balances observed in the last hour (recording rule avg_user_credits).',
            unit: 'short',
            decimals: 0,
            queries: [{ expr: sel(avgUserCredits), legend: 'average balance' }],
          }),
          statPanel({
            title: 'Credits consumed',
            description: 'Credits consumed over the picked time range ($__range on purpose: a total for the period).',
            unit: 'short',
            decimals: 0,
            sparkline: false,
            queries: [{ expr: `${sumBy(creditsConsumedTotal, [], increase(sel(creditsConsumedTotal), RANGE))} or vector(0)`, legend: 'consumed' }],
          }),
          statPanel({
            title: 'Credits purchased',
            description: 'Credits purchased over the picked time range ($__range on purpose: a total for the period).',
            unit: 'short',
            decimals: 0,
            sparkline: false,
            queries: [{ expr: `${sumBy(creditsPurchasedTotal, [], increase(sel(creditsPurchasedTotal), RANGE))} or vector(0)`, legend: 'purchased' }],
          }),
          barGaugePanel({
            title: 'User credit balance distribution',
            description: 'Balances observed over the picked time range ($__range on purpose: the distribution of the period), per balance bucket (user_credits_balance, recorded at each consumption). The heatmap format turns cumulative buckets into counts per bucket.',
            unit: 'short',
            decimals: 0,
            queries: [{ expr: sumBy(userCreditsBalance, ['le'], increase(bucket(userCreditsBalance), RANGE)), legend: '{{le}}', instant: true, format: 'heatmap' }],
            w: 8,
            h: 5,
          }),
          timeseriesPanel({
            title: 'Credits consumed and purchased',
            description: 'Credits consumed and purchased per second, by user role.',
            unit: 'suffix: credits/s',
            queries: [
              { expr: sumBy(creditsConsumedTotal, ['user_role'], rate(sel(creditsConsumedTotal))), legend: 'consumed {{user_role}}' },
              { expr: sumBy(creditsPurchasedTotal, ['user_role'], rate(sel(creditsPurchasedTotal))), legend: 'purchased {{user_role}}' },
            ],
          }),
          timeseriesPanel({
            title: 'Credit operations',
            description: 'Credit operations per second (consume, refund, purchase), by operation.',
            unit: 'ops',
            stack: true,
            queries: [{ expr: sumBy(creditsOperationsTotal, ['operation'], rate(sel(creditsOperationsTotal))), legend: '{{operation}}' }],
          }),
        ],
      },
      {
        title: 'Users',
        panels: [
          statPanel({
            title: '日活跃用户 (DAU)',
            description: 'Distinct users active today (UTC), summed over instances.',
            unit: 'short',
            decimals: 0,
            queries: [{ expr: sumBy(dailyActiveUsers, [], sel(dailyActiveUsers)), legend: 'DAU' }],
            w: 6,
          }),
          statPanel({
            title: '月活跃用户 (MAU)',
            description: 'Distinct users active in the last 30 days, summed over instances.',
            unit: 'short',
            decimals: 0,
            queries: [{ expr: sumBy(monthlyActiveUsers, [], sel(monthlyActiveUsers)), legend: 'MAU' }],
            w: 6,
          }),
          statPanel({
            title: '新用户注册数 (New users, 24 h)',
            description: 'User registrations in the last day (recording rule new_users_registered).',
            unit: 'short',
            decimals: 0,
            queries: [{ expr: sel(newUsersRegistered), legend: 'new users' }],
            w: 6,
          }),
          statPanel({
            title: '用户留存率 (Retention)',
            description: 'Share of yesterday\'s active users who are active again today (computed in-process: PromQL cannot intersect user sets). Averaged over instances.',
            unit: 'percentunit',
            decimals: 1,
            queries: [{ expr: `avg(${sel(userRetentionRate)})`, legend: 'retention' }],
            w: 6,
          }),
          timeseriesPanel({
            title: 'Active users',
            description: 'Users active now, today and in the last 30 days.',
            unit: 'short',
            queries: [
              { expr: sumBy(activeUsersCurrent, [], sel(activeUsersCurrent)), legend: 'active now' },
              { expr: sumBy(dailyActiveUsers, [], sel(dailyActiveUsers)), legend: 'DAU' },
              { expr: sumBy(monthlyActiveUsers, [], sel(monthlyActiveUsers)), legend: 'MAU' },
            ],
          }),
          timeseriesPanel({
            title: 'New users and retention',
            description: 'Registrations in the trailing 24 h (new_users_registered) and the retention rate (right axis).',
            unit: 'short',
            queries: [
              { expr: sel(newUsersRegistered), legend: 'registrations (24 h)' },
              { expr: `avg(${sel(userRetentionRate)})`, legend: 'retention' },
            ],
          })
            .overrideByName('retention', [
              { id: 'unit', value: 'percentunit' },
              { id: 'custom.axisPlacement', value: 'right' },
            ]),
        ],
      },
      {
        title: 'Security',
        panels: [
          timeseriesPanel({
            title: 'Login failures',
            description: 'Failed logins per second, by reason. HighLoginFailureRate fires above 10/s of login_failure security events.',
            unit: 'cps',
            stack: true,
            queries: [{ expr: sumBy(loginFailuresTotal, ['reason'], rate(sel(loginFailuresTotal))), legend: '{{reason}}' }],
          }),
          timeseriesPanel({
            title: 'Security events by type',
            description: 'Security events per second, by event type and severity (APIAbuseDetected pages on any api_abuse event).',
            unit: 'cps',
            stack: true,
            queries: [{ expr: sumBy(securityEventsTotal, ['event_type', 'severity'], rate(sel(securityEventsTotal))), legend: '{{event_type}} ({{severity}})' }],
          }),
          timeseriesPanel({
            title: 'API abuse detected',
            description: 'API abuse detections in the last 5 minutes, by rule (recording rule api_abuse_detected).',
            unit: 'short',
            stack: true,
            queries: [{ expr: sel(apiAbuseDetected), legend: '{{rule}}' }],
          }),
          timeseriesPanel({
            title: 'Suspicious access patterns',
            description: 'Suspicious access patterns detected in the last 5 minutes, by pattern (recording rule suspicious_access_patterns).',
            unit: 'short',
            stack: true,
            queries: [{ expr: sel(suspiciousAccessPatterns), legend: '{{pattern}}' }],
          }),
        ],
      },
      {
        title: 'Errors',
        panels: [
          timeseriesPanel({
            title: 'Application errors by component',
            description: 'Application errors per second, by component.',
            unit: 'cps',
            stack: true,
            queries: [{ expr: sumBy(applicationErrorsTotal, ['component'], rate(sel(applicationErrorsTotal))), legend: '{{component}}' }],
            w: 8,
          }),
          timeseriesPanel({
            title: 'Application errors by type',
            description: 'Application errors per second, by error type.',
            unit: 'cps',
            stack: true,
            queries: [{ expr: sumBy(applicationErrorsTotal, ['error_type'], rate(sel(applicationErrorsTotal))), legend: '{{error_type}}' }],
            w: 8,
          }),
          timeseriesPanel({
            title: 'HTTP 5xx share',
            description: 'Share of HTTP requests answered with a 5xx status over 5 minutes (recording rule http_errors_rate). HTTPHighErrorRate fires above 5%.',
            unit: 'percentunit',
            min: 0,
            thresholds: steps('green', [0.05, 'red']),
            thresholdLines: true,
            queries: [{ expr: sel(httpErrorsRate), legend: '5xx share' }],
            w: 8,
          }),
          timeseriesPanel({
            title: 'Payment failures',
            description: 'Failed payments per second, by reason.',
            unit: 'cps',
            stack: true,
            queries: [{ expr: sumBy(paymentFailuresTotal, ['reason'], rate(sel(paymentFailuresTotal))), legend: '{{reason}}' }],
          }),
          timeseriesPanel({
            title: 'File upload failures',
            description: 'Failed file uploads per second, by reason.',
            unit: 'cps',
            stack: true,
            queries: [{ expr: sumBy(fileUploadFailuresTotal, ['reason'], rate(sel(fileUploadFailuresTotal))), legend: '{{reason}}' }],
          }),
        ],
      },
    ],
  });
}
