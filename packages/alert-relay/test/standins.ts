/**
 * Local stand-ins for the chat services' robot webhooks. They check what the
 * real services check, and answer the real services' error codes:
 *
 * DingTalk custom robot (oapi.dingtalk.com/robot/send?access_token=...):
 *   access_token (300001), signature `timestamp + "\n" + secret` HMAC-SHA256 base64 in the
 *   query with the timestamp (ms) within one hour (310000), markdown body, message at most
 *   20000 bytes (460101), at most 20 messages a minute (130101).
 * WeCom group robot (qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...):
 *   key (93000), markdown.content at most 4096 bytes (40058), 20 messages a minute (45009).
 * Feishu custom bot (open.feishu.cn/open-apis/bot/v2/hook/<id>):
 *   hook id (19001), signature: HMAC-SHA256 keyed by `timestamp + "\n" + secret` over an
 *   empty message, base64, `timestamp` (s, within one hour) and `sign` in the body (19021),
 *   request body at most 20 KB (9499), 100 a minute and 5 a second (11232).
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Kind = 'dingtalk' | 'wecom' | 'feishu';

export interface Received {
  /** Arrival time (ms). */
  at: number;
  path: string;
  query: URLSearchParams;
  /** Raw body bytes. */
  bytes: number;
  body: any;
  /** The answer given. */
  answer: { status: number; body: any };
  accepted: boolean;
}

export interface StandInOptions {
  secret?: string;
  token?: string;
  /** Size limit, as the real service measures it. */
  maxBytes?: number;
  /** Rate limits, as the real service applies them. */
  limits?: { count: number; windowMs: number }[];
}

interface Scripted {
  status: number;
  body: any;
}

export class ChatStandIn {
  readonly received: Received[] = [];
  private server: Server | undefined;
  private port = 0;
  private readonly script: Scripted[] = [];
  private readonly sendTimes: number[] = [];
  readonly secret: string | undefined;
  readonly token: string;
  readonly maxBytes: number;
  readonly limits: { count: number; windowMs: number }[];

  constructor(
    readonly kind: Kind,
    opts: StandInOptions = {},
  ) {
    this.secret = opts.secret;
    this.token = opts.token ?? `tok-${kind}-${Math.random().toString(36).slice(2, 10)}`;
    this.maxBytes = opts.maxBytes ?? (kind === 'wecom' ? 4096 : 20000);
    this.limits =
      opts.limits ??
      (kind === 'feishu'
        ? [
            { count: 100, windowMs: 60_000 },
            { count: 5, windowMs: 1000 },
          ]
        : [{ count: 20, windowMs: 60_000 }]);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }

  /** The robot's webhook URL, as the chat service shows it to the user. */
  get url(): string {
    const base = `http://127.0.0.1:${this.port}`;
    if (this.kind === 'dingtalk') return `${base}/robot/send?access_token=${this.token}`;
    if (this.kind === 'wecom') return `${base}/cgi-bin/webhook/send?key=${this.token}`;
    return `${base}/open-apis/bot/v2/hook/${this.token}`;
  }

  /** The next `n` valid requests get this answer instead of success. */
  failNext(n: number, answer: Scripted): void {
    for (let i = 0; i < n; i++) this.script.push(answer);
  }

  /** Messages accepted, in order. */
  get accepted(): Received[] {
    return this.received.filter((r) => r.accepted);
  }

  /** The Markdown / text content of an accepted message. */
  static content(r: Received): string {
    const b = r.body;
    if (b.msgtype === 'markdown' && b.markdown?.text !== undefined) return b.markdown.text;
    if (b.msgtype === 'markdown') return b.markdown.content;
    if (b.msg_type === 'interactive') return b.card.elements.map((e: any) => e.content).join('\n');
    return b.content.text;
  }

