// cache_operations_total and cache_operation_duration_seconds as a user scrapes them,
// against the real Redis server, for both client libraries: every read command's hits
// and misses in single commands, pipelines and transactions, errors, writes, and the
// operation allow-list.
import { expect } from 'chai';
import { inProcessMetrics, redisUrl, requireServices, sampleValue, type InProcessMetrics } from '@vigil/testing';
import type * as IoRedisModule from 'ioredis';
import type * as NodeRedisModule from 'redis';
import { RedisInstrumentation } from '../src';
import { counts, delta, freshRequire, uniquePrefix } from './helpers';

type IoRedis = IoRedisModule.Redis;
// The client type as createClient({ url }) gives it (default modules and RESP version).
const typedClient = (m: typeof NodeRedisModule) => m.createClient({ url: '' });
type NodeRedis = ReturnType<typeof typedClient>;

/** The reads every mode issues, and what they must count. */
const READ_COUNTS = {
  'get/hit': 1,
  'get/miss': 1,
  'getex/hit': 1,
  'getex/miss': 1,
  'getdel/hit': 1,
  'getdel/miss': 1,
  'hget/hit': 1,
  'hget/miss': 2,
  'mget/hit': 2,
  'mget/miss': 1,
  'hmget/hit': 2,
  'hmget/miss': 1,
  'hgetall/hit': 1,
  'hgetall/miss': 1,
  'exists/hit': 2,
  'exists/miss': 1,
  'hexists/hit': 1,
  'hexists/miss': 1,
};
/** One duration observation per command. */
const READ_DURATIONS = {
  'get/count': 2,
  'getex/count': 2,
  'getdel/count': 2,
  'hget/count': 3,
  'mget/count': 1,
  'hmget/count': 1,
  'hgetall/count': 2,
  'exists/count': 1,
  'hexists/count': 2,
};

