import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as piechart from '@grafana/grafana-foundation-sdk/piechart';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import type { DashboardJson } from './types';

/** The name of every dashboard's datasource variable. */
export const DATASOURCE_VARIABLE = 'datasource';

/** The uid of the provisioned Prometheus datasource (grafana/provisioning/datasources/prometheus.yml). */
export const PROVISIONED_DATASOURCE_UID = 'prometheus';

/** Every panel and query reads the datasource the `$datasource` variable picks. */
export const DATASOURCE: dashboard.DataSourceRef = { type: 'prometheus', uid: `\${${DATASOURCE_VARIABLE}}` };

/** One PromQL query of a panel. */
export interface Query {
  readonly expr: string;
  /** Grafana legend template (`{{label}}`). */
  readonly legend?: string;
  /** An instant query (tables, bar gauges, pie charts): the value now, not a series over time. */
  readonly instant?: boolean;
  /** `table` for table panels; `heatmap` turns cumulative histogram buckets into per-bucket counts. */
  readonly format?: 'table' | 'heatmap';
}

/** What every panel states: a title, what it means to the person on call, a unit and its queries. */
export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  /** A Grafana unit id (`percent`, `percentunit`, `s`, `bytes`, `reqps`, `short`, `suffix: tokens/s`, ...). */
  readonly unit: string;
  readonly queries: readonly Query[];
  /** Width in grid columns (24 = full width). */
  readonly w?: number;
  /** Height in grid rows. */
  readonly h?: number;
  readonly min?: number;
  readonly max?: number;
  readonly decimals?: number;
  /** Absolute threshold steps; the first is the base (value null). */
  readonly thresholds?: readonly dashboard.Threshold[];
  readonly mappings?: readonly dashboard.ValueMapping[];
  /** Text shown when the query returns nothing. */
  readonly noValue?: string;
}

const REF_IDS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

function target(q: Query, i: number): prometheus.DataqueryBuilder {
  const b = new prometheus.DataqueryBuilder()
    .expr(q.expr)
    .refId(REF_IDS[i] ?? `Q${i}`)
    .datasource(DATASOURCE)
    .editorMode(prometheus.QueryEditorMode.Code);
  if (q.instant) b.instant();
  else b.range();
  if (q.legend !== undefined) b.legendFormat(q.legend);
  if (q.format === 'table') b.format(prometheus.PromQueryFormat.Table);
  if (q.format === 'heatmap') b.format(prometheus.PromQueryFormat.Heatmap);
  return b;
}

/** Green below the first threshold value, then the given colors. */
export function steps(base: string, ...rest: Array<[number, string]>): dashboard.Threshold[] {
  return [{ value: null, color: base }, ...rest.map(([value, color]) => ({ value, color }))];
}

function thresholds(t: readonly dashboard.Threshold[] | undefined): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps(t ? [...t] : steps('green'));
}

/** A value-to-text mapping with a color: `{ 1: ['Enabled', 'green'], ... }`. */
export function valueMappings(map: Record<string, readonly [string, string]>): dashboard.ValueMapping[] {
  const options: Record<string, dashboard.ValueMappingResult> = {};
  let index = 0;
  for (const [value, [text, color]] of Object.entries(map)) options[value] = { text, color, index: index++ };
  return [{ type: dashboard.MappingType.ValueToText, options }];
}

// The builders share these setters but not a common interface; one structural type covers them.
interface CommonSetters<T> {
  title(t: string): T;
  description(d: string): T;
  datasource(d: dashboard.DataSourceRef): T;
  unit(u: string): T;
  height(h: number): T;
  span(w: number): T;
  min(n: number): T;
  max(n: number): T;
  decimals(n: number): T;
  thresholds(t: cog.Builder<dashboard.ThresholdsConfig>): T;
  mappings(m: dashboard.ValueMapping[]): T;
  noValue(v: string): T;
  withTarget(t: cog.Builder<cog.Dataquery>): T;
}

function apply<T extends CommonSetters<T>>(b: T, spec: PanelSpec, defaults: { w: number; h: number }): T {
  b.title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(spec.w ?? defaults.w)
    .height(spec.h ?? defaults.h)
    .thresholds(thresholds(spec.thresholds));
  if (spec.min !== undefined) b.min(spec.min);
  if (spec.max !== undefined) b.max(spec.max);
  if (spec.decimals !== undefined) b.decimals(spec.decimals);
  if (spec.mappings) b.mappings([...spec.mappings]);
  if (spec.noValue !== undefined) b.noValue(spec.noValue);
  spec.queries.forEach((q, i) => b.withTarget(target(q, i)));
  return b;
}

function lastValue(): common.ReduceDataOptionsBuilder {
  return new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false);
}

/** A single number, colored by thresholds, with a sparkline of the range. */
export function statPanel(spec: PanelSpec & { readonly sparkline?: boolean }): stat.PanelBuilder {
  return apply(new stat.PanelBuilder(), spec, { w: 4, h: 5 })
    .reduceOptions(lastValue())
    .colorMode(common.BigValueColorMode.Value)
    .graphMode(spec.sparkline === false ? common.BigValueGraphMode.None : common.BigValueGraphMode.Area)
    .textMode(common.BigValueTextMode.Auto)
    .justifyMode(common.BigValueJustifyMode.Auto)
    .orientation(common.VizOrientation.Auto);
}

