import type { WebhookAlert, WebhookPayload } from './internal-types';
import type { TemplateLanguage } from './types';

/**
 * The seed's severity emoji (004, 工具2 `_send_dingtalk_alert`): critical 🚨,
 * warning ⚠️, info ℹ️, anything else 📢. Resolved alerts get ✅.
 */
export const SEVERITY_EMOJI: Readonly<Record<string, string>> = { critical: '🚨', warning: '⚠️', info: 'ℹ️' };
export const DEFAULT_EMOJI = '📢';
export const RESOLVED_EMOJI = '✅';

const SEVERITY_RANK: Readonly<Record<string, number>> = { critical: 3, warning: 2, info: 1 };

/** A run of lines kept together when possible; `alert` marks one alert's block. */
export interface Block {
  lines: string[];
  alert: boolean;
}

/** A notification rendered to lines, before it is fitted to a service's size limit. */
export interface RenderedMessage {
  /** Short title (DingTalk `title`, Feishu card header), without part numbers. */
  title: string;
  /** Highest severity among the alerts the message is about. */
  severity: string;
  status: 'firing' | 'resolved';
  /** Lines repeated at the top of every part (after the title heading). */
  header: string[];
  blocks: Block[];
  /** "N more alerts not shown" line, for when a message must be trimmed. */
  omitted(count: number): string;
}

/** How Markdown is written for one service. */
export interface MarkupStyle {
  heading(text: string): string;
  bold(text: string): string;
  link(text: string, url: string): string;
}

export const MARKDOWN: MarkupStyle = {
  heading: (t) => `### ${t}`,
  bold: (t) => `**${t}**`,
  link: (t, u) => `[${t}](${u})`,
};

/** Feishu card Markdown renders bold and links but headings only in newer card schemas. */
export const CARD_MARKDOWN: MarkupStyle = {
  heading: (t) => `**${t}**`,
  bold: (t) => `**${t}**`,
  link: (t, u) => `[${t}](${u})`,
};

export const PLAIN: MarkupStyle = {
  heading: (t) => t,
  bold: (t) => t,
  link: (t, u) => `${t}: ${u}`,
};

interface Words {
  severity: string;
  summary: string;
  description: string;
  labels: string;
  started: string;
  ended: string;
  duration: string;
  runbook: string;
  source: string;
  group: string;
  firingSection: string;
  resolvedSection: string;
  alertmanager: string;
  omitted: (n: number) => string;
  truncated: (n: number) => string;
}

const WORDS: Record<TemplateLanguage, Words> = {
  // The seed's DingTalk template labels: 告警等级, 告警信息, 发生时间.
  zh: {
    severity: '告警等级',
    summary: '告警信息',
    description: '详细描述',
    labels: '标签',
    started: '发生时间',
    ended: '恢复时间',
    duration: '持续时间',
    runbook: '处理手册',
    source: '查看来源',
    group: '分组',
    firingSection: '告警中',
    resolvedSection: '已恢复',
    alertmanager: 'Alertmanager',
    omitted: (n) => (n > 0 ? `…另有 ${n} 条告警未显示，请在 Alertmanager 中查看` : '…内容过长已截断，请在 Alertmanager 中查看'),
    truncated: (n) => `Alertmanager 已截断 ${n} 条告警（max_alerts）`,
  },
  en: {
    severity: 'Severity',
    summary: 'Summary',
    description: 'Description',
    labels: 'Labels',
    started: 'Started',
    ended: 'Ended',
    duration: 'Duration',
    runbook: 'Runbook',
    source: 'Source',
    group: 'Group',
    firingSection: 'Firing',
    resolvedSection: 'Resolved',
    alertmanager: 'Alertmanager',
    omitted: (n) => (n > 0 ? `…${n} more alert${n === 1 ? '' : 's'} not shown, see Alertmanager` : '…truncated, see Alertmanager'),
    truncated: (n) => `Alertmanager truncated ${n} alert${n === 1 ? '' : 's'} (max_alerts)`,
  },
};

/** Labels shown elsewhere in the block, not repeated in the label list. */
const HIDDEN_LABELS = new Set(['alertname', 'severity']);

export interface RenderOptions {
  language: TemplateLanguage;
  timeZone: string;
  style: MarkupStyle;
  titlePrefix: string;
  /** Extra lines right after the header on firing notifications (DingTalk @-mentions). */
  mentionLine?: string;
}

export function severityEmoji(severity: string): string {
  return SEVERITY_EMOJI[severity] ?? DEFAULT_EMOJI;
}

