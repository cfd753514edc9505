// vigil's own connection to a Redis server, for INFO memory: a socket that speaks
// just enough RESP (AUTH, CLIENT SETNAME, INFO) and nothing else.
//
// It is not a second ioredis or node-redis client: one more instance of the
// application's library, created with other options, makes the library's own hot
// paths polymorphic and measurably slows every command the application sends. The
// socket is unref'd, so it never keeps the process alive.
import { connect as netConnect, type Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { Probe } from './memory';

/** Where and how to connect: the application client's own connection settings. */
export interface ProbeTarget {
  host?: string;
  port?: number;
  /** A Unix socket path (host and port are then ignored). */
  path?: string;
  /** IP family (4 or 6) when the client pins one. */
  family?: number;
  /** TLS options as the client passes them to tls.connect; undefined for plain TCP. */
  tls?: ConnectionOptions;
  /** The user and password to AUTH with, if any (asked for at each new connection). */
  credentials?: () => Promise<Credentials | undefined> | Credentials | undefined;
}

/** A user and password as the clients keep them (null or empty when not set). */
export interface Credentials {
  username?: string | null;
  password?: string | null;
}

/** The connection's name in CLIENT LIST. */
export const PROBE_NAME = 'vigil-info';

function command(...args: string[]): string {
  let out = `*${args.length}\r\n`;
  for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return out;
}

interface Pending {
  resolve(value: string | null): void;
  reject(err: Error): void;
}

/** The next complete RESP2 reply at the start of buf, its end offset, or undefined when incomplete. */
function parseReply(buf: Buffer): { value: string | null | Error; end: number } | undefined {
  const lineEnd = buf.indexOf('\r\n');
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buf[0]!);
  const line = buf.toString('utf8', 1, lineEnd);
  switch (type) {
    case '+':
    case ':':
      return { value: line, end: lineEnd + 2 };
    case '-':
      return { value: new Error(line), end: lineEnd + 2 };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, end: lineEnd + 2 };
      const start = lineEnd + 2;
      if (buf.length < start + len + 2) return undefined;
      return { value: buf.toString('utf8', start, start + len), end: start + len + 2 };
    }
    default:
      throw new Error(`unexpected reply type ${JSON.stringify(type)}`);
  }
}

export class RespProbe implements Probe {
  private socket: Socket | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly pending: Pending[] = [];
  private closed = false;

  constructor(private readonly target: ProbeTarget) {}

  async info(): Promise<string> {
    const first = this.socket === undefined;
    if (first) this.open();
    const replies: Promise<string | null>[] = [];
    if (first) {
      const creds = await this.target.credentials?.();
      const password = typeof creds?.password === 'string' && creds.password !== '' ? creds.password : undefined;
      const username = typeof creds?.username === 'string' && creds.username !== '' ? creds.username : undefined;
      if (password !== undefined) {
        replies.push(this.send(username !== undefined ? command('AUTH', username, password) : command('AUTH', password)));
      }
      replies.push(this.send(command('CLIENT', 'SETNAME', PROBE_NAME)).catch(() => null)); // a name is a courtesy
    }
    replies.push(this.send(command('INFO', 'memory')));
    const values = await Promise.all(replies);
    return String(values[values.length - 1] ?? '');
  }

  private open(): void {
    const t = this.target;
    // node:tls loads only for a TLS server: loading it (and its CA store) is a large part of a start-up.
    const tlsConnect = (options: ConnectionOptions) => (require('node:tls') as typeof import('node:tls')).connect(options);
    const socket = t.path
      ? t.tls
        ? tlsConnect({ ...t.tls, path: t.path })
        : netConnect({ path: t.path })
      : t.tls
        ? tlsConnect({ ...t.tls, host: t.host ?? 'localhost', port: t.port ?? 6379, servername: t.tls.servername ?? t.host })
        : netConnect({ host: t.host ?? 'localhost', port: t.port ?? 6379, ...(t.family ? { family: t.family } : {}) });
    // Never keep the process alive for metrics.
    socket.unref();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => {
      this.closed = true;
      this.fail(new Error('the connection closed'));
    });
    this.socket = socket;
  }

  private send(text: string): Promise<string | null> {
    if (this.closed || this.socket === undefined) return Promise.reject(new Error('the connection is closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket!.write(text);
    });
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    try {
      for (;;) {
        const reply = parseReply(this.buffer);
        if (reply === undefined) return;
        this.buffer = this.buffer.subarray(reply.end);
        const p = this.pending.shift();
        if (p === undefined) continue;
        if (reply.value instanceof Error) p.reject(reply.value);
        else p.resolve(reply.value);
      }
    } catch (err) {
      this.fail(err as Error);
      this.close();
    }
  }

  private fail(err: Error): void {
    for (const p of this.pending.splice(0)) p.reject(err);
  }

  close(): void {
    this.closed = true;
    this.fail(new Error('the connection was closed'));
    this.socket?.destroy();
  }
}
