// PostgreSQL: users with hashed passwords and API keys, the credit ledger, image
// tasks and uploaded files. Plain `pg`: vigil measures every statement through
// the preload (db_query_duration_seconds by table and operation, pool gauges,
// slow queries, deadlocks), with no code here.
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { monitorCreditsOperation } from '@vigil/business';
import { SEED_USERS } from './seeds';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

/** The user a request acts for. Never a metric label: only `role` is (user_role). */
export interface AuthUser {
  id: number;
  role: string;
}

/** A balance change the user cannot afford. */
export class InsufficientCreditsError extends Error {
  override name = 'InsufficientCreditsError';
  constructor(readonly needed: number) {
    super(`insufficient credits: ${needed} needed`);
  }
}

/** A transfer to a user that does not exist. */
export class UnknownRecipientError extends Error {
  override name = 'UnknownRecipientError';
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS demo_users (
  id            bigserial PRIMARY KEY,
  email         text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  role          text NOT NULL DEFAULT 'user',
  credits       bigint NOT NULL DEFAULT 0,
  api_key_hash  text NOT NULL UNIQUE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_login_at timestamptz
);
CREATE TABLE IF NOT EXISTS demo_credit_ledger (
  id            bigserial PRIMARY KEY,
  user_id       bigint NOT NULL REFERENCES demo_users(id),
  delta         bigint NOT NULL,
  kind          text NOT NULL,
  reference     text,
  balance_after bigint NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS demo_credit_ledger_user ON demo_credit_ledger (user_id, created_at);
CREATE TABLE IF NOT EXISTS demo_image_tasks (
  id          uuid PRIMARY KEY,
  user_id     bigint NOT NULL REFERENCES demo_users(id),
  service     text NOT NULL,
  mode        text NOT NULL,
  prompt      text NOT NULL,
  status      text NOT NULL,
  result_url  text,
  error       text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE TABLE IF NOT EXISTS demo_files (
  id           bigserial PRIMARY KEY,
  user_id      bigint NOT NULL REFERENCES demo_users(id),
  content_type text NOT NULL,
  size_bytes   integer NOT NULL,
  sha256       text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
`;

export const SIGNUP_CREDITS = 100;

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function newApiKey(): string {
  return `sk-${randomBytes(24).toString('base64url')}`;
}

/** scrypt password hash: scrypt$<salt>$<hash> (N=16384, r=8, p=1, 32 bytes). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32);
  return `scrypt$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scrypt(password, Buffer.from(salt, 'base64'), expected.length);
  return timingSafeEqual(actual, expected);
}

export type Tx = pg.PoolClient;

export class Database {
  readonly pool: pg.Pool;

  constructor(config: pg.PoolConfig) {
    this.pool = new pg.Pool({ max: 10, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 5_000, ...config });
    // An idle client losing its connection must not crash the service.
    this.pool.on('error', (err) => console.error(`ai-gateway: idle PostgreSQL client error: ${err.message}`));
  }

  /** Creates the tables (idempotent; serialised by an advisory lock so instances starting together do not race). */
  async migrate(): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query("SELECT pg_advisory_lock(hashtext('demo_ai_gateway_schema'))");
      try {
        await c.query(SCHEMA);
      } finally {
        await c.query("SELECT pg_advisory_unlock(hashtext('demo_ai_gateway_schema'))");
      }
    } finally {
      c.release();
    }
  }

  /** Creates the demo accounts that do not exist yet. */
  async seed(): Promise<void> {
    for (const u of SEED_USERS) {
      const exists = await this.pool.query('SELECT 1 FROM demo_users WHERE email = $1', [u.email]);
      if (exists.rowCount) continue;
      await this.pool.query(
        'INSERT INTO demo_users (email, password_hash, role, credits, api_key_hash) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING',
        [u.email, await hashPassword(u.password), u.role, 10_000, sha256(u.apiKey)],
      );
    }
  }

  /**
   * Runs fn in a transaction. A transaction PostgreSQL aborted to break a
   * deadlock (40P01) or a serialisation conflict (40001) is run again after a
   * short random pause, up to five attempts, as the PostgreSQL manual recommends.
   */
  async tx<T>(fn: (c: Tx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const c = await this.pool.connect();
      try {
        await c.query('BEGIN');
        const result = await fn(c);
        await c.query('COMMIT');
        return result;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        const code = (e as { code?: string }).code;
        if ((code !== '40P01' && code !== '40001') || attempt >= 5) throw e;
      } finally {
        c.release();
      }
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 40 * attempt)); // out of the other's way
    }
  }

  async createUser(email: string, passwordHash: string, apiKey: string, role = 'user'): Promise<AuthUser | undefined> {
    const r = await this.pool.query<{ id: string; role: string }>(
      'INSERT INTO demo_users (email, password_hash, role, credits, api_key_hash) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING RETURNING id, role',
      [email, passwordHash, role, SIGNUP_CREDITS, sha256(apiKey)],
    );
    const row = r.rows[0];
    return row ? { id: Number(row.id), role: row.role } : undefined;
  }

  async userByEmail(email: string): Promise<(AuthUser & { passwordHash: string }) | undefined> {
    const r = await this.pool.query<{ id: string; role: string; password_hash: string }>('SELECT id, role, password_hash FROM demo_users WHERE email = $1', [email]);
    const row = r.rows[0];
    return row ? { id: Number(row.id), role: row.role, passwordHash: row.password_hash } : undefined;
  }

  async userByApiKeyHash(hash: string): Promise<AuthUser | undefined> {
    const r = await this.pool.query<{ id: string; role: string }>('SELECT id, role FROM demo_users WHERE api_key_hash = $1', [hash]);
    const row = r.rows[0];
    return row ? { id: Number(row.id), role: row.role } : undefined;
  }

  /** Writes the user's row, which transfers may hold locked: in a transaction, so a deadlock is retried. */
  async touchLogin(id: number): Promise<void> {
    await this.tx((c) => c.query('UPDATE demo_users SET last_login_at = now() WHERE id = $1', [id]));
  }

  async balance(id: number): Promise<number> {
    const r = await this.pool.query<{ credits: string }>('SELECT credits FROM demo_users WHERE id = $1', [id]);
    return Number(r.rows[0]?.credits ?? 0);
  }

  async insertTask(t: { id: string; userId: number; service: string; mode: string; prompt: string }): Promise<void> {
    await this.pool.query("INSERT INTO demo_image_tasks (id, user_id, service, mode, prompt, status) VALUES ($1, $2, $3, $4, $5, 'queued')", [
      t.id,
      t.userId,
      t.service,
      t.mode,
      t.prompt,
    ]);
  }

  async finishTask(id: string, status: 'succeeded' | 'failed' | 'expired', result: { url?: string; error?: string }): Promise<void> {
    await this.pool.query('UPDATE demo_image_tasks SET status = $2, result_url = $3, error = $4, finished_at = now() WHERE id = $1', [
      id,
      status,
      result.url ?? null,
      result.error ?? null,
    ]);
  }

  async task(id: string, userId: number): Promise<Record<string, unknown> | undefined> {
    const r = await this.pool.query(
      'SELECT id, service, mode, status, result_url, error, created_at, finished_at FROM demo_image_tasks WHERE id = $1 AND user_id = $2',
      [id, userId],
    );
    return r.rows[0] as Record<string, unknown> | undefined;
  }

  async insertFile(userId: number, contentType: string, size: number, digest: string): Promise<number> {
    const r = await this.pool.query<{ id: string }>('INSERT INTO demo_files (user_id, content_type, size_bytes, sha256) VALUES ($1, $2, $3, $4) RETURNING id', [
      userId,
      contentType,
      size,
      digest,
    ]);
    return Number(r.rows[0]!.id);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * The credit ledger: every balance change is one transaction that updates the
 * user's balance and appends a ledger row. Measured with @vigil/business'
 * standard decorators (the seed's monitor_credits_operation): each call counts
 * credits_operations_total{operation,user_role}, the amount, and the balance after
 * it in user_credits_balance; a failure counts application_errors_total{component="credits_system"}.
 */
export class CreditLedger {
  constructor(private readonly db: Database) {}

  /** Charges `amount` credits; throws InsufficientCreditsError when the balance is too low. */
  @monitorCreditsOperation('consume', { amount: (_r, _user, amount: number) => amount, userRole: (user: AuthUser) => user.role })
  async consume(user: AuthUser, amount: number, reference: string): Promise<{ credit: number }> {
    return this.db.tx(async (c) => {
      const r = await c.query<{ credits: string }>('UPDATE demo_users SET credits = credits - $1 WHERE id = $2 AND credits >= $1 RETURNING credits', [amount, user.id]);
      if (!r.rowCount) throw new InsufficientCreditsError(amount);
      const credit = Number(r.rows[0]!.credits);
      await c.query('INSERT INTO demo_credit_ledger (user_id, delta, kind, reference, balance_after) VALUES ($1, $2, $3, $4, $5)', [user.id, -amount, 'consume', reference, credit]);
      return { credit };
    });
  }

  /** Gives back a charge whose work failed. */
  @monitorCreditsOperation('refund', { balance: (r: { credit: number }) => r.credit, userRole: (user: AuthUser) => user.role })
  async refund(user: AuthUser, amount: number, reference: string): Promise<{ credit: number }> {
    return this.db.tx(async (c) => {
      const r = await c.query<{ credits: string }>('UPDATE demo_users SET credits = credits + $1 WHERE id = $2 RETURNING credits', [amount, user.id]);
      const credit = Number(r.rows[0]?.credits ?? 0);
      await c.query('INSERT INTO demo_credit_ledger (user_id, delta, kind, reference, balance_after) VALUES ($1, $2, $3, $4, $5)', [user.id, amount, 'refund', reference, credit]);
      return { credit };
    });
  }

  /** Adds purchased credits (after the payment went through). */
  @monitorCreditsOperation('purchase', {
    amount: (_r, _user, amount: number) => amount,
    balance: (r: { credit: number }) => r.credit,
    userRole: (user: AuthUser) => user.role,
  })
  async purchase(user: AuthUser, amount: number, reference: string): Promise<{ credit: number }> {
    return this.db.tx(async (c) => {
      const r = await c.query<{ credits: string }>('UPDATE demo_users SET credits = credits + $1 WHERE id = $2 RETURNING credits', [amount, user.id]);
      const credit = Number(r.rows[0]?.credits ?? 0);
      await c.query('INSERT INTO demo_credit_ledger (user_id, delta, kind, reference, balance_after) VALUES ($1, $2, $3, $4, $5)', [user.id, amount, 'purchase', reference, credit]);
      return { credit };
    });
  }

  /**
   * Moves credits to another user. The sender's row is locked first, then the
   * recipient's — the order most transfer code has. Two opposite transfers at the
   * same moment therefore deadlock; PostgreSQL detects it (SQLSTATE 40P01, after
   * deadlock_timeout), aborts one, and the transaction is run again (see
   * Database.tx), as code that moves money between rows should. vigil counts it in db_deadlocks_total.
   * (Locking both rows in id order would avoid the deadlock; the demo keeps the
   * common pattern so that the deadlock metric has real data.)
   */
  async transfer(from: AuthUser, toId: number, amount: number): Promise<number> {
    return this.db.tx(async (c) => {
      const debit = await c.query<{ credits: string }>('UPDATE demo_users SET credits = credits - $1 WHERE id = $2 AND credits >= $1 RETURNING credits', [amount, from.id]);
      if (!debit.rowCount) throw new InsufficientCreditsError(amount);
      const balance = Number(debit.rows[0]!.credits);
      await c.query('INSERT INTO demo_credit_ledger (user_id, delta, kind, reference, balance_after) VALUES ($1, $2, $3, $4, $5)', [
        from.id,
        -amount,
        'transfer_out',
        `to:${toId}`,
        balance,
      ]);
      const credit = await c.query<{ credits: string }>('UPDATE demo_users SET credits = credits + $1 WHERE id = $2 RETURNING credits', [amount, toId]);
      if (!credit.rowCount) throw new UnknownRecipientError('no such recipient');
      await c.query('INSERT INTO demo_credit_ledger (user_id, delta, kind, reference, balance_after) VALUES ($1, $2, $3, $4, $5)', [
        toId,
        amount,
        'transfer_in',
        `from:${from.id}`,
        Number(credit.rows[0]!.credits),
      ]);
      return balance;
    });
  }
}
