import {
  newApiActiveRequests,
  newApiChannelStatus,
  newApiModelInputTokensTotal,
  newApiModelOutputTokensTotal,
  newApiModelRequestDurationSeconds,
  newApiModelRequestErrorsTotal,
  newApiModelRequestsTotal,
  newApiModelTimeToFirstTokenSeconds,
} from '@vigil/catalog';
import {
  barGaugePanel,
  buildDashboard,
  labelValuesVariable,
  stateTimelinePanel,
  statPanel,
  steps,
  tablePanel,
  timeseriesPanel,
  valueMappings,
} from './panels';
import { RANGE, eq, increase, quantile, rate, ratio, re, sel, sumBy } from './promql';
import type { DashboardJson } from './types';

// The AI gateway dashboard of seed 000 (Prometheus 监控部署指南, 步骤 6: 配置 Grafana).

/** The dashboard's variables, as every gateway query filters them. */
const F = { site_id: re('$site_id'), channel_name: re('$channel'), model_name: re('$model') } as const;
/** new_api_channel_status has no model_name. */
const FC = { site_id: re('$site_id'), channel_name: re('$channel') } as const;

/** The seed's 总成功率 thresholds: 0 red, 95 orange, 98 yellow, 99 green (percent). */
const SUCCESS_THRESHOLDS = steps('red', [95, 'orange'], [98, 'yellow'], [99, 'green']);

/** new_api_channel_status values (seed 000, Prometheus Metrics 说明 4). */
const CHANNEL_STATUS = valueMappings({
  1: ['Enabled', 'green'],
  2: ['Manually disabled', 'orange'],
  3: ['Auto disabled', 'red'],
  4: ['Deleted', '#8e8e8e'],
});

const R = newApiModelRequestsTotal;
const E = newApiModelRequestErrorsTotal;
const D = newApiModelRequestDurationSeconds;

/**
 * Success share in percent: the seed's query, aggregated as it is written, filtered by the variables.
 * Requests the client aborted (status="aborted") count neither way, as in the alerts.
 */
function successPercent(labels: ReadonlyArray<'channel_name' | 'model_name'>): string {
  return `${ratio(R, labels, { status: eq('success'), ...F }, { status: re('success|error'), ...F })} * 100`;
}

