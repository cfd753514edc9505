// Authentication of the stats endpoint: bearer token, basic auth or a custom
// hook. Secrets are compared in constant time (both sides hashed to the same
// length first, so neither content nor length leaks through timing).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { logOnce } from '@vigil/catalog';
import type { Authorize } from './types';

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time string equality. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

function header(req: IncomingMessage): string {
  const h = req.headers?.authorization;
  return typeof h === 'string' ? h.trim() : '';
}

export interface Credentials {
  token?: string;
  basic?: { username: string; password: string };
  authorize?: Authorize;
}

export class Authenticator {
  readonly configured: boolean;
  /** WWW-Authenticate values for a 401. */
  readonly challenges: string[] = [];
  private readonly token: string | undefined;
  private readonly basic: { username: string; password: string } | undefined;
  private readonly authorize: Authorize | undefined;

  constructor(c: Credentials) {
    this.token = typeof c.token === 'string' && c.token !== '' ? c.token : undefined;
    const b = c.basic;
    this.basic =
      b && typeof b.username === 'string' && typeof b.password === 'string' && b.username !== '' && b.password !== ''
        ? { username: b.username, password: b.password }
        : undefined;
    if (b && !this.basic) logOnce('health:stats:basic', 'warn', 'stats endpoint: `basic` needs a non-empty username and password; basic auth is off');
    this.authorize = typeof c.authorize === 'function' ? c.authorize : undefined;
    this.configured = !!(this.token || this.basic || this.authorize);
    if (this.token) {
      this.challenges.push('Bearer realm="vigil"');
      if (this.token.length < 16) logOnce('health:stats:short-token', 'warn', `the stats endpoint's bearer token is ${this.token.length} characters long; use at least 16 random characters`);
    }
    if (this.basic) this.challenges.push('Basic realm="vigil", charset="UTF-8"');
  }

  /** Whether the request may see the stats. Never rejects. */
  async allows(req: IncomingMessage, context: unknown): Promise<boolean> {
    const h = header(req);
    const space = h.indexOf(' ');
    const scheme = (space > 0 ? h.slice(0, space) : h).toLowerCase();
    const value = space > 0 ? h.slice(space + 1).trim() : '';
    if (this.token && scheme === 'bearer' && safeEqual(value, this.token)) return true;
    if (this.basic && scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = colon >= 0 ? decoded.slice(0, colon) : decoded;
      const pass = colon >= 0 ? decoded.slice(colon + 1) : '';
      // Both comparisons always run.
      const userOk = safeEqual(user, this.basic.username);
      const passOk = safeEqual(pass, this.basic.password);
      if (userOk && passOk && colon >= 0) return true;
    }
    if (this.authorize) {
      try {
        return (await this.authorize(req, context)) === true;
      } catch (err) {
        logOnce('health:stats:authorize-threw', 'warn', `the stats endpoint's authorize() hook threw (${String(err).slice(0, 120)}); the request is denied`);
        return false;
      }
    }
    return false;
  }
}
