import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { redisUrl, requireServices, waitFor } from '@vigil/testing';
import { lines, rig, sleep, type Rig } from './helpers';

const D = Date.UTC(2025, 2, 10); // 2025-03-10, the scenario's "today"
const at = (day: number, hh: number, mm: number) => D + day * 86_400_000 + (hh * 60 + mm) * 60_000;

/**
 * The fixed scenario: a, b, c, d active yesterday; b, c, e at 10:00 today and f at 10:04;
 * g 20 days ago, h 40 days ago. At 10:06 with a 5-minute window:
 *   active (since 10:01) = {f} = 1; today = {b,c,e,f} = 4; last 30 days = {a..g} = 7;
 *   retention = |{a,b,c,d} ∩ {b,c,e,f}| / |{a,b,c,d}| = 2/4.
 */
function playScenario(mark: (id: string, when: number) => void): void {
  mark('h', at(-40, 9, 0));
  mark('g', at(-20, 9, 0));
  for (const id of ['a', 'b', 'c', 'd']) mark(id, at(-1, 15, 0));
  for (const id of ['b', 'c', 'e']) mark(id, at(0, 10, 0));
  mark('f', at(0, 10, 4));
}

const EXPECTED_TODAY = ['active_users_current 1', 'daily_active_users 4', 'monthly_active_users 7', 'user_retention_rate 0.5'];

