import { createHmac } from 'node:crypto';
import type { FailureReason, TargetConfig } from './internal-types';
import { jsonBytes, utf8Bytes, type MessageShape, type Part } from './split';
import { CARD_MARKDOWN, MARKDOWN, PLAIN, type MarkupStyle } from './template';

/** A request ready to be posted. */
export interface ServiceRequest {
  url: string;
  body: string;
}

export type ServiceVerdict = { ok: true } | { ok: false; reason: FailureReason; detail: string };

/** What differs between DingTalk, WeCom and Feishu. */
export interface ServiceAdapter {
  style: MarkupStyle;
  shape: MessageShape;
  /** Builds the signed request; `nowMs` is the signing time. */
  build(part: Part, severity: string, status: 'firing' | 'resolved', nowMs: number): ServiceRequest;
  /** Decides from the HTTP answer whether the service accepted the message. */
  interpret(httpStatus: number, body: string): ServiceVerdict;
}

/** DingTalk: `timestamp + "\n" + secret`, HMAC-SHA256 keyed by the secret, base64, URL-encoded into the query. */
export function dingtalkSign(secret: string, timestampMs: number): string {
  return createHmac('sha256', secret).update(`${timestampMs}\n${secret}`, 'utf8').digest('base64');
}

/** Feishu: `timestamp + "\n" + secret` is the HMAC-SHA256 key, over an empty message, base64. */
export function feishuSign(secret: string, timestampSec: number): string {
  return createHmac('sha256', `${timestampSec}\n${secret}`).update('').digest('base64');
}

export function createAdapter(t: TargetConfig): ServiceAdapter {
  switch (t.type) {
    case 'dingtalk':
      return dingtalk(t);
    case 'wecom':
      return wecom(t);
    case 'feishu':
      return feishu(t);
  }
}

function dingtalk(t: TargetConfig): ServiceAdapter {
  const body = (title: string, text: string, at?: object): string =>
    JSON.stringify({ msgtype: 'markdown', markdown: { title, text }, ...(at ? { at } : {}) });
  const atObject = t.atMobiles.length > 0 || t.atAll ? { atMobiles: t.atMobiles, isAtAll: t.atAll } : undefined;
  return {
    style: MARKDOWN,
    shape: {
      limit: t.maxBytes,
      maxParts: t.maxParts,
      cost: jsonBytes,
      // Measured as the whole request body: stricter than the text alone, so safe either way.
      measure: (title, content) => utf8Bytes(body(title, content, atObject)),
      lead: (title) => [MARKDOWN.heading(title)],
      // DingTalk Markdown needs a blank line for a line break.
      lineSep: '\n\n',
      blockSep: '\n\n',
    },
    build(part, _severity, status, nowMs) {
      const url = new URL(t.url);
      if (t.secret) {
        url.searchParams.set('timestamp', String(nowMs));
        url.searchParams.set('sign', dingtalkSign(t.secret, nowMs));
      }
      const at = status === 'firing' && part.index === 1 ? atObject : undefined;
      return { url: url.toString(), body: body(part.title, part.content, at) };
    },
    interpret: (status, text) =>
      errcodeVerdict(status, text, (code, msg) => {
        if (code === 130101) return 'rate_limited'; // send too fast, exceed 20 times per minute
        if (code === 460101) return 'too_large'; // message too long, exceed 20000 bytes
        void msg;
        return 'rejected'; // 310000 sign not match / keywords not in content / ip not in whitelist, 300001 token ...
      }),
  };
}

function wecom(t: TargetConfig): ServiceAdapter {
  return {
    style: MARKDOWN,
    shape: {
      limit: t.maxBytes,
      maxParts: t.maxParts,
      cost: utf8Bytes,
      // WeCom limits markdown.content to 4096 UTF-8 bytes.
      measure: (_title, content) => utf8Bytes(content),
      lead: (title) => [MARKDOWN.heading(title)],
      lineSep: '\n',
      blockSep: '\n\n',
    },
    build(part) {
      return { url: t.url.toString(), body: JSON.stringify({ msgtype: 'markdown', markdown: { content: part.content } }) };
    },
    interpret: (status, text) =>
      errcodeVerdict(status, text, (code, msg) => {
        if (code === 45009) return 'rate_limited'; // api freq out of limit
        if (code === 40058 && /exceed/i.test(msg)) return 'too_large'; // markdown.content exceed max length 4096
        return 'rejected'; // 93000 invalid webhook url, ...
      }),
  };
}

const FEISHU_COLORS: Record<string, string> = { critical: 'red', warning: 'orange', info: 'blue' };