  static title(r: Received): string {
    const b = r.body;
    if (b.msgtype === 'markdown' && b.markdown?.title !== undefined) return b.markdown.title;
    if (b.msg_type === 'interactive') return b.card.header.title.content;
    return ChatStandIn.content(r).split('\n')[0]!;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://x');
      const at = Date.now();
      const answer = this.decide(req, url, raw, at);
      let body: any;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        body = undefined;
      }
      const accepted = answer.status === 200 && (answer.body.errcode === 0 || answer.body.code === 0);
      this.received.push({ at, path: url.pathname, query: url.searchParams, bytes: raw.length, body, answer, accepted });
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
  }

  private decide(req: IncomingMessage, url: URL, raw: Buffer, now: number): Scripted {
    if (req.method !== 'POST') return { status: 405, body: {} };
    if (this.kind === 'dingtalk') return this.dingtalk(req, url, raw, now);
    if (this.kind === 'wecom') return this.wecom(req, url, raw, now);
    return this.feishu(url, raw, now);
  }

  private overRate(now: number): boolean {
    this.sendTimes.push(now);
    return this.limits.some(({ count, windowMs }) => this.sendTimes.filter((t) => t > now - windowMs).length > count);
  }

  private dingtalk(req: IncomingMessage, url: URL, raw: Buffer, now: number): Scripted {
    const err = (errcode: number, errmsg: string): Scripted => ({ status: 200, body: { errcode, errmsg } });
    if (url.pathname !== '/robot/send') return { status: 404, body: {} };
    if (url.searchParams.get('access_token') !== this.token) return err(300001, 'token is not exist');
    if (!String(req.headers['content-type']).includes('application/json')) return err(43004, '无效的HTTP HEADER Content-Type');
    if (this.secret) {
      const ts = Number(url.searchParams.get('timestamp'));
      const sign = url.searchParams.get('sign');
      if (!Number.isFinite(ts) || Math.abs(now - ts) > 3600_000) return err(310000, 'invalid timestamp');
      const want = createHmac('sha256', this.secret).update(`${url.searchParams.get('timestamp')}\n${this.secret}`).digest('base64');
      if (sign !== want) return err(310000, 'sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]');
    }
    let b: any;
    try {
      b = JSON.parse(raw.toString('utf8'));
    } catch {
      return err(40035, '缺少参数 json');
    }
    if (b.msgtype !== 'markdown' || typeof b.markdown?.title !== 'string' || typeof b.markdown?.text !== 'string' || !b.markdown.text) {
      return err(40035, '缺少参数 markdown');
    }
    if (raw.length > this.maxBytes) return err(460101, `message too long, exceed ${this.maxBytes} bytes`);
    if (this.overRate(now)) return err(130101, 'send too fast, exceed 20 times per minute');
    return this.script.shift() ?? { status: 200, body: { errcode: 0, errmsg: 'ok' } };
  }

  private wecom(req: IncomingMessage, url: URL, raw: Buffer, now: number): Scripted {
    const err = (errcode: number, errmsg: string): Scripted => ({ status: 200, body: { errcode, errmsg } });
    if (url.pathname !== '/cgi-bin/webhook/send') return { status: 404, body: {} };
    if (url.searchParams.get('key') !== this.token) return err(93000, 'invalid webhook url, hint: [stand-in]');
    void req;
    let b: any;
    try {
      b = JSON.parse(raw.toString('utf8'));
    } catch {
      return err(40001, 'invalid request body');
    }
    if (b.msgtype !== 'markdown' || typeof b.markdown?.content !== 'string' || !b.markdown.content) return err(40008, 'invalid message type');
    if (Buffer.byteLength(b.markdown.content) > this.maxBytes) return err(40058, `markdown.content exceed max length ${this.maxBytes}. invalid Request Parameter`);
    if (this.overRate(now)) return err(45009, 'api freq out of limit');
    return this.script.shift() ?? { status: 200, body: { errcode: 0, errmsg: 'ok' } };
  }

  private feishu(url: URL, raw: Buffer, now: number): Scripted {
    const err = (code: number, msg: string): Scripted => ({ status: 200, body: { code, msg, data: {} } });
    if (url.pathname !== `/open-apis/bot/v2/hook/${this.token}`) return err(19001, 'param invalid: incoming webhook access token invalid');
    if (raw.length > this.maxBytes) return err(9499, 'Bad Request');
    let b: any;
    try {
      b = JSON.parse(raw.toString('utf8'));
    } catch {
      return err(9499, 'Bad Request');
    }
    if (this.secret) {
      const ts = Number(b.timestamp);
      const want = createHmac('sha256', `${b.timestamp}\n${this.secret}`).update('').digest('base64');
      if (!Number.isFinite(ts) || Math.abs(now / 1000 - ts) > 3600 || b.sign !== want) {
        return err(19021, 'sign match fail or timestamp is not within one hour from current time');
      }
    }
    const okCard = b.msg_type === 'interactive' && typeof b.card === 'object' && Array.isArray(b.card.elements);
    const okText = b.msg_type === 'text' && typeof b.content?.text === 'string';
    if (!okCard && !okText) return err(9499, 'Bad Request');
    if (this.overRate(now)) return err(11232, 'frequency limited psm[lark.oapi.app_platform_runtime]appID[1]');
    return this.script.shift() ?? { status: 200, body: { StatusCode: 0, StatusMessage: 'success', code: 0, data: {}, msg: 'success' } };
  }
}
