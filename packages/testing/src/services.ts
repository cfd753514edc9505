import { connect } from 'node:net';

/** PostgreSQL connection settings for tests, from the standard PG* variables. */
export function pgConfig() {
  return {
    host: process.env.PGHOST ?? '127.0.0.1',
    port: Number(process.env.PGPORT ?? 5432),
    user: process.env.PGUSER ?? 'postgres',
    database: process.env.PGDATABASE ?? 'test',
    password: process.env.PGPASSWORD,
  };
}

/** Redis URL for tests, from REDIS_HOST / REDIS_PORT. */
export function redisUrl(): string {
  return `redis://${process.env.REDIS_HOST ?? '127.0.0.1'}:${process.env.REDIS_PORT ?? 6379}`;
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.setTimeout(2000, () => (s.destroy(), resolve(false)));
    s.once('connect', () => (s.end(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** Fails loudly (never skips) when a service the tests need is not running. */
export async function requireServices(...services: Array<'postgres' | 'redis'>): Promise<void> {
  for (const s of services) {
    const pg = pgConfig();
    const [host, port] = s === 'postgres' ? [pg.host, pg.port] : [process.env.REDIS_HOST ?? '127.0.0.1', Number(process.env.REDIS_PORT ?? 6379)];
    if (!(await reachable(host, port))) {
      throw new Error(`${s} is not reachable at ${host}:${port}; run the tests with \`npm test\`, which starts it (scripts/setup.sh)`);
    }
  }
}
