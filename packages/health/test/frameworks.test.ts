import { expect } from 'chai';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import pg from 'pg';
import { createClient } from 'redis';
import { pgConfig, redisUrl, request, requireServices } from '@vigil/testing';
import { createHealth, expressHealth, fastifyHealth, koaHealth, postgresCheck, redisCheck, type HandlerOptions, type Health } from '../src';
import { close, listen } from './helpers';

const TOKEN = 'framework-test-token-0123456789';

interface Served {
  port: number;
  stop(): Promise<void>;
}

/** The same app in each framework: the health routes plus an ordinary /hello route. */
const frameworks: Record<string, (health: Health, options: HandlerOptions) => Promise<Served>> = {
  async express(health, options) {
    const app = express();
    app.use(expressHealth(health, options));
    app.get('/hello', (_req, res) => {
      res.send('hello from express');
    });
    const server = createServer(app);
    const port = await listen(server);
    return { port, stop: () => close(server) };
  },
  async fastify(health, options) {
    const app = Fastify();
    await app.register(fastifyHealth(health, options));
    app.get('/hello', async () => 'hello from fastify');
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { port: (app.server.address() as AddressInfo).port, stop: () => app.close() };
  },
  async koa(health, options) {
    const app = new Koa();
    app.use(koaHealth(health, options));
    app.use(async (ctx) => {
      if (ctx.path === '/hello') ctx.body = 'hello from koa';
    });
    const server = createServer(app.callback());
    const port = await listen(server);
    return { port, stop: () => close(server) };
  },
};

describe('framework adapters on real servers', () => {
  let pool: pg.Pool;
  let redis: ReturnType<typeof createClient>;

  before(async () => {
    await requireServices('postgres', 'redis');
    pool = new pg.Pool(pgConfig());
    redis = createClient({ url: redisUrl() });
    await redis.connect();
  });
  after(async () => {
    await pool.end();
    redis.destroy();
  });

  for (const [name, start] of Object.entries(frameworks)) {
    describe(name, () => {
      let served: Served;
      let health: Health;
      let upstreamUp = true;

      before(async () => {
        health = createHealth({
          minIntervalMs: 0,
          checks: {
            database: postgresCheck(pool),
            redis: redisCheck(redis),
            ai_services: async () => ({ healthy: upstreamUp, message: upstreamUp ? 'AI services answered' : 'AI services answered 502' }),
          },
        });
        served = await start(health, { stats: { token: TOKEN } });
      });
      after(async () => {
        await served.stop();
        health.close();
      });

      it('answers /health 200 with the seed\'s JSON, then 503 when a dependency fails', async () => {
        upstreamUp = true;
        const ok = await request(served.port, '/health');
        expect(ok.status).to.equal(200);
        expect(ok.headers['content-type']).to.match(/^application\/json/);
        const body = JSON.parse(ok.text);
        expect(Object.keys(body)).to.deep.equal(['status', 'timestamp', 'checks']);
        expect(body.status).to.equal('healthy');
        expect(body.timestamp).to.be.a('number');
        expect(body.checks).to.deep.equal({
          database: { healthy: true, message: 'Database is accessible' },
          redis: { healthy: true, message: 'Redis is accessible' },
          ai_services: { healthy: true, message: 'AI services answered' },
        });

        upstreamUp = false;
        const bad = await request(served.port, '/health/ready');
        expect(bad.status).to.equal(503);
        expect(JSON.parse(bad.text).status).to.equal('unhealthy');
        expect(JSON.parse(bad.text).checks.ai_services).to.deep.equal({ healthy: false, message: 'AI services answered 502' });
        upstreamUp = true;
      });

      it('answers /health/live 200 and HEAD without a body, and leaves other routes to the app', async () => {
        const live = await request(served.port, '/health/live');
        expect(live.status).to.equal(200);
        expect(JSON.parse(live.text)).to.include({ status: 'healthy' });
        const head = await request(served.port, '/health', { method: 'HEAD' });
        expect(head.status).to.equal(200);
        expect(head.text).to.equal('');
        const hello = await request(served.port, '/hello');
        expect(hello.status).to.equal(200);
        expect(hello.text).to.equal(`hello from ${name}`);
      });

      it('serves the stats endpoint only with the bearer token', async () => {
        expect((await request(served.port, '/monitoring/stats')).status).to.equal(401);
        expect((await request(served.port, '/monitoring/stats', { headers: { authorization: 'Bearer wrong' } })).status).to.equal(401);
        const res = await request(served.port, '/monitoring/stats', { headers: { authorization: `Bearer ${TOKEN}` } });
        expect(res.status).to.equal(200);
        expect(Object.keys(JSON.parse(res.text))).to.deep.equal(['cache_stats', 'active_connections', 'total_requests', 'ai_tasks_stats']);
      });
    });
  }

  it('mounts under a prefix: Express app.use(path) and Fastify register({ prefix })', async () => {
    const health = createHealth({ checks: { database: postgresCheck(pool) } });
    const app = express();
    app.use('/monitoring', expressHealth(health));
    const server = createServer(app);
    const port = await listen(server);
    const f = Fastify();
    await f.register(fastifyHealth(health), { prefix: '/monitoring' });
    await f.listen({ port: 0, host: '127.0.0.1' });
    try {
      expect((await request(port, '/monitoring/health')).status).to.equal(200);
      expect((await request(port, '/health')).status).to.equal(404);
      const fport = (f.server.address() as AddressInfo).port;
      expect((await request(fport, '/monitoring/health')).status).to.equal(200);
      expect((await request(fport, '/monitoring/health/live')).status).to.equal(200);
    } finally {
      await close(server);
      await f.close();
      health.close();
    }
  });
});
