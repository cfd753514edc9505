// Who is calling: API keys (sk-...) for the OpenAI-style API and session tokens
// (from /api/login) for the REST API. Key -> user lookups are cached in Redis
// (vigil counts each GET as a cache hit or miss through the preload), with short
// negative caching so a flood of bad keys does not reach PostgreSQL.
// Also the per-user rate limit (a Redis counter per second) and the login
// failure counter used to spot password guessing.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Redis } from 'ioredis';
import { apiAbuse, markActive, securityEvent, suspiciousAccess } from '@vigil/business';
import { sha256, type AuthUser, type Database } from './db';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by the auth middleware; vigil reads req.user.role for the user_role label. */
      user?: AuthUser;
    }
  }
}

const KEY_TTL_S = 300;
const NEGATIVE_TTL_S = 30;
const SESSION_TTL_S = 3600;
/** Failed logins for one account within LOGIN_WINDOW_S that count as password guessing. */
const LOGIN_GUESSING = 5;
const LOGIN_WINDOW_S = 300;

/** An OpenAI-style error answer. */
export function openAiError(res: Response, status: number, message: string, type: string, code: string | null): void {
  res.status(status).json({ error: { message, type, param: null, code } });
}

function bearer(req: Request): string | undefined {
  const h = req.headers.authorization;
  if (!h || !h.startsWith('Bearer ')) return undefined;
  const token = h.slice(7).trim();
  return token.length > 0 && token.length <= 200 ? token : undefined;
}

function masked(key: string): string {
  return key.length > 10 ? `${key.slice(0, 5)}***${key.slice(-4)}` : '***';
}

export class Auth {
  constructor(
    private readonly db: Database,
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly rateLimitPerSecond: number,
  ) {}

  /** The user of an API key, through the Redis cache. */
  async userForApiKey(key: string): Promise<AuthUser | undefined> {
    const hash = sha256(key);
    const cacheKey = `${this.prefix}apikey:${hash}`;
    const cached = await this.redis.get(cacheKey);
    if (cached !== null) return cached === '' ? undefined : (JSON.parse(cached) as AuthUser);
    const user = await this.db.userByApiKeyHash(hash);
    await this.redis.set(cacheKey, user ? JSON.stringify(user) : '', 'EX', user ? KEY_TTL_S : NEGATIVE_TTL_S);
    return user;
  }

  async createSession(user: AuthUser): Promise<string> {
    const token = `sess-${randomBytes(24).toString('base64url')}`;
    await this.redis.set(`${this.prefix}session:${sha256(token)}`, JSON.stringify(user), 'EX', SESSION_TTL_S);
    return token;
  }

  async userForSession(token: string): Promise<AuthUser | undefined> {
    const cached = await this.redis.get(`${this.prefix}session:${sha256(token)}`);
    return cached ? (JSON.parse(cached) as AuthUser) : undefined;
  }

  /** Forgets a cached key (after the user's role changed, for example). */
  async forgetApiKey(key: string): Promise<void> {
    await this.redis.del(`${this.prefix}apikey:${sha256(key)}`);
  }

  /** Middleware: a valid API key or session token, else 401. Marks the user active. */
  required() {
    return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
      const token = bearer(req);
      const user = token === undefined ? undefined : token.startsWith('sess-') ? await this.userForSession(token) : await this.userForApiKey(token);
      if (!user) {
        securityEvent('invalid_credentials', 'low');
        const message = token
          ? `Incorrect API key provided: ${masked(token)}. You can find your API key in your account settings.`
          : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
        openAiError(res, 401, message, 'invalid_request_error', 'invalid_api_key');
        return;
      }
      req.user = user;
      markActive(user.id);
      next();
    };
  }

  /** Middleware: at most rateLimitPerSecond requests per user and second; beyond it 429 and an API-abuse event. */
  rateLimited() {
    return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
      const user = req.user!;
      const key = `${this.prefix}ratelimit:${user.id}:${Math.floor(Date.now() / 1000)}`;
      const count = await this.redis.incr(key);
      if (count === 1) await this.redis.expire(key, 2);
      if (count > this.rateLimitPerSecond) {
        if (count === this.rateLimitPerSecond + 1) apiAbuse('rate_limit_exceeded'); // once per user and second
        res.setHeader('retry-after', '1');
        openAiError(res, 429, `Rate limit reached: ${this.rateLimitPerSecond} requests per second. Please slow down.`, 'requests', 'rate_limit_exceeded');
        return;
      }
      next();
    };
  }

  /** Counts a failed login for the account; reports password guessing once it passes the limit. */
  async loginFailedFor(email: string): Promise<void> {
    const key = `${this.prefix}loginfail:${sha256(email.toLowerCase())}`;
    const count = await this.redis.incr(key);
    if (count === 1) await this.redis.expire(key, LOGIN_WINDOW_S);
    if (count === LOGIN_GUESSING + 1) apiAbuse('login_guessing', 'high');
  }

  async loginSucceededFor(email: string): Promise<void> {
    await this.redis.del(`${this.prefix}loginfail:${sha256(email.toLowerCase())}`);
  }

  /** Middleware for /admin: the admin token, else 401 and a suspicious-access event. */
  static admin(token: string) {
    const expected = Buffer.from(`Bearer ${token}`);
    return (req: Request, res: Response, next: NextFunction): void => {
      const got = Buffer.from(req.headers.authorization ?? '');
      if (got.length === expected.length && timingSafeEqual(got, expected)) return next();
      suspiciousAccess('admin_probe', 'high');
      res.status(401).json({ error: 'admin token required' });
    };
  }
}
