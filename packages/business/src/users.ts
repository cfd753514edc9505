// Users (seed 004 §2.1, 方案1): distinct users in a recent window, today, the
// last 30 days; registrations; day-1 retention.
//
// With a Redis client the distinct sets are HyperLogLogs shared by every
// instance (constant memory, ~0.81% standard error): PFADD into one key per
// minute (active window) and one per UTC day (DAU, MAU, retention), keys that
// expire; PFCOUNT over several keys counts their union without writing a
// merged key. markActive() only buffers a hashed id; a timer sends the buffer
// every second, and another re-reads the counts in the background, so neither
// the caller nor a scrape ever waits on Redis.
//
// Without Redis, users are counted exactly in-process (one small record per
// user, bounded by maxTrackedUsers); the counts are then per instance.
import { createHash, createHmac } from 'node:crypto';
import type { BatchObservableResult, Counter, Meter, ObservableGauge } from '@opentelemetry/api';
import {
  activeUsersCurrent,
  createCounter,
  createObservableGauge,
  dailyActiveUsers,
  log,
  logOnce,
  monthlyActiveUsers,
  newUsersRegisteredTotal,
  userRetentionRate,
  type AttributesOf,
} from '@vigil/catalog';
import { safely } from './labels';
import type { HllCommands } from './redis';

/** Distinct-user counts at one moment. retention is NaN when nobody was active yesterday. */
export interface UserCounts {
  /** Distinct users seen in the active window (active_users_current). */
  active: number;
  /** Distinct users active today, UTC (daily_active_users). */
  daily: number;
  /** Distinct users active today or in the 29 days before it, UTC (monthly_active_users). */
  monthly: number;
  /** Of the distinct users active yesterday (UTC), the share also active today (user_retention_rate). */
  retention: number;
}

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Days of history the month and retention need: today and the 29 days before, plus yesterday for retention. */
const MONTH_DAYS = 30;
const MASK = 0x7fffffff; // 31 days of activity bits

export function dayIndex(ms: number): number {
  return Math.floor(ms / DAY);
}

/** yyyymmdd of the UTC day of ms. */
export function dayKey(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replace(/-/g, '');
}

/** A user id as a string, or undefined (with one warning) for nothing usable. */
export function userIdString(id: unknown): string | undefined {
  if (typeof id === 'string') return id === '' ? undefined : id;
  if (typeof id === 'number') return Number.isFinite(id) ? String(id) : undefined;
  if (typeof id === 'bigint') return String(id);
  logOnce('business:user-id', 'warn', `a user id must be a string or a number (got ${id === null ? 'null' : typeof id}); it is not counted`);
  return undefined;
}

/** The id as sent to Redis: 96 bits of SHA-256 (HMAC-SHA-256 with a salt), base64url. */
export function hashUserId(id: string, salt: string): string {
  const h = salt ? createHmac('sha256', salt) : createHash('sha256');
  return h.update(id).digest().subarray(0, 12).toString('base64url');
}

interface UserRecord {
  /** Last seen, epoch ms. */
  seen: number;
  /** Day index of the last active day. */
  day: number;
  /** Bit k set: active on day (day - k). */
  mask: number;
}

/** Exact per-process counting with bounded memory. */
export class LocalUserStore {
  private readonly users = new Map<string, UserRecord>();
  /** Day index of the last prune: records only go stale when the day changes, so a full store prunes once a day. */
  private prunedDay = -1;

  constructor(
    private readonly maxUsers: number,
    private readonly windowMs: number,
  ) {}

  get size(): number {
    return this.users.size;
  }

  mark(id: string, now: number): void {
    const key = id.length > 128 ? hashUserId(id, '') : id;
    const d = dayIndex(now);
    const r = this.users.get(key);
    if (r === undefined) {
      if (this.users.size >= this.maxUsers) {
        // Pruning scans every user: once per day, not once per new user past the cap (quadratic under a flood of ids).
        if (d !== this.prunedDay) {
          this.prune(now);
          this.prunedDay = d;
        }
        if (this.users.size >= this.maxUsers) {
          logOnce(
            'business:users-cap',
            'warn',
            `in-process user counting reached maxTrackedUsers (${this.maxUsers}); further new users are not counted. Give @vigil/business a Redis client to count any number of users across instances`,
          );
          return;
        }
      }
      this.users.set(key, { seen: now, day: d, mask: 1 });
      return;
    }
    if (now > r.seen) r.seen = now;
    if (d > r.day) {
      const shift = d - r.day;
      r.mask = shift >= 31 ? 1 : ((r.mask << shift) & MASK) | 1;
      r.day = d;
    } else if (d < r.day) {
      const back = r.day - d;
      if (back < 31) r.mask |= 1 << back;
    } else {
      r.mask |= 1;
    }
  }

  private prune(now: number): void {
    const oldest = dayIndex(now) - MONTH_DAYS;
    for (const [k, r] of this.users) if (r.day < oldest) this.users.delete(k);
  }