function userLines(text: string): string[] {
  return ['active_users_current', 'daily_active_users', 'monthly_active_users', 'user_retention_rate'].flatMap((n) => lines(text, n));
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix.replace(/[{}*?[\]]/g, '\\$&')}*`);
  if (keys.length) await redis.del(...keys);
}

describe('business: users', () => {
  let r: Rig;
  afterEach(async () => r?.close());

  describe('in-process (no Redis): exact, per instance', () => {
    it('counts the fixed scenario exactly, and retention moves with the day', async () => {
      let now = 0;
      r = rig({ clock: () => now, activeWindowSeconds: 300 });
      playScenario((id, when) => {
        now = when;
        r.b.markActive(id);
      });
      now = at(0, 10, 6);
      expect(userLines(await r.scrape())).to.deep.equal(EXPECTED_TODAY);
      expect(r.b.userCounts()).to.deep.equal({ active: 1, daily: 4, monthly: 7, retention: 0.5 });
      expect(r.b.usersShared).to.equal(false);

      // Next day 00:30: yesterday is {b,c,e,f}, nobody yet today.
      now = at(1, 0, 30);
      expect(userLines(await r.scrape())).to.deep.equal(['active_users_current 0', 'daily_active_users 0', 'monthly_active_users 7', 'user_retention_rate 0']);
      now = at(1, 0, 31);
      r.b.markActive('e');
      r.b.markActive('e');
      expect(userLines(await r.scrape())).to.deep.equal(['active_users_current 1', 'daily_active_users 1', 'monthly_active_users 7', 'user_retention_rate 0.25']);
      // 30 days after g's day, g leaves the month.
      now = at(10, 12, 0);
      expect(r.b.userCounts()!.monthly).to.equal(6);
    });

    it('reports retention as NaN when nobody was active yesterday, and registrations as a counter from 0', async () => {
      const now = at(0, 12, 0);
      r = rig({ clock: () => now });
      expect(lines(await r.scrape(), 'new_users_registered_total')).to.deep.equal(['new_users_registered_total 0']);
      r.b.markRegistered('n1');
      r.b.markRegistered(2);
      r.b.markRegistered();
      const text = await r.scrape();
      expect(lines(text, 'new_users_registered_total')).to.deep.equal(['new_users_registered_total 3']);
      expect(userLines(text)).to.deep.equal(['active_users_current 2', 'daily_active_users 2', 'monthly_active_users 2', 'user_retention_rate NaN']);
    });

    it('keeps memory bounded: past maxTrackedUsers new users are not counted', async () => {
      const now = at(0, 12, 0);
      r = rig({ clock: () => now, maxTrackedUsers: 3 });
      for (const id of ['u1', 'u2', 'u3', 'u4', 'u5', 'u1']) r.b.markActive(id);
      expect(r.b.userCounts()).to.include({ active: 3, daily: 3, monthly: 3 });
    });

    it('at maxTrackedUsers, users unseen for a month make room on a later day', async () => {
      let now = at(0, 12, 0);
      r = rig({ clock: () => now, maxTrackedUsers: 3 });
      for (const id of ['u1', 'u2', 'u3', 'u4']) r.b.markActive(id);
      now = at(31, 12, 0);
      for (const id of ['v1', 'v2', 'v3', 'v4']) r.b.markActive(id);
      expect(r.b.userCounts()).to.include({ active: 3, daily: 3, monthly: 3 });
    });

    it('ignores ids that are not strings or numbers, never throwing', async () => {
      r = rig();
      r.b.markActive({} as never);
      r.b.markActive('' as never);
      r.b.markActive(Number.NaN);
      expect(r.b.userCounts()).to.include({ active: 0, daily: 0 });
    });
  });

  describe('with Redis (HyperLogLog, shared by instances)', () => {
    const runPrefix = `vigil-test:{users-${process.pid}-${Date.now()}}:`;
    let redis: Redis;
    before(async () => {
      await requireServices('redis');
      redis = new Redis(redisUrl());
    });
    after(async () => {
      await deleteKeys(redis, runPrefix);
      redis.disconnect();
    });

    for (const client of ['ioredis', 'node-redis', 'sendCommand'] as const) {
      it(`counts the fixed scenario through ${client}`, async () => {
        const prefix = `${runPrefix}${client}:`;
        let now = 0;
        let nodeRedis: ReturnType<typeof createClient> | undefined;
        let conn: object = redis;
        if (client !== 'ioredis') {
          nodeRedis = createClient({ url: redisUrl() });
          await nodeRedis.connect();
          const nr = nodeRedis;
          // 'sendCommand': a client known only by node-redis' sendCommand(args[]).
          conn = client === 'node-redis' ? nr : { sendCommand: (args: string[]) => nr.sendCommand(args) };
        }
        try {
          r = rig({ clock: () => now, redis: conn, redisKeyPrefix: prefix, usersRefreshSeconds: 3600, activeWindowSeconds: 300 });
          expect(r.b.usersShared).to.equal(true);
          playScenario((id, when) => {
            now = when;
            r.b.markActive(id);
          });
          now = at(0, 10, 6);
          await r.b.flush();
          // Window 5 min, with Redis: minutes 10:01..10:06 (this one and the five before), so f only.
          expect(userLines(await r.scrape())).to.deep.equal(EXPECTED_TODAY);
          // Keys are per minute / per UTC day, and expire.
          expect(await redis.ttl(`${prefix}dau:20250310`)).to.be.within(31 * 86_400, 32 * 86_400);
          expect(await redis.ttl(`${prefix}active:${Math.floor(at(0, 10, 4) / 60_000)}`)).to.be.within(60, 7 * 60);
          // Only hashes are sent: no raw id as a key, and the HLL holds 4 distinct members today.
          expect(await redis.keys(`${runPrefix.replace(/[{}]/g, '\\$&')}*user*`)).to.deep.equal([]);
          expect(await redis.pfcount(`${prefix}dau:20250310`)).to.equal(4);
        } finally {
          await r.close();
          await nodeRedis?.quit();
        }
      });
    }

    it('a scrape never waits on Redis: a client that never answers leaves the gauges unreported, calls cheap', async () => {
      const never = new Promise<never>(() => {});
      const hung = { pfadd: () => never, pfcount: () => never, expire: () => never };
      r = rig({ redis: hung, redisTimeoutMs: 1000 });
      for (let i = 0; i < 1000; i++) r.b.markActive(i);
      const result = await Promise.race([r.scrape(), sleep(10_000).then(() => 'scrape waited')]);
      expect(result).to.not.equal('scrape waited');
      expect(userLines(result)).to.deep.equal([]);
      expect(lines(result, 'new_users_registered_total')).to.deep.equal(['new_users_registered_total 0']);
    });

    it('a failing Redis is logged, not thrown, and the app goes on', async () => {
      const failing = { pfadd: async () => { throw new Error('READONLY'); }, pfcount: async () => { throw new Error('READONLY'); }, expire: async () => 1 };
      r = rig({ redis: failing });
      r.b.markActive('x');
      await r.b.flush();
      expect(r.b.userCounts()).to.equal(undefined);
    });

    it('two separate processes sharing Redis agree, within HyperLogLog error, on the true distinct count', async function () {
      this.timeout(60_000);
      const prefix = `${runPrefix}two:`;
      const script = join(__dirname, 'fixtures', 'users-child.js');
      // Process A: user-0 .. user-5999; process B: user-4000 .. user-9999. Truth: 10000 distinct users.
      const children = [
        spawn(process.execPath, [script, prefix, '0', '5999'], { stdio: ['pipe', 'pipe', 'pipe'] }),
        spawn(process.execPath, [script, prefix, '4000', '9999'], { stdio: ['pipe', 'pipe', 'pipe'] }),
      ];
      const out = children.map(() => ({ stdout: '', stderr: '' }));
      children.forEach((c, i) => {
        c.stdout.on('data', (d: Buffer) => (out[i]!.stdout += d));
        c.stderr.on('data', (d: Buffer) => (out[i]!.stderr += d));
      });
      try {
        await waitFor(() => out.every((o) => o.stdout.includes('FLUSHED')), 30_000).catch(() => {
          throw new Error(`children did not flush: ${JSON.stringify(out)}`);
        });
        for (const c of children) c.stdin.write('COUNT\n');
        await waitFor(() => out.every((o) => o.stdout.includes('COUNTS ')), 30_000);
        const counts = out.map((o) => JSON.parse(/COUNTS (.*)/.exec(o.stdout)![1]!) as { active: number; daily: number; monthly: number });
        expect(counts[0]).to.deep.equal(counts[1]);
        // HyperLogLog's standard error is 0.81%; allow three of them. The estimate is deterministic for a
        // given id set (ids are hashed without salt here): 9840 for these 10000 ids, a 1.6% under-count.
        for (const k of ['active', 'daily', 'monthly'] as const) {
          expect(Math.abs(counts[0]![k] - 10_000) / 10_000, `${k}=${counts[0]![k]}`).to.be.below(3 * 0.0081);
        }
      } finally {
        for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
      }
    });
  });
});
