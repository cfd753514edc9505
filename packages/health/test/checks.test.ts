import { expect } from 'chai';
import pg from 'pg';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { pgConfig, redisUrl, requireServices } from '@vigil/testing';
import { customCheck, MAX_MESSAGE_LENGTH, postgresCheck, redisCheck } from '../src';
import { blackHole, closedPort } from './helpers';

describe('checks against real PostgreSQL and Redis', () => {
  before(() => requireServices('postgres', 'redis'));

  describe('postgresCheck', () => {
    it('answers "Database is accessible" through a pg Pool and a pg Client', async () => {
      const pool = new pg.Pool(pgConfig());
      const client = new pg.Client(pgConfig());
      await client.connect();
      try {
        expect(await postgresCheck(pool).run()).to.deep.equal({ healthy: true, message: 'Database is accessible' });
        expect(await postgresCheck(client).run()).to.deep.equal({ healthy: true, message: 'Database is accessible' });
      } finally {
        await client.end();
        await pool.end();
      }
    });

    it('reports the error of an unreachable server without its password or connection string', async () => {
      const port = await closedPort();
      const password = 'S3cret-Pa55word';
      const pool = new pg.Pool({ connectionString: `postgres://postgres:${password}@127.0.0.1:${port}/test` });
      pool.on('error', () => {});
      try {
        const r = await postgresCheck(pool, { timeoutMs: 5000 }).run();
        expect(r.healthy).to.equal(false);
        expect(r.message).to.match(/^Database error: connect ECONNREFUSED/);
        expect(r.message).to.not.include(password);
        expect(r.message).to.not.include('postgres://');
      } finally {
        await pool.end();
      }
    });

    it('answers "timed out after N ms" within the timeout when the server accepts and never answers', async () => {
      const hole = await blackHole();
      const pool = new pg.Pool({ host: '127.0.0.1', port: hole.port, user: 'postgres', database: 'test' });
      pool.on('error', () => {});
      try {
        const check = postgresCheck(pool, { timeoutMs: 300 });
        const started = Date.now();
        const r = await check.run();
        const elapsed = Date.now() - started;
        expect(r).to.deep.equal({ healthy: false, message: 'timed out after 300 ms' });
        expect(elapsed).to.be.at.least(290).and.below(1300);
        // A second run waits on the hung attempt instead of opening another connection.
        expect(await check.run()).to.deep.equal({ healthy: false, message: 'timed out after 300 ms' });
        expect(hole.connections()).to.equal(1);
      } finally {
        await hole.close();
        await pool.end().catch(() => {});
      }
    });

    it('removes a password the driver puts in its error', async () => {
      const secret = 'p@ss-Word-123';
      const client = {
        options: { password: secret },
        query: async () => {
          throw new Error(`auth failed for ${secret} (conninfo host=db password=${secret} sslmode=require)`);
        },
      };
      const r = await postgresCheck(client).run();
      expect(r).to.deep.equal({ healthy: false, message: 'Database error: auth failed for *** (conninfo host=db password=*** sslmode=require)' });
    });

    it('reports a closed pg Client and a value that is not a client', async () => {
      const client = new pg.Client(pgConfig());
      await client.connect();
      await client.end();
      const r = await postgresCheck(client).run();
      expect(r.healthy).to.equal(false);
      expect(r.message).to.match(/^Database error: .*(not queryable|closed)/i);
      expect(await postgresCheck({}).run()).to.deep.equal({ healthy: false, message: 'Database error: not a pg Pool or Client (it has no query())' });
    });
  });

  describe('redisCheck', () => {
    it('answers "Redis is accessible" through ioredis and node-redis', async () => {
      const io = new Redis(redisUrl());
      const nodeRedis = createClient({ url: redisUrl() });
      await nodeRedis.connect();
      try {
        expect(await redisCheck(io).run()).to.deep.equal({ healthy: true, message: 'Redis is accessible' });
        expect(await redisCheck(nodeRedis).run()).to.deep.equal({ healthy: true, message: 'Redis is accessible' });
      } finally {
        io.disconnect();
        nodeRedis.destroy();
      }
    });

    it('times out on ioredis pointed at a closed port (it keeps reconnecting)', async () => {
      const io = new Redis({ host: '127.0.0.1', port: await closedPort(), retryStrategy: () => 100 });
      io.on('error', () => {});
      try {
        const started = Date.now();
        expect(await redisCheck(io, { timeoutMs: 250 }).run()).to.deep.equal({ healthy: false, message: 'timed out after 250 ms' });
        expect(Date.now() - started).to.be.below(1250);
      } finally {
        io.disconnect();
      }
    });

    it('times out on ioredis and node-redis connected to a server that never answers', async () => {
      const hole = await blackHole();
      const io = new Redis({ host: '127.0.0.1', port: hole.port });
      io.on('error', () => {});
      const nodeRedis = createClient({ socket: { host: '127.0.0.1', port: hole.port, reconnectStrategy: false } });
      nodeRedis.on('error', () => {});
      nodeRedis.connect().catch(() => {});
      try {
        const [a, b] = await Promise.all([redisCheck(io, { timeoutMs: 200 }).run(), redisCheck(nodeRedis, { timeoutMs: 200 }).run()]);
        expect(a).to.deep.equal({ healthy: false, message: 'timed out after 200 ms' });
        expect(b).to.deep.equal({ healthy: false, message: 'timed out after 200 ms' });
      } finally {
        io.disconnect();
        nodeRedis.destroy();
        await hole.close();
      }
    });

    it('reports a closed node-redis client, without the password of its URL', async () => {
      const client = createClient({ url: redisUrl().replace('redis://', 'redis://:Hidden-Passw0rd@') });
      const r = await redisCheck(client).run();
      expect(r).to.deep.equal({ healthy: false, message: 'Redis error: The client is closed' });
      expect(await redisCheck(undefined).run()).to.deep.equal({ healthy: true, message: 'Redis not configured' });
      expect(await redisCheck({}).run()).to.deep.equal({ healthy: false, message: 'Redis error: not a Redis client (it has no ping())' });
    });
  });

  describe('customCheck', () => {
    it('turns true / false / { healthy, message } / a throw into results', async () => {
      expect(await customCheck('AI services', async () => true).run()).to.deep.equal({ healthy: true, message: 'AI services is healthy' });
      expect(await customCheck('AI services', async () => false).run()).to.deep.equal({ healthy: false, message: 'AI services is unhealthy' });
      expect(await customCheck('AI services', async () => ({ healthy: true, message: 'AI services check not implemented' })).run()).to.deep.equal({
        healthy: true,
        message: 'AI services check not implemented',
      });
      expect(
        await customCheck('Queue', async () => {
          throw new Error('broker down at amqp://user:pw@mq:5672\nsecond line');
        }).run(),
      ).to.deep.equal({ healthy: false, message: 'Queue error: broker down at amqp://*** second line' });
      expect(await customCheck('Odd', (async () => 42) as never).run()).to.deep.equal({
        healthy: false,
        message: 'Odd check returned number; expected true/false or { healthy, message }',
      });
    });

    it('times out a hanging check, aborts its signal, and does not start a second attempt while it hangs', async () => {
      let calls = 0;
      let aborted = false;
      const check = customCheck(
        'Upstream',
        (signal) => {
          calls++;
          signal.addEventListener('abort', () => (aborted = true));
          return new Promise<boolean>(() => {});
        },
        { timeoutMs: 150 },
      );
      const started = Date.now();
      expect(await check.run()).to.deep.equal({ healthy: false, message: 'timed out after 150 ms' });
      expect(Date.now() - started).to.be.below(1150);
      expect(aborted).to.equal(true);
      expect(await check.run(100)).to.deep.equal({ healthy: false, message: 'timed out after 100 ms' });
      expect(calls).to.equal(1);
    });

    it('bounds long messages', async () => {
      const r = await customCheck('Long', async () => ({ healthy: false, message: 'x'.repeat(5000) })).run();
      expect(r.message.length).to.equal(MAX_MESSAGE_LENGTH);
      expect(r.message.endsWith('…')).to.equal(true);
    });
  });
});
