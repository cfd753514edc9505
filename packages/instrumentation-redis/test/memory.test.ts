// cache_size_bytes{server} and redis_memory_usage_ratio{server} as a user scrapes them:
// read in the background from INFO memory of the real Redis server, following CONFIG SET
// maxmemory, only for servers the process is connected to, and never stalling a scrape
// when a server stops answering.
import { expect } from 'chai';
import { inProcessMetrics, redisUrl, requireServices, sampleValue, samplesOf, waitFor, type InProcessMetrics } from '@vigil/testing';
import type * as IoRedisModule from 'ioredis';
import type * as NodeRedisModule from 'redis';
import { RedisInstrumentation } from '../src';
import { freezableProxy, freshRequire, type FreezableProxy } from './helpers';

const REDIS_HOST = process.env.REDIS_HOST ?? '127.0.0.1';
const REDIS_PORT = Number(process.env.REDIS_PORT ?? 6379);
const SERVER = `${REDIS_HOST}:${REDIS_PORT}`;
const TIMEOUT_MS = 300;
const INTERVAL_MS = 100;

function infoField(info: string, name: string): number {
  const m = new RegExp(`^${name}:(\\d+)`, 'm').exec(info);
  if (!m) throw new Error(`INFO memory has no ${name}`);
  return Number(m[1]);
}