export function gatewayDashboard(): DashboardJson {
  return buildDashboard({
    uid: 'vigil-ai-gateway',
    title: 'AI Gateway (New API)',
    description: 'Model requests, success rates, latency, errors and channel health of an AI gateway instrumented with @vigil/gateway (seed 000).',
    tags: ['vigil', 'ai-gateway', 'new-api'],
    variables: [
      labelValuesVariable('site_id', 'site_id', sel(R), 'Site'),
      labelValuesVariable('channel', 'channel_name', sel(R, { site_id: re('$site_id') }), 'Channel'),
      labelValuesVariable('model', 'model_name', sel(R, { site_id: re('$site_id'), channel_name: re('$channel') }), 'Model'),
    ],
    sections: [
      {
        title: 'Overview',
        panels: [
          statPanel({
            title: '总成功率 (Total success rate)',
            description:
              'Successful model requests over all requests, in percent, for the selected sites, channels and models. Seed 000 thresholds: red below 95, orange from 95, yellow from 98, green from 99. Empty when there is no traffic.',
            unit: 'percent',
            decimals: 2,
            min: 0,
            max: 100,
            thresholds: SUCCESS_THRESHOLDS,
            noValue: 'No traffic',
            queries: [{ expr: successPercent([]), legend: '总成功率' }],
            w: 6,
          }),
          statPanel({
            title: 'Requests',
            description: 'Model requests per second through the gateway.',
            unit: 'reqps',
            queries: [{ expr: `${sumBy(R, [], rate(sel(R, F)))} or vector(0)`, legend: 'requests/s' }],
            w: 4,
          }),
          statPanel({
            title: 'Failed requests',
            description: 'Model requests per second that ended with status="error".',
            unit: 'reqps',
            thresholds: steps('green', [0.01, 'orange'], [1, 'red']),
            queries: [{ expr: `${sumBy(R, [], rate(sel(R, { status: eq('error'), ...F })))} or vector(0)`, legend: 'errors/s' }],
            w: 4,
          }),
          statPanel({
            title: 'P95 latency',
            description: '95th percentile of model request duration across the selection (the ModelHighLatency alert fires above 30 s per model).',
            unit: 's',
            thresholds: steps('green', [10, 'orange'], [30, 'red']),
            queries: [{ expr: quantile(0.95, D, [], F), legend: 'p95' }],
            w: 4,
          }),
          statPanel({
            title: 'Active requests',
            description: 'Model requests in flight now (the HighActiveRequests alert fires above 100).',
            unit: 'short',
            thresholds: steps('green', [80, 'orange'], [100, 'red']),
            queries: [{ expr: `${sumBy(newApiActiveRequests, [], sel(newApiActiveRequests, F))} or vector(0)`, legend: 'in flight' }],
            w: 3,
          }),
          statPanel({
            title: 'Channels not enabled',
            description: 'Channels whose status is not 1 (enabled): manually or automatically disabled, or deleted.',
            unit: 'short',
            thresholds: steps('green', [1, 'red']),
            sparkline: false,
            queries: [{ expr: `count(${sel(newApiChannelStatus, FC)} != 1) or vector(0)`, legend: 'not enabled' }],
            w: 3,
          }),
        ],
      },
      {
        title: 'Channels',
        panels: [
          barGaugePanel({
            title: '渠道成功率排名 (Channel success rate ranking)',
            description: 'Success rate of each channel in percent, lowest first: the channels to look at are on top. Same thresholds as 总成功率.',
            unit: 'percent',
            decimals: 2,
            min: 0,
            max: 100,
            thresholds: SUCCESS_THRESHOLDS,
            queries: [{ expr: `sort(${successPercent(['channel_name'])})`, legend: '{{channel_name}}', instant: true }],
            h: 10,
          }),
          timeseriesPanel({
            title: 'Success rate by channel',
            description: 'Success rate of each channel over time, in percent. Dashed lines: the seed\'s thresholds (ChannelLowSuccessRate fires below 95 for 5 minutes, ChannelCriticalSuccessRate below 90 for 2).',
            unit: 'percent',
            max: 100,
            thresholds: SUCCESS_THRESHOLDS,
            thresholdLines: true,
            queries: [{ expr: successPercent(['channel_name']), legend: '{{channel_name}}' }],
            h: 10,
          }),
          stateTimelinePanel({
            title: 'Channel status',
            description: 'Status of each channel over time: 1 enabled, 2 manually disabled, 3 auto disabled (the gateway disabled it after failures), 4 deleted.',
            unit: 'short',
            mappings: CHANNEL_STATUS,
            queries: [
              {
                expr: `max by (site_id, channel_id, channel_name) (${sel(newApiChannelStatus, FC)})`,
                legend: '{{channel_name}} (#{{channel_id}}, {{site_id}})',
              },
            ],
            w: 14,
          }),
          tablePanel({
            title: 'Channel status now',
            description: 'Every channel with its current status, worst first.',
            unit: 'short',
            valueTitle: 'Status',
            valueMappings: CHANNEL_STATUS,
            sortByValue: 'desc',
            queries: [
              {
                expr: `max by (site_id, channel_id, channel_name, channel_type) (${sel(newApiChannelStatus, FC)})`,
                instant: true,
                format: 'table',
              },
            ],
            w: 10,
          }),
        ],
      },
      {
        title: 'Models',
        panels: [
          timeseriesPanel({
            title: 'Requests by model',
            description: 'Model requests per second, by model.',
            unit: 'reqps',
            stack: true,
            queries: [{ expr: sumBy(R, ['model_name'], rate(sel(R, F))), legend: '{{model_name}}' }],
          }),
          timeseriesPanel({
            title: 'Success rate by model',
            description: 'Success rate of each model, in percent (ModelLowSuccessRate fires below 90 for 5 minutes, ModelCriticalSuccessRate below 80 for 2).',
            unit: 'percent',
            max: 100,
            thresholds: steps('red', [80, 'orange'], [90, 'green']),
            thresholdLines: true,
            queries: [{ expr: successPercent(['model_name']), legend: '{{model_name}}' }],
          }),
          timeseriesPanel({
            title: 'Latency p50 / p95 / p99 by model',
            description: 'Model request duration quantiles across every channel and instance, by model.',
            unit: 's',
            thresholds: steps('green', [30, 'red']),
            thresholdLines: true,
            queries: [
              { expr: quantile(0.5, D, ['model_name'], F), legend: 'p50 {{model_name}}' },
              { expr: quantile(0.95, D, ['model_name'], F), legend: 'p95 {{model_name}}' },
              { expr: quantile(0.99, D, ['model_name'], F), legend: 'p99 {{model_name}}' },
            ],
          }),
          timeseriesPanel({
            title: 'Time to first token p50 / p95 by model',
            description: 'Time until the first streamed token of a model response (streaming requests only).',
            unit: 's',
            queries: [
              { expr: quantile(0.5, newApiModelTimeToFirstTokenSeconds, ['model_name'], F), legend: 'p50 {{model_name}}' },
              { expr: quantile(0.95, newApiModelTimeToFirstTokenSeconds, ['model_name'], F), legend: 'p95 {{model_name}}' },
            ],
          }),
        ],
      },
      {
        title: 'Errors',
        panels: [
          timeseriesPanel({
            title: 'Errors by error code',
            description: 'Failed model requests per second by upstream error code (429: rate limited, 5xx: upstream failures; RateLimitErrors and ServerErrors alert on them).',
            unit: 'reqps',
            stack: true,
            queries: [{ expr: sumBy(E, ['error_code'], rate(sel(E, F))), legend: '{{error_code}}' }],
          }),
          timeseriesPanel({
            title: 'Errors by channel',
            description: 'Failed model requests per second by channel.',
            unit: 'reqps',
            stack: true,
            queries: [{ expr: sumBy(E, ['channel_name'], rate(sel(E, F))), legend: '{{channel_name}}' }],
          }),
          tablePanel({
            title: 'Top error messages',
            description:
              'The 15 most frequent (normalised) error messages over the whole picked time range, with channel, model and code. The window is $__range on purpose: this table answers "what went wrong in this period".',
            unit: 'short',
            decimals: 0,
            valueTitle: 'Errors',
            sortByValue: 'desc',
            queries: [
              {
                expr: `topk(15, ${sumBy(E, ['channel_name', 'model_name', 'error_code', 'error_message'], increase(sel(E, F), RANGE))})`,
                instant: true,
                format: 'table',
              },
            ],
            w: 24,
          }),
        ],
      },
      {
        title: 'Load and tokens',
        panels: [
          timeseriesPanel({
            title: 'Active requests by channel',
            description: 'Model requests in flight, by channel.',
            unit: 'short',
            stack: true,
            thresholds: steps('green', [100, 'red']),
            queries: [{ expr: sumBy(newApiActiveRequests, ['channel_name'], sel(newApiActiveRequests, F)), legend: '{{channel_name}}' }],
            w: 8,
          }),
          timeseriesPanel({
            title: 'Tokens by model',
            description: 'Prompt (input) and completion (output) tokens per second reported by the upstream models.',
            unit: 'suffix: tokens/s',
            queries: [
              { expr: sumBy(newApiModelInputTokensTotal, ['model_name'], rate(sel(newApiModelInputTokensTotal, F))), legend: 'input {{model_name}}' },
              { expr: sumBy(newApiModelOutputTokensTotal, ['model_name'], rate(sel(newApiModelOutputTokensTotal, F))), legend: 'output {{model_name}}' },
            ],
            w: 8,
          }),
          timeseriesPanel({
            title: 'Tokens by channel',
            description: 'Input plus output tokens per second, by channel.',
            unit: 'suffix: tokens/s',
            stack: true,
            queries: [
              {
                expr: `${sumBy(newApiModelInputTokensTotal, ['channel_name'], rate(sel(newApiModelInputTokensTotal, F)))} + ${sumBy(newApiModelOutputTokensTotal, ['channel_name'], rate(sel(newApiModelOutputTokensTotal, F)))}`,
                legend: '{{channel_name}}',
              },
            ],
            w: 8,
          }),
        ],
      },
    ],
  });
}
