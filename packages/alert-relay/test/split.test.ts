import { expect } from 'chai';
import fc from 'fast-check';
import type { TargetConfig, WebhookPayload } from '../src/internal-types';
import { createAdapter } from '../src/services';
import { splitMessage, truncateLine, jsonBytes, utf8Bytes } from '../src/split';
import { renderMessage } from '../src/template';
import type { TargetType } from '../src/types';

function target(type: TargetType, maxBytes: number, maxParts: number, format: 'card' | 'text' = 'card'): TargetConfig {
  const url = { dingtalk: 'https://oapi.dingtalk.com/robot/send?access_token=t', wecom: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k', feishu: 'https://open.feishu.cn/open-apis/bot/v2/hook/h' }[type];
  return {
    name: 't',
    type,
    url: new URL(url),
    secret: type === 'wecom' ? undefined : 'SECsecret',
    maxBytes,
    maxParts,
    rateLimits: [{ count: 20, windowMs: 60_000 }],
    cooldownMs: 60_000,
    queueCapacity: 100,
    titlePrefix: '',
    format,
    atMobiles: [],
    atAll: false,
  };
}

const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 120 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.tuple(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 2500 })).map(([s, n]) => s.repeat(n)),
  fc.constantFrom('告警：上游渠道 503', 'line one\nline two\n\nline "three" \\ end', '🚨⚠️ℹ️📢👩‍👩‍👧‍👦🇨🇳', 'a*b_c`d[e](f)'),
);

const alertArb = fc.record({
  status: fc.constantFrom('firing' as const, 'resolved' as const),
  alertname: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  severity: fc.constantFrom('critical', 'warning', 'info', 'page', ''),
  summary: text,
  description: text,
  extra: fc.dictionary(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }), text, { maxKeys: 3 }),
});

type AlertIn = typeof alertArb extends fc.Arbitrary<infer T> ? T : never;