describe('@vigil/instrumentation-redis: memory gauges, against the real Redis server', function () {
  let inst: RedisInstrumentation;
  let metrics: InProcessMetrics;
  let io: typeof IoRedisModule;
  let nr: typeof NodeRedisModule;
  let admin: IoRedisModule.Redis;
  let originalMaxmemory: string | undefined;

  before(async function () {
    await requireServices('redis');
    // Read often, so that the tests need not wait long for a reading.
    inst = new RedisInstrumentation({ memoryRefreshIntervalMs: INTERVAL_MS, memoryTimeoutMs: TIMEOUT_MS });
    metrics = inProcessMetrics([inst]);
    io = freshRequire<typeof IoRedisModule>('ioredis');
    nr = freshRequire<typeof NodeRedisModule>('redis');
    admin = new io.Redis(redisUrl());
    originalMaxmemory = ((await admin.config('GET', 'maxmemory')) as string[])[1];
  });

  after(async function () {
    if (admin) {
      if (originalMaxmemory !== undefined) await admin.config('SET', 'maxmemory', originalMaxmemory);
      await admin.quit();
    }
    await metrics?.shutdown();
  });

  /** Waits for a scrape whose reading for `server` satisfies check, and returns it. */
  async function reading(server: string, check: (size: number, ratio: number | undefined) => boolean): Promise<{ size: number; ratio: number | undefined; text: string }> {
    let last = '';
    try {
      return await waitFor(async () => {
        const text = (last = await metrics.scrape());
        const size = sampleValue(text, 'cache_size_bytes', { server });
        const ratio = sampleValue(text, 'redis_memory_usage_ratio', { server });
        return size !== undefined && check(size, ratio) ? { size, ratio, text } : undefined;
      }, 10_000, 50);
    } catch {
      throw new Error(`no reading for ${server} met the condition; last scrape:\n${last.split('\n').filter((l) => /^(cache_size|redis_memory)/.test(l)).join('\n')}`);
    }
  }

  it('reports used_memory and used_memory / maxmemory for the server, and follows CONFIG SET maxmemory', async function () {
    const r = new io.Redis(redisUrl());
    await r.ping();
    try {
      // Far above what the server uses, so that no other test meets an out-of-memory error.
      for (const maxmemory of [2 ** 30, 2 * 2 ** 30, 3 * 2 ** 30]) {
        await admin.config('SET', 'maxmemory', String(maxmemory));
        // Both gauges come from one INFO: the ratio is exactly size / maxmemory.
        const { size } = await reading(SERVER, (size, ratio) => ratio !== undefined && Math.abs(ratio - size / maxmemory) < 1e-15);
        const used = infoField(await admin.info('memory'), 'used_memory');
        // used_memory moves a little between vigil's INFO and the test's own.
        expect(size).to.be.within(used * 0.5, used * 1.5);
      }
    } finally {
      await admin.config('SET', 'maxmemory', originalMaxmemory!);
      await r.quit();
    }
  });

  it('uses total_system_memory when no maxmemory is set', async function () {
    const r = new io.Redis(redisUrl());
    await r.ping();
    try {
      await admin.config('SET', 'maxmemory', '0');
      const total = infoField(await admin.info('memory'), 'total_system_memory');
      const { size, ratio } = await reading(SERVER, (size, ratio) => ratio !== undefined && Math.abs(ratio - size / total) < 1e-15);
      expect(ratio).to.be.closeTo(size / total, 1e-15);
    } finally {
      await admin.config('SET', 'maxmemory', originalMaxmemory!);
      await r.quit();
    }
  });

  describe('through a proxy that can stop answering', function () {
    let proxy: FreezableProxy;
    let server: string;

    beforeEach(async function () {
      proxy = await freezableProxy(REDIS_HOST, REDIS_PORT);
      server = `127.0.0.1:${proxy.port}`;
    });
    afterEach(async function () {
      await proxy.close();
    });

    it('reports one series per server for ioredis and node-redis connections, and drops it once they are closed', async function () {
      const r = new io.Redis({ host: '127.0.0.1', port: proxy.port });
      const c = await nr.createClient({ socket: { host: '127.0.0.1', port: proxy.port } }).connect();
      await r.ping();
      let { text } = await reading(server, () => true);
      expect(samplesOf(text, 'cache_size_bytes', { server })).to.have.length(1);
      expect(samplesOf(text, 'redis_memory_usage_ratio', { server })).to.have.length(1);
      await r.quit();
      // Two refreshes later node-redis still holds the server.
      await new Promise((resolve) => setTimeout(resolve, 3 * INTERVAL_MS));
      text = await metrics.scrape();
      expect(samplesOf(text, 'cache_size_bytes', { server }), 'node-redis is still connected').to.have.length(1);
      await c.quit();
      text = await waitFor(async () => {
        const t = await metrics.scrape();
        return samplesOf(t, 'cache_size_bytes', { server }).length === 0 ? t : undefined;
      });
      expect(samplesOf(text, 'redis_memory_usage_ratio', { server })).to.have.length(0);
    });

    for (const client of ['ioredis', 'node-redis'] as const) {
      it(`never stalls a scrape when the server stops answering (${client}), keeps the last reading, and recovers`, async function () {
        let close: () => unknown;
        if (client === 'ioredis') {
          const r = new io.Redis({ host: '127.0.0.1', port: proxy.port });
          await r.ping();
          close = () => r.disconnect();
        } else {
          const c = await nr.createClient({ socket: { host: '127.0.0.1', port: proxy.port } }).connect();
          close = () => c.destroy();
        }
        try {
          const { size: last } = await reading(server, () => true);
          proxy.freeze();
          // Several refresh rounds pass with INFO unanswered.
          await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS * 3));
          const started = performance.now();
          const text = await Promise.race([
            metrics.scrape(),
            new Promise<string>((_, reject) => setTimeout(() => reject(new Error('the scrape waited on a Redis that does not answer')), 10_000)),
          ]);
          // A scrape reads what vigil holds: it does not wait for Redis at all (slack for a busy machine).
          expect(performance.now() - started).to.be.below(1_000);
          expect(sampleValue(text, 'cache_size_bytes', { server }), 'the last reading').to.equal(last);

          proxy.thaw();
          // The unanswered INFO connection was abandoned: a new one reads the server again.
          const maxmemory = 5 * 2 ** 30;
          await admin.config('SET', 'maxmemory', String(maxmemory));
          await reading(server, (size, ratio) => ratio !== undefined && Math.abs(ratio - size / maxmemory) < 1e-15);
        } finally {
          proxy.thaw();
          await admin.config('SET', 'maxmemory', originalMaxmemory!);
          close();
        }
      });
    }

    it('reads INFO with the credentials of the application client (an ACL user), for ioredis and node-redis', async function () {
      const user = `vigil_test_${process.pid}_${Date.now().toString(36)}`;
      const password = `pw-${Math.random().toString(36).slice(2)}`;
      await admin.call('ACL', 'SETUSER', user, 'on', `>${password}`, '~*', '+@all');
      try {
        for (const client of ['ioredis', 'node-redis'] as const) {
          let close: () => Promise<unknown>;
          if (client === 'ioredis') {
            const r = new io.Redis({ host: '127.0.0.1', port: proxy.port, username: user, password });
            await r.ping();
            close = () => r.quit();
          } else {
            const c = await nr.createClient({ socket: { host: '127.0.0.1', port: proxy.port }, username: user, password }).connect();
            close = () => c.quit();
          }
          try {
            await reading(server, () => true);
            const list = (await admin.client('LIST')) as string;
            const vigil = list.split('\n').filter((l) => / name=vigil-info /.test(` ${l} `) && l.includes(` user=${user} `));
            expect(vigil, `${client}: vigil's connection authenticated as ${user}`).to.have.length(1);
          } finally {
            await close();
            await waitFor(async () => samplesOf(await metrics.scrape(), 'cache_size_bytes', { server }).length === 0);
          }
        }
      } finally {
        await admin.call('ACL', 'DELUSER', user);
      }
    });

    it('reports no memory for a server whose user may not run INFO, and leaves the application alone', async function () {
      const user = `vigil_noinfo_${process.pid}_${Date.now().toString(36)}`;
      const password = `pw-${Math.random().toString(36).slice(2)}`;
      await admin.call('ACL', 'SETUSER', user, 'on', `>${password}`, '~*', '+@all', '-info');
      const r = new io.Redis({ host: '127.0.0.1', port: proxy.port, username: user, password });
      try {
        expect(await r.ping()).to.equal('PONG');
        // Several refresh rounds, each refused.
        await new Promise((resolve) => setTimeout(resolve, 5 * INTERVAL_MS));
        expect(samplesOf(await metrics.scrape(), 'cache_size_bytes', { server })).to.have.length(0);
        expect(await r.set(`vigil:test:noinfo:${process.pid}`, 'v', 'EX', 10)).to.equal('OK');
      } finally {
        await r.quit();
        await admin.call('ACL', 'DELUSER', user);
      }
    });

    it('reads INFO over one dedicated connection per server, named vigil-info, and none when memory metrics are off', async function () {
      const r = new io.Redis({ host: '127.0.0.1', port: proxy.port });
      const c = await nr.createClient({ socket: { host: '127.0.0.1', port: proxy.port } }).connect();
      await r.ping();
      try {
        await reading(server, () => true);
        // Several refreshes, all over the same connection.
        await new Promise((resolve) => setTimeout(resolve, 5 * INTERVAL_MS));
        const conns = proxy.connections();
        // The application's two connections, and one of vigil's for the server, reused by every scrape.
        expect(conns.filter((x) => x.open)).to.have.length(3);
        const vigil = conns.filter((x) => x.sent.includes('vigil-info'));
        expect(vigil).to.have.length(1);
        expect(vigil[0]!.sent).to.match(/INFO\r\n\$6\r\nmemory/i);

        inst.setConfig({ memoryRefreshIntervalMs: INTERVAL_MS, memoryTimeoutMs: TIMEOUT_MS, memoryMetrics: false });
        // Switching them off removes the readings at once.
        const text = await metrics.scrape();
        expect(samplesOf(text, 'cache_size_bytes')).to.have.length(0);
        expect(samplesOf(text, 'redis_memory_usage_ratio')).to.have.length(0);
        await waitFor(() => proxy.connections().filter((x) => x.open).length === 2);
        expect(proxy.connections().filter((x) => x.open && x.sent.includes('vigil-info'))).to.have.length(0);
      } finally {
        inst.setConfig({ memoryRefreshIntervalMs: INTERVAL_MS, memoryTimeoutMs: TIMEOUT_MS });
        await r.quit();
        await c.quit();
      }
    });
  });
});