  counts(now: number): UserCounts {
    const today = dayIndex(now);
    const since = now - this.windowMs;
    const oldest = today - MONTH_DAYS;
    let active = 0;
    let daily = 0;
    let monthly = 0;
    let yesterday = 0;
    let retained = 0;
    for (const [k, r] of this.users) {
      if (r.day < oldest) {
        this.users.delete(k);
        continue;
      }
      if (r.seen >= since) active++;
      if (r.day >= today - (MONTH_DAYS - 1)) monthly++;
      if (r.day >= today) {
        daily++;
        if (r.mask & 2) {
          yesterday++;
          retained++;
        }
      } else if (r.day === today - 1) {
        yesterday++;
      }
    }
    return { active, daily, monthly, retention: yesterday > 0 ? retained / yesterday : NaN };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export interface RedisStoreOptions {
  prefix: string;
  windowMs: number;
  timeoutMs: number;
  clock: () => number;
  refreshMs: number;
  flushMs: number;
  salt: string;
}

const MAX_BUFFERED = 50_000;
const CHUNK = 1000;

/** HyperLogLog counting shared through Redis. */
export class RedisUserStore {
  private buffer = new Map<number, Set<string>>();
  private buffered = 0;
  private chain: Promise<void> = Promise.resolve();
  private cached: (UserCounts & { at: number }) | undefined;
  private refreshing: Promise<void> | undefined;
  private failing: string | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly windowMinutes: number;

  constructor(
    private readonly redis: HllCommands,
    private readonly o: RedisStoreOptions,
  ) {
    this.windowMinutes = Math.max(1, Math.ceil(o.windowMs / MINUTE));
    const flush = setInterval(() => void this.flush(), o.flushMs);
    const refresh = setInterval(() => void this.refresh(), o.refreshMs);
    flush.unref();
    refresh.unref();
    this.timers.push(flush, refresh);
    void this.refresh();
  }

  mark(id: string, now: number): void {
    const hashed = hashUserId(id, this.o.salt);
    const minute = Math.floor(now / MINUTE);
    let set = this.buffer.get(minute);
    if (set === undefined) this.buffer.set(minute, (set = new Set()));
    if (set.has(hashed)) return;
    set.add(hashed);
    if (++this.buffered >= MAX_BUFFERED) void this.flush();
  }

  private state(error: unknown, what: string): void {
    if (error === undefined) {
      if (this.failing !== undefined) log('info', `Redis is reachable again for the distinct-user counts`);
      this.failing = undefined;
      return;
    }
    const msg = error instanceof Error ? error.message : String(error);
    if (this.failing === undefined) {
      log('warn', `${what} failed: ${msg.slice(0, 200)}; distinct-user counts go stale (NaN after a while) until Redis answers again`);
    }
    this.failing = msg;
  }

  /** Sends the buffered ids; resolves when every flush so far has ended (never rejects). */
  flush(): Promise<void> {
    if (this.buffered > 0) {
      const batch = this.buffer;
      this.buffer = new Map();
      this.buffered = 0;
      this.chain = this.chain.then(() =>
        withTimeout(this.send(batch), this.o.timeoutMs, 'sending active users to Redis').then(
          () => this.state(undefined, ''),
          (e: unknown) => this.state(e, 'sending active users to Redis'),
        ),
      );
    }
    return this.chain;
  }

  private async send(batch: Map<number, Set<string>>): Promise<void> {
    const p = this.o.prefix;
    const ops: Promise<unknown>[] = [];
    const ttl = new Map<string, number>();
    for (const [minute, set] of batch) {
      const members = [...set];
      const activeKey = `${p}active:${minute}`;
      const dayKeyName = `${p}dau:${dayKey(minute * MINUTE)}`;
      for (let i = 0; i < members.length; i += CHUNK) {
        const chunk = members.slice(i, i + CHUNK);
        ops.push(this.redis.pfadd(activeKey, chunk), this.redis.pfadd(dayKeyName, chunk));
      }
      ttl.set(activeKey, (this.windowMinutes + 2) * 60);
      ttl.set(dayKeyName, (MONTH_DAYS + 2) * 86_400);
    }
    for (const [k, s] of ttl) ops.push(this.redis.expire(k, s));
    await Promise.all(ops);
  }

  /** A round that starts after this call: sends the buffer, then re-reads the counts. Never rejects. */
  refreshNow(): Promise<void> {
    const previous = this.refreshing ?? Promise.resolve();
    return previous.then(() => this.refresh());
  }

  /** Sends the buffer, then re-reads the counts (never rejects; overlapping calls share one round). */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        await this.flush();
        const now = this.o.clock();
        const p = this.o.prefix;
        const minute = Math.floor(now / MINUTE);
        const activeKeys: string[] = [];
        for (let k = 0; k <= this.windowMinutes; k++) activeKeys.push(`${p}active:${minute - k}`);
        const monthKeys: string[] = [];
        for (let k = 0; k < MONTH_DAYS; k++) monthKeys.push(`${p}dau:${dayKey(now - k * DAY)}`);
        const todayKey = monthKeys[0]!;
        const yesterdayKey = monthKeys[1]!;
        const [active, daily, monthly, yesterday, union] = await withTimeout(
          Promise.all([
            this.redis.pfcount(activeKeys),
            this.redis.pfcount([todayKey]),
            this.redis.pfcount(monthKeys),
            this.redis.pfcount([yesterdayKey]),
            this.redis.pfcount([yesterdayKey, todayKey]),
          ]),
          this.o.timeoutMs,
          'reading distinct-user counts from Redis',
        );
        // |Y ∩ T| = |Y| + |T| - |Y ∪ T| (inclusion–exclusion over HyperLogLog estimates, clamped).
        const both = Math.min(Math.max(yesterday + daily - union, 0), yesterday, daily);
        this.cached = { active, daily, monthly, retention: yesterday > 0 ? both / yesterday : NaN, at: now };
        this.state(undefined, '');
      } catch (e) {
        this.state(e, 'reading distinct-user counts from Redis');
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /** The cached counts: undefined before the first answer, NaN when older than three refresh intervals. */
  counts(now: number): UserCounts | undefined {
    const c = this.cached;
    if (c === undefined) return undefined;
    if (now - c.at > Math.max(3 * this.o.refreshMs, 60_000)) return { active: NaN, daily: NaN, monthly: NaN, retention: NaN };
    return { active: c.active, daily: c.daily, monthly: c.monthly, retention: c.retention };
  }

  async shutdown(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.flush();
  }
}

export interface UserActivityOptions {
  redis: HllCommands | undefined;
  clock: () => number;
  windowMs: number;
  maxUsers: number;
  prefix: string;
  salt: string;
  refreshMs: number;
  flushMs: number;
  timeoutMs: number;
}

/** The user metrics of one BusinessMetrics instance. */
export class UserActivity {
  private readonly local: LocalUserStore | undefined;
  private readonly remote: RedisUserStore | undefined;
  private readonly registered: Counter<AttributesOf<typeof newUsersRegisteredTotal>>;
  private readonly gauges: ObservableGauge[];
  private readonly callback: (r: BatchObservableResult) => void;

  constructor(
    private readonly meter: Meter,
    private readonly o: UserActivityOptions,
  ) {
    if (o.redis) {
      this.remote = new RedisUserStore(o.redis, {
        prefix: o.prefix,
        windowMs: o.windowMs,
        timeoutMs: o.timeoutMs,
        clock: o.clock,
        refreshMs: o.refreshMs,
        flushMs: o.flushMs,
        salt: o.salt,
      });
    } else {
      this.local = new LocalUserStore(o.maxUsers, o.windowMs);
    }
    this.registered = createCounter(meter, newUsersRegisteredTotal);
    this.registered.add(0); // shown as 0 from the start, so increase() works from the first registration
    const active = createObservableGauge(meter, activeUsersCurrent);
    const daily = createObservableGauge(meter, dailyActiveUsers);
    const monthly = createObservableGauge(meter, monthlyActiveUsers);
    const retention = createObservableGauge(meter, userRetentionRate);
    this.gauges = [active, daily, monthly, retention];
    this.callback = (r) => {
      safely('user counts', () => {
        const c = this.counts();
        if (c === undefined) return;
        r.observe(active, c.active);
        r.observe(daily, c.daily);
        r.observe(monthly, c.monthly);
        r.observe(retention, c.retention);
      });
    };
    meter.addBatchObservableCallback(this.callback, this.gauges);
  }

  /** Whether counts are shared through Redis. */
  get shared(): boolean {
    return this.remote !== undefined;
  }

  markActive(userId: unknown): void {
    safely('active user', () => {
      const id = userIdString(userId);
      if (id === undefined) return;
      const now = this.o.clock();
      if (this.remote) this.remote.mark(id, now);
      else this.local!.mark(id, now);
    });
  }

  markRegistered(userId?: unknown): void {
    safely('registration', () => this.registered.add(1));
    if (userId !== undefined) this.markActive(userId);
  }

  /** The counts a scrape reports now (Redis: the last values read; undefined before the first). */
  counts(): UserCounts | undefined {
    const now = this.o.clock();
    return this.remote ? this.remote.counts(now) : this.local!.counts(now);
  }

  /** Redis: sends buffered ids and re-reads the counts. In-process: nothing to do. Never rejects. */
  async flush(): Promise<void> {
    if (this.remote) await this.remote.refreshNow();
  }

  async shutdown(): Promise<void> {
    this.meter.removeBatchObservableCallback(this.callback, this.gauges);
    if (this.remote) await this.remote.shutdown();
  }
}