describe('@vigil/instrumentation-redis: commands, against the real Redis server', function () {
  let inst: RedisInstrumentation;
  let metrics: InProcessMetrics;
  let io: typeof IoRedisModule;
  let nr: typeof NodeRedisModule;

  before(async function () {
    await requireServices('redis');
    inst = new RedisInstrumentation({ memoryMetrics: false });
    metrics = inProcessMetrics([inst]);
    // Loaded after the instrumentation is enabled, as under --require.
    io = freshRequire<typeof IoRedisModule>('ioredis');
    nr = freshRequire<typeof NodeRedisModule>('redis');
  });

  after(async function () {
    await metrics?.shutdown();
  });

  /** Scrapes, runs fn, scrapes again, and returns what changed. */
  async function measure(fn: () => Promise<unknown>): Promise<Record<string, number>> {
    const before = await metrics.scrape();
    await fn();
    const after = await metrics.scrape();
    return delta(before, after);
  }

  describe('ioredis', function () {
    let r: IoRedis;
    let p: string;
    const k = (name: string) => p + name;

    before(async function () {
      r = new io.Redis(redisUrl());
      p = uniquePrefix('io');
    });
    after(async function () {
      const keys = await r.keys(`${p}*`);
      if (keys.length) await r.del(...keys);
      await r.quit();
    });

    async function seed(): Promise<void> {
      await r.set(k('str'), 'v');
      await r.set(k('gd'), 'v');
      await r.hset(k('hash'), { f1: 'a', f2: 'b' });
      await r.del(k('none'));
    }

    // Works on the client (each call a command) and on a pipeline or transaction (queued).
    function reads(t: IoRedis | IoRedisModule.ChainableCommander): unknown[] {
      return [
        t.get(k('str')),
        t.get(k('none')),
        t.getex(k('str'), 'EX', 100),
        t.getex(k('none'), 'EX', 100),
        t.getdel(k('gd')),
        t.getdel(k('gd')),
        t.hget(k('hash'), 'f1'),
        t.hget(k('hash'), 'nf'),
        t.hget(k('none'), 'f1'),
        t.mget(k('str'), k('none'), k('str')),
        t.hmget(k('hash'), 'f1', 'nf', 'f2'),
        t.hgetall(k('hash')),
        t.hgetall(k('none')),
        t.exists(k('str'), k('none'), k('hash')),
        t.hexists(k('hash'), 'f1'),
        t.hexists(k('hash'), 'nf'),
      ];
    }

    it('counts each read of single commands as hit or miss, MGET / HMGET / EXISTS per key', async function () {
      await seed();
      const d = await measure(async () => {
        for (const cmd of reads(r)) await cmd;
      });
      expect(d).to.deep.equal({ ...READ_COUNTS, ...READ_DURATIONS });
    });

    it('counts every command of a pipeline with its own result', async function () {
      await seed();
      const d = await measure(async () => {
        const pipe = r.pipeline();
        reads(pipe);
        const results = await pipe.exec();
        expect(results!.every(([err]) => err === null)).to.equal(true);
      });
      expect(d).to.deep.equal({ ...READ_COUNTS, ...READ_DURATIONS });
      expectWholeHistogram(await metrics.scrape(), 'get');
    });

    it('counts every command of a MULTI / EXEC transaction from the EXEC reply', async function () {
      await seed();
      const d = await measure(async () => {
        const tx = r.multi();
        reads(tx);
        await tx.exec();
      });
      expect(d).to.deep.equal({ ...READ_COUNTS, ...READ_DURATIONS });
    });

    it('counts a transaction sent command by command (multi({ pipeline: false }))', async function () {
      await seed();
      const tx = r.duplicate();
      const d = await measure(async () => {
        await tx.multi({ pipeline: false });
        const queued = [tx.get(k('str')), tx.get(k('none')), tx.mget(k('str'), k('none'))];
        expect(await Promise.all(queued)).to.deep.equal(['QUEUED', 'QUEUED', 'QUEUED']);
        expect(await tx.exec()).to.deep.equal([
          [null, 'v'],
          [null, null],
          [null, ['v', null]],
        ]);
      });
      await tx.quit();
      expect(d).to.deep.equal({ 'get/hit': 1, 'get/miss': 1, 'mget/hit': 1, 'mget/miss': 1, 'get/count': 2, 'mget/count': 1 });
    });

    it('counts auto-pipelined commands', async function () {
      await seed();
      const auto = new io.Redis(redisUrl(), { enableAutoPipelining: true });
      const d = await measure(async () => {
        const got = await Promise.all([auto.get(k('str')), auto.get(k('none')), auto.get(k('str'))]);
        expect(got).to.deep.equal(['v', null, 'v']);
      });
      await auto.quit();
      expect(counts(d)).to.deep.equal({ 'get/hit': 2, 'get/miss': 1 });
    });

    it('counts wrong-type replies and script errors as errors, alone, in pipelines and in transactions', async function () {
      await seed();
      const d = await measure(async () => {
        // WRONGTYPE: GET on a hash.
        await expectRejection(r.get(k('hash')), /WRONGTYPE/);
        // A script error, and an error raised inside a script.
        await expectRejection(r.eval("return redis.error_reply('boom')", 0), /boom/);
        await expectRejection(r.eval("return redis.call('INCR', KEYS[1])", 1, k('hash')), /WRONGTYPE/);
        // In a pipeline: the failed command is an error, the others count as usual.
        const piped = await r.pipeline().get(k('hash')).get(k('str')).exec();
        expect(piped![0]![0]).to.be.instanceOf(Error);
        expect(piped![1]).to.deep.equal([null, 'v']);
        // In a transaction: WRONGTYPE at EXEC time fails that command only.
        const tx = await r.multi().get(k('str')).get(k('hash')).exec();
        expect(tx![0]).to.deep.equal([null, 'v']);
        expect(tx![1]![0]).to.be.instanceOf(Error);
        // A command the server refuses to queue aborts the transaction (EXECABORT): every command fails.
        await expectRejection(r.multi().get(k('str')).call('nosuchcommand').get(k('none')).exec(), /EXECABORT/);
      });
      expect(counts(d)).to.deep.equal({
        'get/error': 5,
        'get/hit': 2,
        'eval/error': 2,
        'other/error': 1,
      });
      expect(d['get/count']).to.equal(7);
      expect(d['eval/count']).to.equal(2);
    });

    it('counts a command that cannot reach the server as an error', async function () {
      const offline = new io.Redis(redisUrl(), { lazyConnect: true, enableOfflineQueue: false });
      const d = await measure(async () => {
        await expectRejection(offline.get(k('str')), /writeable/);
      });
      offline.disconnect();
      expect(counts(d)).to.deep.equal({ 'get/error': 1 });
    });

    it('counts nothing for a transaction that a changed WATCHed key aborted (nothing ran)', async function () {
      await seed();
      const watcher = r.duplicate();
      await watcher.watch(k('str'));
      await r.set(k('str'), 'changed');
      const d = await measure(async () => {
        expect(await watcher.multi().get(k('str')).get(k('none')).exec()).to.equal(null);
      });
      await watcher.quit();
      expect(counts(d)).to.deep.equal({});
    });

    it('counts writes as success, DEL / UNLINK as delete, other commands as other, never a key as a label', async function () {
      const d = await measure(async () => {
        await r.set(k('w'), '1');
        await r.setex(k('w2'), 100, '1');
        await r.incr(k('n'));
        await r.expire(k('w'), 100);
        await r.del(k('w'));
        await r.unlink(k('w2'));
        await r.strlen(k('str'));
        await r.call('OBJECT', 'ENCODING', k('n'));
      });
      expect(counts(d)).to.deep.equal({
        'set/success': 1,
        'setex/success': 1,
        'incr/success': 1,
        'expire/success': 1,
        'delete/success': 2,
        'other/success': 2,
      });
      expect(await metrics.scrape()).not.to.include(p);
    });

    it('follows the operation allow-list from setConfig, keeping hits and misses exact', async function () {
      await seed();
      inst.setConfig({ memoryMetrics: false, operations: ['get', 'delete'] });
      try {
        const d = await measure(async () => {
          await r.get(k('str'));
          await r.mget(k('str'), k('none'));
          await r.set(k('w'), '1');
          await r.unlink(k('w'));
        });
        expect(counts(d)).to.deep.equal({ 'get/hit': 1, 'other/hit': 1, 'other/miss': 1, 'other/success': 1, 'delete/success': 1 });
      } finally {
        inst.setConfig({ memoryMetrics: false });
      }
    });

    it('returns exactly what an uninstrumented client returns', async function () {
      await seed();
      const plain = new io.Redis(redisUrl());
      // The plain client is the same library; only the instrumentation tells them apart, so
      // switch it off for the plain run.
      const run = async (c: IoRedis) => {
        await c.set(k('gd'), 'v');
        return {
          single: await Promise.all(reads(c)),
          pipeline: await (async () => {
            await c.set(k('gd'), 'v');
            const pp = c.pipeline();
            reads(pp);
            return pp.exec();
          })(),
          multi: await (async () => {
            await c.set(k('gd'), 'v');
            const tx = c.multi();
            reads(tx);
            return tx.exec();
          })(),
          error: await c.get(k('hash')).then(
            () => 'no error',
            (e: Error) => `${e.name}: ${e.message}`,
          ),
        };
      };
      const instrumented = await run(r);
      inst.disable();
      let uninstrumented;
      try {
        uninstrumented = await run(plain);
      } finally {
        inst.enable();
        await plain.quit();
      }
      expect(JSON.stringify(instrumented)).to.equal(JSON.stringify(uninstrumented));
    });
  });

  describe('node-redis', function () {
    let c: NodeRedis;
    let p: string;
    const k = (name: string) => p + name;

    before(async function () {
      c = await nr.createClient({ url: redisUrl() }).connect();
      p = uniquePrefix('nr');
    });
    after(async function () {
      const keys = await c.keys(`${p}*`);
      if (keys.length) await c.del(keys);
      await c.quit();
    });

    async function seed(): Promise<void> {
      await c.set(k('str'), 'v');
      await c.set(k('gd'), 'v');
      await c.hSet(k('hash'), { f1: 'a', f2: 'b' });
      await c.del(k('none'));
    }

    type Target = Pick<NodeRedis, 'get' | 'getEx' | 'getDel' | 'hGet' | 'mGet' | 'hmGet' | 'hGetAll' | 'exists' | 'hExists'>;
    function reads(t: Target): unknown[] {
      return [
        t.get(k('str')),
        t.get(k('none')),
        t.getEx(k('str'), { type: 'EX', value: 100 }),
        t.getEx(k('none'), { type: 'EX', value: 100 }),
        t.getDel(k('gd')),
        t.getDel(k('gd')),
        t.hGet(k('hash'), 'f1'),
        t.hGet(k('hash'), 'nf'),
        t.hGet(k('none'), 'f1'),
        t.mGet([k('str'), k('none'), k('str')]),
        t.hmGet(k('hash'), ['f1', 'nf', 'f2']),
        t.hGetAll(k('hash')),
        t.hGetAll(k('none')),
        t.exists([k('str'), k('none'), k('hash')]),
        t.hExists(k('hash'), 'f1'),
        t.hExists(k('hash'), 'nf'),
      ];
    }

    it('counts each read of single commands as hit or miss, MGET / HMGET / EXISTS per key', async function () {
      await seed();
      const d = await measure(async () => {
        for (const cmd of reads(c)) await cmd;
      });
      expect(d).to.deep.equal({ ...READ_COUNTS, ...READ_DURATIONS });
    });

    it('counts every command of a pipeline (execAsPipeline) with its own result', async function () {
      await seed();
      const d = await measure(async () => {
        const pipe = c.multi();
        reads(pipe as unknown as Target);
        await pipe.execAsPipeline();
      });
      expect(d).to.deep.equal({ ...READ_COUNTS, ...READ_DURATIONS });
      expectWholeHistogram(await metrics.scrape(), 'hget');
    });

    it('counts every command of a MULTI / EXEC transaction from the EXEC reply', async function () {
      await seed();
      const d = await measure(async () => {
        const tx = c.multi();
        reads(tx as unknown as Target);
        await tx.exec();
      });
      expect(d).to.deep.equal({ ...READ_COUNTS, ...READ_DURATIONS });
    });

    it('counts commands issued together (node-redis pipelines them on its own)', async function () {
      await seed();
      const d = await measure(async () => {
        expect(await Promise.all([c.get(k('str')), c.get(k('none')), c.get(k('str'))])).to.deep.equal(['v', null, 'v']);
      });
      expect(counts(d)).to.deep.equal({ 'get/hit': 2, 'get/miss': 1 });
    });

    it('counts wrong-type replies and script errors as errors, alone, in pipelines and in transactions', async function () {
      await seed();
      const d = await measure(async () => {
        await expectRejection(c.get(k('hash')), /WRONGTYPE/);
        await expectRejection(c.eval("return redis.error_reply('boom')"), /boom/);
        await expectRejection(c.eval("return redis.call('INCR', KEYS[1])", { keys: [k('hash')] }), /WRONGTYPE/);
        // A pipeline with a failed command rejects with that error; each command still counts.
        await expectRejection(c.multi().get(k('hash')).get(k('str')).get(k('none')).execAsPipeline(), /WRONGTYPE/);
        // In a transaction: WRONGTYPE at EXEC time fails that command only.
        await expectRejection(c.multi().get(k('str')).get(k('hash')).exec(), /commands failed/);
        // A command the server refuses to queue aborts the transaction: every command fails.
        await expectRejection(c.multi().get(k('str')).addCommand(['NOSUCHCOMMAND']).get(k('none')).exec(), /unknown command|EXECABORT/i);
      });
      expect(counts(d)).to.deep.equal({
        'get/error': 5,
        'get/hit': 2,
        'get/miss': 1,
        'eval/error': 2,
        'other/error': 1,
      });
      expect(d['get/count']).to.equal(8);
      expect(d['eval/count']).to.equal(2);
    });

    it('counts a command on a closed client as an error', async function () {
      const closed = await nr.createClient({ url: redisUrl() }).connect();
      await closed.quit();
      const d = await measure(async () => {
        await expectRejection(closed.get(k('str')), /closed/i);
        await expectRejection(closed.multi().get(k('str')).get(k('none')).execAsPipeline(), /closed/i);
      });
      expect(counts(d)).to.deep.equal({ 'get/error': 3 });
    });

    it('counts nothing for a transaction that a changed WATCHed key aborted (nothing ran)', async function () {
      await seed();
      const watcher = await c.duplicate().connect();
      await watcher.watch(k('str'));
      await c.set(k('str'), 'changed');
      const d = await measure(async () => {
        await expectRejection(watcher.multi().get(k('str')).get(k('none')).exec(), /watch/i);
      });
      await watcher.quit();
      expect(counts(d)).to.deep.equal({});
    });

    it('counts writes as success, DEL / UNLINK as delete, other commands as other, never a key as a label', async function () {
      const d = await measure(async () => {
        await c.set(k('w'), '1');
        await c.setEx(k('w2'), 100, '1');
        await c.incr(k('n'));
        await c.expire(k('w'), 100);
        await c.del(k('w'));
        await c.unlink(k('w2'));
        await c.strLen(k('str'));
        await c.sendCommand(['OBJECT', 'ENCODING', k('n')]);
      });
      expect(counts(d)).to.deep.equal({
        'set/success': 1,
        'setex/success': 1,
        'incr/success': 1,
        'expire/success': 1,
        'delete/success': 2,
        'other/success': 2,
      });
      expect(await metrics.scrape()).not.to.include(p);
    });

    it('returns exactly what an uninstrumented client returns', async function () {
      await seed();
      const run = async (cl: NodeRedis) => {
        await cl.set(k('gd'), 'v');
        const single = await Promise.all(reads(cl));
        await cl.set(k('gd'), 'v');
        const pp = cl.multi();
        reads(pp as unknown as Target);
        const pipeline = await pp.execAsPipeline();
        await cl.set(k('gd'), 'v');
        const tx = cl.multi();
        reads(tx as unknown as Target);
        const multi = await tx.exec();
        const error = await cl.get(k('hash')).then(
          () => 'no error',
          (e: Error) => `${e.name}: ${e.message}`,
        );
        return { single, pipeline, multi, error };
      };
      const instrumented = await run(c);
      inst.disable();
      let uninstrumented;
      const plain = await nr.createClient({ url: redisUrl() }).connect();
      try {
        uninstrumented = await run(plain);
      } finally {
        inst.enable();
        await plain.quit();
      }
      expect(JSON.stringify(instrumented)).to.equal(JSON.stringify(uninstrumented));
    });
  });
});

/** The duration histogram of an operation is whole: its +Inf bucket holds every observation, and the sum is plausible. */
function expectWholeHistogram(text: string, operation: string): void {
  const count = sampleValue(text, 'cache_operation_duration_seconds_count', { operation });
  const inf = sampleValue(text, 'cache_operation_duration_seconds_bucket', { operation, le: '+Inf' });
  const sum = sampleValue(text, 'cache_operation_duration_seconds_sum', { operation });
  expect(count, `${operation} count`).to.be.above(0);
  expect(inf, `${operation} +Inf bucket`).to.equal(count);
  expect(sum, `${operation} sum`).to.be.above(0).and.below(count! * 10);
}

async function expectRejection(p: Promise<unknown>, message: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    expect(String((err as Error).message)).to.match(message);
    return;
  }
  expect.fail(`expected a rejection matching ${message}`);
}
