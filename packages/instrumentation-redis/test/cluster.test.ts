// Cluster clients against a real Redis Cluster of three redis-server processes started
// here: a command whose slot moved to another node is answered with MOVED and sent again
// by the client; it counts once, with its final result, alone and in pipelines and
// transactions. Every node the process is connected to has its memory reported.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { asInternal } from '@vigil/catalog/internal-commands';
import { freePort, inProcessMetrics, samplesOf, startRedisServer, waitFor, type InProcessMetrics } from '@vigil/testing';
import type * as IoRedisModule from 'ioredis';
import type * as NodeRedisModule from 'redis';
import { RedisInstrumentation } from '../src';
import { counts, delta, freshRequire } from './helpers';

interface Node {
  port: number;
  busPort: number;
  id: string;
  process: ChildProcess;
}

/** Every redis-server this file starts, stopped after its tests whatever happened. */
const started: ChildProcess[] = [];

/** Starts a redis-server in cluster mode; fails loudly when there is no redis-server. */
async function startNode(dir: string): Promise<Omit<Node, 'id'>> {
  const port = await freePort();
  const busPort = await freePort();
  const child = await startRedisServer(
    ['--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--dir', dir, '--save', '', '--appendonly', 'no'],
    10_000,
  );
  started.push(child);
  return { port, busPort, process: child };
}