/** Lines over time, legend as a table with mean / max / last so the worst series is one click away. */
export function timeseriesPanel(spec: PanelSpec & { readonly stack?: boolean; readonly thresholdLines?: boolean }): timeseries.PanelBuilder {
  const b = apply(new timeseries.PanelBuilder(), spec, { w: 12, h: 8 })
    .lineWidth(1)
    .fillOpacity(spec.stack ? 30 : 10)
    .showPoints(common.VisibilityMode.Never)
    .spanNulls(false)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Bottom)
        .calcs(['mean', 'max', 'lastNotNull'])
        .sortBy('Max')
        .sortDesc(true),
    )
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
  if (spec.stack) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal).group('A'));
  if (spec.thresholdLines) b.thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed));
  return b;
}

/** Horizontal gradient bars, one per series (rankings). */
export function barGaugePanel(spec: PanelSpec): bargauge.PanelBuilder {
  return apply(new bargauge.PanelBuilder(), spec, { w: 12, h: 8 })
    .orientation(common.VizOrientation.Horizontal)
    .displayMode(common.BarGaugeDisplayMode.Gradient)
    .valueMode(common.BarGaugeValueMode.Color)
    .namePlacement(common.BarGaugeNamePlacement.Auto)
    .showUnfilled(true)
    .sizing(common.BarGaugeSizing.Auto)
    .reduceOptions(lastValue());
}

/** Shares of a whole. */
export function piePanel(spec: PanelSpec): piechart.PanelBuilder {
  return apply(new piechart.PanelBuilder(), spec, { w: 8, h: 8 })
    .pieType(piechart.PieChartType.Donut)
    .displayLabels([piechart.PieChartLabels.Percent])
    .reduceOptions(lastValue())
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Single).sort(common.SortOrder.None))
    .legend(
      new piechart.PieChartLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Right)
        .values([piechart.PieChartLegendValues.Value, piechart.PieChartLegendValues.Percent]),
    );
}

/**
 * A table of an instant query (format table). `valueTitle` renames the Value
 * column; `valueMappings` (and the spec's thresholds) color only that column, so a
 * label value such as channel_id "1" is never mistaken for a status.
 */
export function tablePanel(
  spec: PanelSpec & { readonly valueTitle: string; readonly valueMappings?: readonly dashboard.ValueMapping[]; readonly sortByValue?: 'asc' | 'desc' },
): table.PanelBuilder {
  const b = apply(new table.PanelBuilder(), { ...spec, mappings: undefined }, { w: 12, h: 8 })
    .showHeader(true)
    .cellHeight(common.TableCellHeight.Sm)
    .withTransformation({ id: 'organize', options: { excludeByName: { Time: true, __name__: true }, renameByName: { Value: spec.valueTitle } } });
  const props: dashboard.DynamicConfigValue[] = [{ id: 'custom.cellOptions', value: { type: common.TableCellDisplayMode.ColorText } }];
  if (spec.valueMappings) props.push({ id: 'mappings', value: [...spec.valueMappings] });
  b.overrideByName(spec.valueTitle, props);
  if (spec.sortByValue) b.sortBy([new common.TableSortByFieldStateBuilder().displayName(spec.valueTitle).desc(spec.sortByValue === 'desc')]);
  return b;
}

/** States over time, one lane per series (value mappings name and color the states). */
export function stateTimelinePanel(spec: PanelSpec): statetimeline.PanelBuilder {
  return apply(new statetimeline.PanelBuilder(), spec, { w: 24, h: 8 })
    .showValue(common.VisibilityMode.Auto)
    .mergeValues(true)
    .rowHeight(0.8)
    .alignValue(common.TimelineValueAlignment.Left)
    .fillOpacity(80)
    .lineWidth(0)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Single).sort(common.SortOrder.None));
}

/** The `$datasource` variable: any Prometheus datasource, the provisioned one first. */
export function datasourceVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder(DATASOURCE_VARIABLE)
    .label('Data source')
    .type('prometheus')
    .current({ selected: true, text: 'Prometheus', value: PROVISIONED_DATASOURCE_UID });
}

/**
 * A multi-value variable over a label's values (`label_values(selector, label)`),
 * with "All" meaning the regex `.*` so series with an empty label still match.
 */
export function labelValuesVariable(name: string, label: string, selector: string, text: string): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder(name)
    .label(text)
    .datasource(DATASOURCE)
    // The classic string form: every Grafana version migrates it to its variable editor.
    .query(`label_values(${selector}, ${label})`)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalCaseInsensitiveAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ selected: true, text: ['All'], value: ['$__all'] });
}

/** A titled group of panels; each section starts an expanded row. */
export interface Section {
  readonly title: string;
  readonly panels: ReadonlyArray<cog.Builder<dashboard.Panel>>;
}

/** A dashboard's identity and contents. */
export interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly variables: ReadonlyArray<cog.Builder<dashboard.VariableModel>>;
  readonly sections: readonly Section[];
}

/** Lays the sections out (rows, then panels left to right) and numbers every panel. */
export function buildDashboard(spec: DashboardSpec): DashboardJson {
  const b = new dashboard.DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags([...spec.tags])
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .refresh('30s')
    .timepicker(new dashboard.TimePickerBuilder().refreshIntervals(['30s', '1m', '5m', '15m']))
    .variables([datasourceVariable(), ...spec.variables]);
  for (const section of spec.sections) {
    b.withRow(new dashboard.RowBuilder(section.title).collapsed(false));
    for (const p of section.panels) b.withPanel(p);
  }
  const json = b.build();
  let id = 1;
  for (const p of json.panels ?? []) p.id = id++;
  return json as DashboardJson;
}