/** Renders an Alertmanager group notification as Markdown (or plain) lines. */
export function renderMessage(p: WebhookPayload, o: RenderOptions): RenderedMessage {
  const w = WORDS[o.language];
  const s = o.style;
  const when = timeFormatter(o.timeZone);
  const firing = p.alerts.filter((a) => a.status === 'firing').sort(byImportance);
  const resolved = p.alerts.filter((a) => a.status === 'resolved').sort(byImportance);
  const considered = firing.length > 0 ? firing : resolved;
  const severity = considered.reduce<string>((best, a) => {
    const sev = a.labels['severity'] ?? '';
    return (SEVERITY_RANK[sev] ?? 0) > (SEVERITY_RANK[best] ?? 0) ? sev : best;
  }, considered[0]?.labels['severity'] ?? '');

  const name =
    p.commonLabels['alertname'] ??
    (Object.keys(p.groupLabels).length > 0 ? Object.values(p.groupLabels).join(' ') : `${p.alerts[0]!.labels['alertname']} …`);
  const statusTag = p.status === 'firing' ? `FIRING:${firing.length}` : `RESOLVED:${resolved.length}`;
  const emoji = p.status === 'firing' ? severityEmoji(severity) : RESOLVED_EMOJI;
  const prefix = o.titlePrefix ? `${o.titlePrefix} ` : '';
  const title = `${prefix}${emoji} [${statusTag}] ${oneLine(name)}`;

  const header: string[] = [];
  const groupText = labelList(p.groupLabels, new Set());
  if (groupText) {
    const am = p.externalURL ? ` · ${s.link(w.alertmanager, p.externalURL)}` : '';
    header.push(`${s.bold(w.group)}: ${groupText}${am}`);
  }
  if (p.truncatedAlerts > 0) header.push(w.truncated(p.truncatedAlerts));

  const blocks: Block[] = [];
  if (o.mentionLine && p.status === 'firing') blocks.push({ lines: [o.mentionLine], alert: false });
  const both = firing.length > 0 && resolved.length > 0;
  if (both) blocks.push({ lines: [s.bold(`${w.firingSection} (${firing.length})`)], alert: false });
  for (const a of firing) blocks.push({ lines: alertLines(a, w, s, when), alert: true });
  if (both) blocks.push({ lines: [s.bold(`${w.resolvedSection} (${resolved.length})`)], alert: false });
  for (const a of resolved) blocks.push({ lines: alertLines(a, w, s, when), alert: true });

  return { title, severity, status: p.status, header, blocks, omitted: w.omitted };
}

function alertLines(a: WebhookAlert, w: Words, s: MarkupStyle, when: (iso: string) => string): string[] {
  const sev = a.labels['severity'] ?? '';
  const emoji = a.status === 'resolved' ? RESOLVED_EMOJI : severityEmoji(sev);
  const lines = [s.heading(`${emoji} ${oneLine(a.labels['alertname'] ?? '')}`)];
  if (sev) lines.push(`${s.bold(w.severity)}: ${oneLine(sev).toUpperCase()}`);
  const summary = a.annotations['summary'] ?? a.annotations['message'];
  if (summary) lines.push(`${s.bold(w.summary)}: ${oneLine(summary)}`);
  const description = (a.annotations['description'] ?? '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (description.length > 0) {
    lines.push(`${s.bold(w.description)}: ${description[0]}`);
    lines.push(...description.slice(1));
  }
  const labels = labelList(a.labels, HIDDEN_LABELS);
  if (labels) lines.push(`${s.bold(w.labels)}: ${labels}`);
  lines.push(`${s.bold(w.started)}: ${when(a.startsAt)}`);
  if (a.status === 'resolved' && isSet(a.endsAt)) {
    lines.push(`${s.bold(w.ended)}: ${when(a.endsAt)}`);
    const ms = Date.parse(a.endsAt) - Date.parse(a.startsAt);
    if (ms >= 0) lines.push(`${s.bold(w.duration)}: ${humanDuration(ms)}`);
  }
  const links: string[] = [];
  const runbook = a.annotations['runbook_url'] ?? a.annotations['runbook'];
  if (runbook && isHttp(runbook)) links.push(s.link(w.runbook, runbook));
  if (a.generatorURL && isHttp(a.generatorURL)) links.push(s.link(w.source, a.generatorURL));
  if (links.length > 0) lines.push(links.join(' · '));
  return lines;
}

function byImportance(a: WebhookAlert, b: WebhookAlert): number {
  const r = (SEVERITY_RANK[b.labels['severity'] ?? ''] ?? 0) - (SEVERITY_RANK[a.labels['severity'] ?? ''] ?? 0);
  if (r !== 0) return r;
  const t = Date.parse(a.startsAt) - Date.parse(b.startsAt);
  if (t !== 0) return t;
  return (a.labels['alertname'] ?? '').localeCompare(b.labels['alertname'] ?? '') || a.fingerprint.localeCompare(b.fingerprint);
}

function labelList(labels: Record<string, string>, hidden: Set<string>): string {
  return Object.keys(labels)
    .filter((k) => !hidden.has(k))
    .sort()
    .map((k) => `${k}=${oneLine(labels[k]!)}`)
    .join(', ');
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

function isSet(iso: string): boolean {
  return Date.parse(iso) > 0;
}

function isHttp(url: string): boolean {
  return /^https?:\/\/\S+$/.test(url);
}

/** `1h 5m`, `3m 20s`, `45s`. */
export function humanDuration(ms: number): string {
  let s = Math.round(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts = [d && `${d}d`, h && `${h}h`, m && `${m}m`, s && `${s}s`].filter(Boolean) as string[];
  return parts.length > 0 ? parts.slice(0, 2).join(' ') : '0s';
}

function timeFormatter(timeZone: string): (iso: string) => string {
  const f = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
  return (iso) => {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    const parts = Object.fromEntries(f.formatToParts(d).map((p) => [p.type, p.value]));
    return `${parts['year']}-${parts['month']}-${parts['day']} ${parts['hour']}:${parts['minute']}:${parts['second']} ${timeZone}`;
  };
}