describe('@vigil/instrumentation-redis: cluster clients, against a real Redis Cluster', function () {
  this.timeout(60_000);
  let dir: string;
  let nodes: Node[] = [];
  let admin: Map<number, IoRedisModule.Redis>;
  let inst: RedisInstrumentation;
  let metrics: InProcessMetrics;
  let io: typeof IoRedisModule;
  let nr: typeof NodeRedisModule;

  before(async function () {
    inst = new RedisInstrumentation({ memoryRefreshIntervalMs: 100 });
    metrics = inProcessMetrics([inst]);
    io = freshRequire<typeof IoRedisModule>('ioredis');
    nr = freshRequire<typeof NodeRedisModule>('redis');
    dir = mkdtempSync(path.join(tmpdir(), 'vigil-redis-cluster-'));
    const fresh = await Promise.all([startNode(dir), startNode(dir), startNode(dir)]);
    // Plain connections to each node for the set-up; disabled meanwhile, so that none of it counts.
    inst.disable();
    admin = new Map();
    for (const n of fresh) admin.set(n.port, new io.Redis({ port: n.port, host: '127.0.0.1' }));
    const ranges = [
      [0, 5460],
      [5461, 10922],
      [10923, 16383],
    ];
    nodes = [];
    for (let i = 0; i < 3; i++) {
      const a = admin.get(fresh[i]!.port)!;
      await a.call('CLUSTER', 'ADDSLOTSRANGE', ranges[i]![0]!, ranges[i]![1]!);
      nodes.push({ ...fresh[i]!, id: (await a.call('CLUSTER', 'MYID')) as string });
    }
    for (const n of nodes.slice(1)) await admin.get(nodes[0]!.port)!.call('CLUSTER', 'MEET', '127.0.0.1', n.port, n.busPort);
    await waitFor(async () => {
      for (const a of admin.values()) {
        if (!/cluster_state:ok/.test((await a.call('CLUSTER', 'INFO')) as string)) return false;
        if (!/cluster_known_nodes:3/.test((await a.call('CLUSTER', 'INFO')) as string)) return false;
      }
      return true;
    }, 20_000, 100);
    inst.enable();
  });

  after(async function () {
    for (const a of admin?.values() ?? []) a.disconnect();
    await metrics?.shutdown();
    await Promise.all(
      started.map((child) =>
        child.exitCode !== null || child.signalCode !== null
          ? undefined
          : new Promise((resolve) => {
            child.once('exit', resolve);
            child.kill('SIGKILL');
          }),
      ),
    );
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The node serving a key's slot now. */
  async function owner(key: string): Promise<{ slot: number; node: Node }> {
    const a = admin.get(nodes[0]!.port)!;
    const slot = (await a.call('CLUSTER', 'KEYSLOT', key)) as number;
    const ranges = (await a.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, string]]>;
    const range = ranges.find(([from, to]) => slot >= from && slot <= to)!;
    return { slot, node: nodes.find((n) => n.port === range[2][1])! };
  }

  /** Moves a key's (empty) slot to another node, as a resharding would; clients learn it by MOVED. */
  async function moveSlot(key: string): Promise<Node> {
    const { slot, node: from } = await owner(key);
    const to = nodes.find((n) => n !== from)!;
    await admin.get(to.port)!.call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
    await admin.get(from.port)!.call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
    for (const n of nodes) if (n !== to && n !== from) await admin.get(n.port)!.call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
    return from;
  }

  async function movedCount(node: Node): Promise<number> {
    const info = (await admin.get(node.port)!.call('INFO', 'errorstats')) as string;
    return Number(/errorstat_MOVED:count=(\d+)/.exec(info)?.[1] ?? 0);
  }

  it('ioredis Cluster: a redirected command counts once with its final result, alone and in a pipeline', async function () {
    const cluster = new io.Cluster([{ host: '127.0.0.1', port: nodes[0]!.port }]);
    const key = `vigil:cluster:io:${process.pid}`;
    const key2 = `vigil:cluster:io2:${process.pid}`;
    try {
      const before = await metrics.scrape();
      expect(await cluster.get(key)).to.equal(null);
      const from = await moveSlot(key);
      const moved = await movedCount(from);
      expect(await cluster.get(key)).to.equal(null);
      expect(await movedCount(from), 'the GET was redirected').to.equal(moved + 1);
      expect(await cluster.set(key, 'v')).to.equal('OK');
      expect(await cluster.get(key)).to.equal('v');

      const from2 = await moveSlot(key2);
      const moved2 = await movedCount(from2);
      expect(await cluster.pipeline().get(key2).get(key2).exec()).to.deep.equal([
        [null, null],
        [null, null],
      ]);
      expect(await movedCount(from2), 'the pipeline was redirected').to.be.above(moved2);
      const tx = await cluster.multi().set(key2, 'w').get(key2).exec();
      expect(tx).to.deep.equal([
        [null, 'OK'],
        [null, 'w'],
      ]);
      const d = delta(before, await metrics.scrape());
      expect(counts(d)).to.deep.equal({ 'get/miss': 4, 'get/hit': 2, 'set/success': 2 });
    } finally {
      // The cluster is thrown away with its keys.
      cluster.disconnect();
    }
  });

  it('node-redis cluster: a redirected command counts once with its final result, alone, in a transaction, and in a pipeline (which node-redis does not redirect)', async function () {
    const cluster = nr.createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${nodes[0]!.port}` }] });
    await cluster.connect();
    const key = `vigil:cluster:nr:${process.pid}`;
    const key2 = `vigil:cluster:nr2:${process.pid}`;
    const key3 = `vigil:cluster:nr3:${process.pid}`;
    try {
      const before = await metrics.scrape();
      expect(await cluster.get(key)).to.equal(null);
      const from = await moveSlot(key);
      const moved = await movedCount(from);
      expect(await cluster.get(key)).to.equal(null);
      expect(await movedCount(from), 'the GET was redirected').to.equal(moved + 1);
      expect(await cluster.set(key, 'v')).to.equal('OK');
      expect(await cluster.get(key)).to.equal('v');

      const from2 = await moveSlot(key2);
      const moved2 = await movedCount(from2);
      // node-redis sends a cluster pipeline to the node it knows and hands MOVED to the application.
      const piped = await cluster.multi().get(key2).get(key2).execAsPipeline().then(
        () => 'answered',
        (e: Error) => e.message,
      );
      expect(piped).to.match(/^MOVED /);
      expect(await movedCount(from2), 'the pipeline met MOVED').to.be.above(moved2);

      const from3 = await moveSlot(key3);
      const moved3 = await movedCount(from3);
      // @redis/client 6 sends a transaction again on MOVED; 5.x hands MOVED to the application.
      const tx = await cluster.multi().set(key3, 'w').get(key3).exec().then(
        (replies) => replies,
        (e: Error) => e.message,
      );
      expect(await movedCount(from3), 'the transaction met MOVED').to.be.above(moved3);
      const txCounts = Array.isArray(tx) ? { 'set/success': 1, 'get/hit': 1 } : { 'set/error': 1, 'get/error': 1 };
      if (Array.isArray(tx)) expect(tx).to.deep.equal(['OK', 'w']);
      else expect(tx).to.match(/^MOVED /);

      const d = delta(before, await metrics.scrape());
      const expected: Record<string, number> = { 'get/miss': 2, 'get/error': 2, 'get/hit': 1, 'set/success': 1 };
      for (const [k, v] of Object.entries(txCounts)) expected[k] = (expected[k] ?? 0) + v;
      expect(counts(d)).to.deep.equal(expected);
    } finally {
      await cluster.close();
    }
  });

  it("leaves vigil's own commands out, for both libraries, redirected or not, and counts the application's", async function () {
    const ioCluster = new io.Cluster([{ host: '127.0.0.1', port: nodes[0]!.port }]);
    const nrCluster = nr.createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${nodes[0]!.port}` }] });
    await nrCluster.connect();
    // As @vigil/business names its keys: one hash tag, so that PFCOUNT over several keys has one slot.
    const key = (n: string) => `vigil:cluster:{internal-${process.pid}}:${n}`;
    try {
      const before = await metrics.scrape();
      expect(await ioCluster.get(key('none'))).to.equal(null);
      expect(await nrCluster.get(key('none'))).to.equal(null);
      // The slot moves: vigil's first commands are answered MOVED and sent again where it went.
      const from = await moveSlot(key('io'));
      const moved = await movedCount(from);
      await asInternal(() => ioCluster.pfadd(key('io'), 'a'), undefined, []);
      await asInternal(() => nrCluster.pfAdd(key('nr'), 'b'), undefined, []);
      expect(await movedCount(from), 'vigil’s commands were redirected').to.equal(moved + 2);
      expect(await asInternal(() => ioCluster.pfcount(key('io'), key('nr')), undefined, [])).to.equal(2);
      expect(await asInternal(() => nrCluster.pfCount([key('io'), key('nr')]), undefined, [])).to.equal(2);
      await asInternal(() => nrCluster.expire(key('nr'), 60), undefined, []);
      expect(await ioCluster.get(key('none'))).to.equal(null);
      expect(await nrCluster.get(key('none'))).to.equal(null);
      expect(counts(delta(before, await metrics.scrape()))).to.deep.equal({ 'get/miss': 4 });
    } finally {
      ioCluster.disconnect();
      await nrCluster.close();
    }
  });

  it('reports the memory of every node the process is connected to', async function () {
    const cluster = new io.Cluster([{ host: '127.0.0.1', port: nodes[0]!.port }]);
    try {
      // A command to each node's slots opens a connection to each node.
      for (const n of nodes) {
        for (let i = 0; ; i++) {
          const key = `vigil:cluster:mem:${i}`;
          if ((await owner(key)).node === n) {
            await cluster.get(key);
            break;
          }
        }
      }
      const text = await waitFor(async () => {
        const t = await metrics.scrape();
        return nodes.every((n) => samplesOf(t, 'cache_size_bytes', { server: `127.0.0.1:${n.port}` }).length === 1) ? t : undefined;
      });
      for (const n of nodes) {
        expect(samplesOf(text, 'redis_memory_usage_ratio', { server: `127.0.0.1:${n.port}` })).to.have.length(1);
      }
    } finally {
      cluster.disconnect();
    }
  });
});
