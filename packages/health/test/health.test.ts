import { expect } from 'chai';
import pg from 'pg';
import { Redis } from 'ioredis';
import { pgConfig, redisUrl, request, requireServices } from '@vigil/testing';
import { createHealth, customCheck, healthRequestHandler, postgresCheck, redisCheck, type Health } from '../src';
import { blackHole, closedPort, httpServer, sleep, withEnv } from './helpers';

describe('createHealth over node:http', () => {
  let pool: pg.Pool;
  let redis: Redis;
  const cleanups: Array<() => Promise<unknown> | unknown> = [];

  before(async () => {
    await requireServices('postgres', 'redis');
    pool = new pg.Pool(pgConfig());
    redis = new Redis(redisUrl());
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  after(async () => {
    await pool.end();
    redis.disconnect();
  });

  async function serve(health: Health): Promise<number> {
    const s = await httpServer(healthRequestHandler(health));
    cleanups.push(() => s.close(), () => health.close());
    return s.port;
  }

  it('answers 200 with the seed\'s JSON when PostgreSQL, Redis and the custom check are up', async () => {
    const health = createHealth({
      checks: {
        database: postgresCheck(pool),
        redis: redisCheck(redis),
        ai_services: customCheck('AI services', async () => ({ healthy: true, message: 'AI services check not implemented' })),
      },
    });
    const port = await serve(health);
    const before = Date.now() / 1000;
    const res = await request(port, '/health');
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.equal('application/json');
    expect(res.headers['cache-control']).to.equal('no-store');
    const body = JSON.parse(res.text);
    expect(Object.keys(body)).to.deep.equal(['status', 'timestamp', 'checks']);
    expect(body.status).to.equal('healthy');
    expect(body.timestamp).to.be.a('number').within(before - 1, Date.now() / 1000 + 1);
    expect(body.checks).to.deep.equal({
      database: { healthy: true, message: 'Database is accessible' },
      redis: { healthy: true, message: 'Redis is accessible' },
      ai_services: { healthy: true, message: 'AI services check not implemented' },
    });
    expect((await request(port, '/health/ready')).status).to.equal(200);
  });

  it('answers 503 within the timeout when PostgreSQL hangs and Redis is unreachable, naming what failed', async () => {
    const hole = await blackHole();
    const hungPool = new pg.Pool({ host: '127.0.0.1', port: hole.port, user: 'postgres', database: 'test' });
    hungPool.on('error', () => {});
    const deadRedis = new Redis({ host: '127.0.0.1', port: await closedPort(), retryStrategy: () => 100 });
    deadRedis.on('error', () => {});
    cleanups.push(
      () => hungPool.end().catch(() => {}),
      () => hole.close(),
      () => deadRedis.disconnect(),
    );
    const health = createHealth({
      timeoutMs: 400,
      checks: { database: postgresCheck(hungPool), redis: redisCheck(deadRedis), ai_services: async () => true },
    });
    const port = await serve(health);
    const started = Date.now();
    const res = await request(port, '/health');
    const elapsed = Date.now() - started;
    expect(res.status).to.equal(503);
    expect(elapsed).to.be.below(1400);
    expect(JSON.parse(res.text)).to.deep.include({
      status: 'unhealthy',
      checks: {
        database: { healthy: false, message: 'timed out after 400 ms' },
        redis: { healthy: false, message: 'timed out after 400 ms' },
        ai_services: { healthy: true, message: 'ai_services is healthy' },
      },
    });
  });

  it('answers 503 when one check fails and the others pass', async () => {
    const health = createHealth({
      checks: {
        database: postgresCheck(pool),
        ai_services: customCheck('AI services', async () => {
          throw new Error('upstream answered 500');
        }),
      },
    });
    const port = await serve(health);
    const res = await request(port, '/health');
    expect(res.status).to.equal(503);
    expect(JSON.parse(res.text).checks).to.deep.equal({
      database: { healthy: true, message: 'Database is accessible' },
      ai_services: { healthy: false, message: 'AI services error: upstream answered 500' },
    });
  });

  it('runs the checks once for 50 concurrent requests, and again only after the minimum interval', async () => {
    let calls = 0;
    const health = createHealth({
      minIntervalMs: 400,
      refreshIntervalMs: 0,
      checks: {
        slow: async () => {
          calls++;
          await sleep(100);
          return true;
        },
      },
    });
    const port = await serve(health);
    const answers = await Promise.all(Array.from({ length: 50 }, () => request(port, '/health')));
    expect(answers.map((a) => a.status)).to.deep.equal(Array(50).fill(200));
    expect(calls).to.equal(1);
    // Every caller got the same run.
    expect(new Set(answers.map((a) => JSON.parse(a.text).timestamp)).size).to.equal(1);
    // Within the interval: the last report, no new run.
    const again = await Promise.all(Array.from({ length: 50 }, () => request(port, '/health')));
    expect(calls).to.equal(1);
    expect(JSON.parse(again[0]!.text).timestamp).to.equal(JSON.parse(answers[0]!.text).timestamp);
    await sleep(450);
    await Promise.all(Array.from({ length: 50 }, () => request(port, '/health')));
    expect(calls).to.equal(2);
  });

  it('takes the minimum interval and the timeout from the environment when code gives none', async () => {
    let calls = 0;
    const health = await withEnv({ VIGIL_HEALTH_MIN_INTERVAL_MS: '60000', VIGIL_HEALTH_TIMEOUT_MS: '120' }, () =>
      createHealth({
        refreshIntervalMs: 0,
        checks: {
          hang: () => {
            calls++;
            return new Promise<boolean>(() => {});
          },
        },
      }),
    );
    cleanups.push(() => health.close());
    const first = await health.run();
    expect(first.checks.hang).to.deep.equal({ healthy: false, message: 'timed out after 120 ms' });
    await sleep(50);
    expect(await health.run()).to.equal(first);
    expect(calls).to.equal(1);
  });

  it('answers liveness 200 without running any check, while readiness is 503', async () => {
    let calls = 0;
    const health = createHealth({
      refreshIntervalMs: 0,
      checks: {
        broken: async () => {
          calls++;
          return false;
        },
      },
    });
    const port = await serve(health);
    const live = await request(port, '/health/live');
    expect(live.status).to.equal(200);
    const body = JSON.parse(live.text);
    expect(body.status).to.equal('healthy');
    expect(body.checks).to.deep.equal({});
    expect(calls).to.equal(0);
    expect((await request(port, '/health')).status).to.equal(503);
    expect(calls).to.equal(1);
  });

  it('answers HEAD without a body, 405 to other methods, 404 elsewhere, and falls through to next() when given', async () => {
    const health = createHealth({ checks: { ok: async () => true } });
    const port = await serve(health);
    const head = await request(port, '/health?verbose=1', { method: 'HEAD' });
    expect(head.status).to.equal(200);
    expect(head.text).to.equal('');
    const post = await request(port, '/health', { method: 'POST' });
    expect(post.status).to.equal(405);
    expect(post.headers.allow).to.equal('GET, HEAD');
    expect((await request(port, '/other')).status).to.equal(404);

    const handler = healthRequestHandler(health, { readyPaths: ['/monitoring/health'], livePaths: ['/livez'] });
    const matched: boolean[] = [];
    const s = await httpServer((req, res) => {
      matched.push(
        handler(req, res, () => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('metrics here');
        }),
      );
    });
    cleanups.push(() => s.close());
    expect((await request(s.port, '/monitoring/health')).status).to.equal(200);
    expect((await request(s.port, '/livez')).status).to.equal(200);
    expect((await request(s.port, '/metrics')).text).to.equal('metrics here');
    expect((await request(s.port, '/health')).text).to.equal('metrics here');
    expect(matched).to.deep.equal([true, true, false, false]);
  });

  it('reports no checks as healthy, and a value that is not a check as unhealthy, without throwing', async () => {
    expect((await createHealth().run()).status).to.equal('healthy');
    const health = createHealth({ checks: { typo: 'postgres' as never } });
    cleanups.push(() => health.close());
    const r = await health.run();
    expect(r.status).to.equal('unhealthy');
    expect(r.checks.typo!.healthy).to.equal(false);
    expect(r.checks.typo!.message).to.match(/not a health check/);
  });

  it('without a health argument serves the process\'s health object (as vigil\'s metrics server does), or no checks', async () => {
    const s = await httpServer(healthRequestHandler());
    cleanups.push(() => s.close());
    const app = createHealth({ checks: { database: postgresCheck(pool) } });
    const other = createHealth({ register: false, checks: { other: async () => false } });
    cleanups.push(() => other.close());
    expect(JSON.parse((await request(s.port, '/health')).text).checks).to.deep.equal({ database: { healthy: true, message: 'Database is accessible' } });
    app.close();
    const none = await request(s.port, '/health');
    expect(none.status).to.equal(200);
    expect(JSON.parse(none.text)).to.include({ status: 'healthy' }).and.have.property('checks').that.deep.equals({});
    expect((await request(s.port, '/health/live')).status).to.equal(200);
  });

  it('keeps the metric fresh in the background when refreshIntervalMs is set', async () => {
    let calls = 0;
    const health = createHealth({ refreshIntervalMs: 100, minIntervalMs: 0, checks: { tick: async () => (calls++, true) } });
    cleanups.push(() => health.close());
    await sleep(450);
    expect(calls).to.be.at.least(2);
    expect(health.last()?.checks.tick).to.deep.equal({ healthy: true, message: 'tick is healthy' });
    health.close();
    const stopped = calls;
    await sleep(250);
    expect(calls).to.equal(stopped);

    // From the environment; and never without the metric it exists for.
    let envCalls = 0;
    let quietCalls = 0;
    const [fromEnv, quiet] = await withEnv({ VIGIL_HEALTH_REFRESH_INTERVAL_MS: '100' }, () => [
      createHealth({ minIntervalMs: 0, checks: { tick: async () => (envCalls++, true) } }),
      createHealth({ minIntervalMs: 0, metrics: false, checks: { tick: async () => (quietCalls++, true) } }),
    ]);
    cleanups.push(() => fromEnv.close(), () => quiet.close());
    await sleep(450);
    expect(envCalls).to.be.at.least(2);
    expect(quietCalls).to.equal(0);
  });
});