function feishu(t: TargetConfig): ServiceAdapter {
  const card = t.format === 'card';
  const style = card ? CARD_MARKDOWN : PLAIN;
  const color = (severity: string, status: string): string => (status === 'resolved' ? 'green' : (FEISHU_COLORS[severity] ?? 'grey'));
  const body = (title: string, content: string, template: string, ts?: string, sign?: string): string => {
    const signed = ts !== undefined ? { timestamp: ts, sign } : {};
    return card
      ? JSON.stringify({
          ...signed,
          msg_type: 'interactive',
          card: {
            config: { wide_screen_mode: true },
            header: { title: { tag: 'plain_text', content: title }, template },
            elements: [{ tag: 'markdown', content }],
          },
        })
      : JSON.stringify({ ...signed, msg_type: 'text', content: { text: content } });
  };
  // For measuring: a signature has a fixed length (10-digit seconds, 44 base64 characters).
  const dummyTs = t.secret ? '1700000000' : undefined;
  const dummySign = t.secret ? 'x'.repeat(44) : undefined;
  return {
    style,
    shape: {
      limit: t.maxBytes,
      maxParts: t.maxParts,
      cost: jsonBytes,
      // Feishu limits the whole request body (20 KB).
      measure: (title, content) => utf8Bytes(body(title, content, 'orange', dummyTs, dummySign)),
      // The card header shows the title; a text message starts with it.
      lead: (title) => (card ? [] : [title]),
      lineSep: '\n',
      blockSep: '\n\n',
    },
    build(part, severity, status, nowMs) {
      const template = color(severity, status);
      if (!t.secret) return { url: t.url.toString(), body: body(part.title, part.content, template) };
      const ts = Math.floor(nowMs / 1000);
      return { url: t.url.toString(), body: body(part.title, part.content, template, String(ts), feishuSign(t.secret, ts)) };
    },
    interpret(status, text) {
      const parsed = parseJson(text);
      if (status === 429) return { ok: false, reason: 'rate_limited', detail: withDetail('HTTP 429', parsed && describe(parsed, 'code', 'msg')) };
      if (status < 200 || status > 299) {
        return { ok: false, reason: 'http_status', detail: `HTTP ${status}${parsed ? `: ${describe(parsed, 'code', 'msg')}` : ''}` };
      }
      if (!parsed) return { ok: false, reason: 'invalid_response', detail: `HTTP ${status} with a body that is not JSON` };
      // Current answers carry `code`; old ones only `StatusCode`. Both must be 0.
      const hasCode = typeof parsed['code'] === 'number';
      const hasStatus = typeof parsed['StatusCode'] === 'number';
      if (!hasCode && !hasStatus) return { ok: false, reason: 'invalid_response', detail: 'answer has neither code nor StatusCode' };
      const code = hasCode ? (parsed['code'] as number) : 0;
      const statusCode = hasStatus ? (parsed['StatusCode'] as number) : 0;
      if (code === 0 && statusCode === 0) return { ok: true };
      const failing = code !== 0 ? code : statusCode;
      // 11232 frequency limited (custom bots), 99991400 request trigger frequency limit (open API gateway).
      const reason: FailureReason = failing === 11232 || failing === 99991400 ? 'rate_limited' : 'rejected';
      return { ok: false, reason, detail: code !== 0 ? describe(parsed, 'code', 'msg') : describe(parsed, 'StatusCode', 'StatusMessage') };
    },
  };
}

/** DingTalk and WeCom answer `{errcode, errmsg}`; only errcode 0 is success, whatever the HTTP status. */
function errcodeVerdict(status: number, text: string, classify: (code: number, msg: string) => FailureReason): ServiceVerdict {
  const parsed = parseJson(text);
  if (status < 200 || status > 299) {
    return { ok: false, reason: status === 429 ? 'rate_limited' : 'http_status', detail: withDetail(`HTTP ${status}`, parsed && describe(parsed, 'errcode', 'errmsg')) };
  }
  if (!parsed || typeof parsed['errcode'] !== 'number') return { ok: false, reason: 'invalid_response', detail: `HTTP ${status} without a numeric errcode` };
  const code = parsed['errcode'] as number;
  if (code === 0) return { ok: true };
  const msg = typeof parsed['errmsg'] === 'string' ? parsed['errmsg'] : '';
  return { ok: false, reason: classify(code, msg), detail: describe(parsed, 'errcode', 'errmsg') };
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function describe(o: Record<string, unknown>, codeKey: string, msgKey: string): string {
  const msg = typeof o[msgKey] === 'string' ? (o[msgKey] as string) : '';
  const code = typeof o[codeKey] === 'number' || typeof o[codeKey] === 'string' ? `${codeKey} ${String(o[codeKey])}` : '';
  const text = [code, msg].filter(Boolean).join(': ');
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function withDetail(head: string, detail: string | undefined): string {
  return detail ? `${head}: ${detail}` : head;
}