function toPayload(alerts: AlertIn[]): WebhookPayload {
  const list = alerts.map((a, i) => ({
    status: a.status,
    labels: { ...a.extra, alertname: a.alertname, ...(a.severity ? { severity: a.severity } : {}) } as Record<string, string>,
    annotations: { summary: a.summary, description: a.description, runbook_url: 'https://runbooks.example.com/x' },
    startsAt: '2024-05-01T12:00:00Z',
    endsAt: a.status === 'resolved' ? '2024-05-01T12:30:00Z' : '0001-01-01T00:00:00Z',
    generatorURL: '',
    fingerprint: String(i),
  }));
  return {
    version: '4',
    groupKey: 'k',
    truncatedAlerts: 0,
    status: list.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: 'r',
    groupLabels: { alertname: list[0]!.labels.alertname },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://am:9093',
    alerts: list,
  };
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
function graphemeBoundary(s: string, index: number): boolean {
  if (index === 0 || index === s.length) return true;
  for (const { index: i } of segmenter.segment(s)) if (i === index) return true;
  return false;
}

const cases: [TargetType, 'card' | 'text'][] = [
  ['dingtalk', 'card'],
  ['wecom', 'card'],
  ['feishu', 'card'],
  ['feishu', 'text'],
];

describe('alert-relay message splitting (property-based)', () => {
  for (const [type, format] of cases) {
    it(`${type}${type === 'feishu' ? ` (${format})` : ''}: every message within the limit, whole lines in order, truncation only of over-long lines at grapheme boundaries`, () => {
      fc.assert(
        fc.property(fc.array(alertArb, { minLength: 1, maxLength: 25 }), fc.integer({ min: 600, max: 6000 }), (alerts, limit) => {
          const t = target(type, limit, 1000, format);
          const adapter = createAdapter(t);
          const payload = toPayload(alerts);
          const rendered = renderMessage(payload, { language: 'zh', timeZone: 'UTC', style: adapter.style, titlePrefix: '' });
          const parts = splitMessage(rendered, adapter.shape);
          const measure = type === 'wecom' ? utf8Bytes : jsonBytes;
          const expected = rendered.blocks.flatMap((b) => b.lines);
          const got: string[] = [];
          for (const p of parts) {
            // What the service measures, on the request actually built (signature included).
            const req = adapter.build(p, rendered.severity, rendered.status, Date.now());
            const size = type === 'wecom' ? utf8Bytes(JSON.parse(req.body).markdown.content) : Buffer.byteLength(req.body);
            expect(size).to.be.at.most(limit);
            const lines = p.content.split('\n').filter((l) => l.length > 0);
            const skip = adapter.shape.lead(p.title).length + rendered.header.length;
            got.push(...lines.slice(skip));
          }
          expect(got).to.have.length(expected.length);
          got.forEach((line, i) => {
            const orig = expected[i]!;
            if (line === orig) return;
            expect(line.endsWith('…'), `line ${i} changed without an ellipsis`).to.equal(true);
            const kept = line.slice(0, -1);
            expect(orig.startsWith(kept)).to.equal(true);
            expect(graphemeBoundary(orig, kept.length)).to.equal(true);
            expect(measure(orig)).to.be.above(limit / 4 - 64);
          });
        }),
        { numRuns: 60 },
      );
    });
  }

  it('trims to max_parts, keeping every message within the limit and saying how many alerts were left out', () => {
    fc.assert(
      fc.property(fc.array(alertArb, { minLength: 5, maxLength: 40 }), fc.integer({ min: 600, max: 3000 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom<TargetType>('dingtalk', 'wecom', 'feishu'), (alerts, limit, maxParts, type) => {
        const adapter = createAdapter(target(type, limit, maxParts));
        const rendered = renderMessage(toPayload(alerts), { language: 'en', timeZone: 'UTC', style: adapter.style, titlePrefix: '[prod]' });
        const parts = splitMessage(rendered, adapter.shape);
        expect(parts.length).to.be.at.most(maxParts);
        for (const p of parts) expect(adapter.shape.measure(p.title, p.content)).to.be.at.most(limit);
        // Body lines of all parts, in order.
        const body = parts.flatMap((p) => p.content.split('\n').filter(Boolean).slice(adapter.shape.lead(p.title).length + rendered.header.length));
        const expected = rendered.blocks.flatMap((b) => b.lines.map((line, i) => ({ line, startsAlert: b.alert && i === 0 })));
        const last = body.at(-1)!;
        const note = /^…(?:(\d+) more alerts? not shown|truncated), see Alertmanager$/.exec(last);
        const shownLines = note ? body.slice(0, -1) : body;
        // What is shown is the beginning of the message, whole lines (or one truncated over-long line).
        shownLines.forEach((line, i) => {
          const orig = expected[i]!.line;
          if (line !== orig) expect(line.endsWith('…') && orig.startsWith(line.slice(0, -1)), `line ${i}`).to.equal(true);
        });
        if (!note) {
          expect(shownLines).to.have.length(expected.length);
          return;
        }
        expect(shownLines.length).to.be.below(expected.length);
        const total = expected.filter((e) => e.startsAlert).length;
        const shown = expected.slice(0, shownLines.length).filter((e) => e.startsAlert).length;
        expect(Number(note[1] ?? 0)).to.equal(total - shown);
      }),
      { numRuns: 100 },
    );
  });

  it('truncates one line UTF-8 safely: never inside an emoji, a CJK character or a flag', () => {
    const line = `${'告警'.repeat(10)}👩‍👩‍👧‍👦🇨🇳${'é'.repeat(10)}`;
    for (let max = 4; max < utf8Bytes(line); max++) {
      const cut = truncateLine(line, max, utf8Bytes);
      expect(utf8Bytes(cut)).to.be.at.most(max);
      expect(cut.endsWith('…')).to.equal(true);
      expect(graphemeBoundary(line, cut.length - 1)).to.equal(true);
      expect(line.startsWith(cut.slice(0, -1))).to.equal(true);
    }
    expect(truncateLine(line, utf8Bytes(line), utf8Bytes)).to.equal(line);
  });
});
