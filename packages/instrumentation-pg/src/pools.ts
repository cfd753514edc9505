// The pools a process uses, for the db_connection_pool_* gauges. A pool joins
// when it first hands out a client and leaves when it ends or is garbage
// collected (held through WeakRef), so tracking never keeps a pool alive.
import type { PgPoolInfo } from './types';
import type { PoolLike, PgDefaults } from './internal-types';

const MAX_NAME_LENGTH = 128;
/** Names of pools that are gone, still reported as 0 (see PoolSet.read). */
const MAX_RETIRED_NAMES = 1000;

/** One tracked pool. */
interface Tracked {
  readonly ref: WeakRef<PoolLike>;
  readonly name: string;
}

/** Summed gauge values of the pools under one name. */
export interface PoolReading {
  size: number;
  usage: number;
  waiting: number;
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

interface Parsed {
  user?: string;
  host?: string;
  port?: string;
  database?: string;
  application_name?: string;
}

/** The parts of a postgres:// URL pg-connection-string would read (the password is never read). */
function parseConnectionString(cs: string): Parsed {
  if (!/^postgres(ql)?:\/\//i.test(cs)) return {};
  try {
    // Like pg-connection-string: give the URL a parseable host so socket paths and empty hosts work.
    const url = new URL(cs.replace(/^postgres(ql)?:\/\/([^@/?#]*@)?(?=[/?#]|$)/i, (m) => `${m}localhost-placeholder`));
    const dec = (v: string) => {
      try {
        return decodeURIComponent(v);
      } catch {
        return v;
      }
    };
    const out: Parsed = {};
    if (url.username) out.user = dec(url.username);
    if (url.hostname && url.hostname !== 'localhost-placeholder') out.host = dec(url.hostname);
    if (url.port) out.port = url.port;
    const db = url.pathname.slice(1);
    if (db) out.database = dec(db);
    const host = url.searchParams.get('host');
    if (host) out.host = host;
    const app = url.searchParams.get('application_name');
    if (app) out.application_name = app;
    return out;
  } catch {
    return {};
  }
}

/** The pool's connection target as pg resolves it: options (a connection string wins), then PG* variables, then pg's defaults. */
export function poolInfo(options: Record<string, unknown> | undefined, defaults: PgDefaults | undefined): PgPoolInfo {
  const o: Record<string, unknown> = { ...(options ?? {}) };
  const cs = str(o.connectionString);
  if (cs) Object.assign(o, parseConnectionString(cs));
  const env = process.env;
  const user = str(o.user) ?? str(env.PGUSER) ?? str(defaults?.user) ?? str(env.USER) ?? str(env.USERNAME) ?? 'postgres';
  const host = str(o.host) ?? str(env.PGHOST) ?? str(defaults?.host) ?? 'localhost';
  const portRaw = str(o.port) ?? str(env.PGPORT) ?? str(defaults?.port) ?? '5432';
  const port = Number.parseInt(portRaw, 10);
  const database = str(o.database) ?? str(env.PGDATABASE) ?? str(defaults?.database) ?? user;
  const applicationName = str(o.application_name) ?? str(env.PGAPPNAME);
  const max = typeof o.max === 'number' && o.max > 0 ? o.max : 10;
  return Object.freeze({ user, host, port: Number.isFinite(port) ? port : 5432, database, applicationName, max });
}

/** `user@host:port/database`. */
export function defaultPoolName(info: PgPoolInfo): string {
  return cleanName(`${info.user}@${info.host}:${info.port}/${info.database}`) ?? 'pool';
}

/** A name fit for a label value: a trimmed string without control characters, at most 128 characters. */
export function cleanName(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  // eslint-disable-next-line no-control-regex
  const s = v.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, MAX_NAME_LENGTH).trim();
  return s === '' ? undefined : s;
}

/**
 * The live pools. A pool that ends or is collected leaves; its name then reads 0 (size, usage,
 * waiting) until a live pool takes the name again. OpenTelemetry keeps the last value of an
 * observable gauge series under cumulative temporality, so without the 0 an ended pool would
 * show its last usage forever (and could hold DatabaseConnectionPoolExhausted firing).
 */
export class PoolSet {
  private readonly tracked = new Map<WeakRef<PoolLike>, Tracked>();
  private readonly known = new WeakSet<PoolLike>();
  private readonly retired = new Set<string>();

  has(pool: PoolLike): boolean {
    return this.known.has(pool);
  }

  add(pool: PoolLike, name: string): void {
    if (this.known.has(pool)) return;
    this.known.add(pool);
    const ref = new WeakRef(pool);
    this.tracked.set(ref, { ref, name });
  }

  private retire(name: string): void {
    if (this.retired.size < MAX_RETIRED_NAMES) this.retired.add(name);
  }

  get size(): number {
    return this.tracked.size;
  }

  /** Current readings by pool name; drops pools that ended or were collected. */
  read(): Map<string, PoolReading> {
    const out = new Map<string, PoolReading>();
    for (const [ref, t] of this.tracked) {
      const pool = ref.deref();
      if (pool === undefined || pool.ending || pool.ended) {
        this.tracked.delete(ref);
        this.retire(t.name);
        continue;
      }
      const max = Number(pool.options?.max);
      const total = Number(pool.totalCount);
      const idle = Number(pool.idleCount);
      const waiting = Number(pool.waitingCount);
      let r = out.get(t.name);
      if (!r) out.set(t.name, (r = { size: 0, usage: 0, waiting: 0 }));
      if (Number.isFinite(max)) r.size += max;
      if (Number.isFinite(total) && Number.isFinite(idle)) r.usage += Math.max(0, total - idle);
      if (Number.isFinite(waiting)) r.waiting += waiting;
    }
    for (const name of this.retired) if (!out.has(name)) out.set(name, { size: 0, usage: 0, waiting: 0 });
    return out;
  }
}
