import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';
import { sampleValue } from '@vigil/testing';
import { histogramLines, lines, rig, sleep, type Rig } from './helpers';

const BUCKETS = ['1', '5', '10', '30', '60', '120', '300', '600', '1200', '+Inf'];

/** The bucket lines of ai_task_duration_seconds for one series, when every observation was d seconds. */
function durationBuckets(service: string, mode: string, count: number, d: number): string[] {
  return [
    `ai_task_duration_seconds_count{service="${service}",mode="${mode}"} ${count}`,
    ...BUCKETS.map((le) => `ai_task_duration_seconds_bucket{service="${service}",mode="${mode}",le="${le}"} ${le === '+Inf' || d <= Number(le) ? count : 0}`),
  ];
}

describe('business: AI tasks', () => {
  let r: Rig;
  afterEach(async () => r?.close());

  it('trackAiTask counts a sync success with its labels and duration', async () => {
    r = rig();
    const v = r.b.trackAiTask('flux', () => 42, { mode: 'fast', userRole: 'vip' });
    expect(v).to.equal(42);
    const text = await r.scrape();
    expect(lines(text, 'ai_tasks_total')).to.deep.equal(['ai_tasks_total{service="flux",status="success",user_role="vip"} 1']);
    expect(lines(text, 'ai_tasks_submitted_total')).to.deep.equal(['ai_tasks_submitted_total{service="flux"} 1']);
    expect(histogramLines(text, 'ai_task_duration_seconds')).to.deep.equal(durationBuckets('flux', 'fast', 1, 0.001));
    expect(lines(text, 'ai_service_failures_total')).to.deep.equal([]);
  });

  it('trackAiTask passes an async result through and times it', async () => {
    r = rig();
    const result = { image: 'x' };
    const p = r.b.trackAiTask('midjourney', async () => {
      await sleep(30);
      return result;
    });
    expect(p).to.be.instanceOf(Promise);
    expect(await p).to.equal(result);
    const text = await r.scrape();
    expect(lines(text, 'ai_tasks_total')).to.deep.equal(['ai_tasks_total{service="midjourney",status="success",user_role="user"} 1']);
    expect(sampleValue(text, 'ai_task_duration_seconds_sum', { service: 'midjourney', mode: 'default' })).to.be.within(0.025, 1);
  });

  it('trackAiTask rethrows the same error, sync or async, and counts it as failed everywhere the seed does', async () => {
    r = rig();
    const boom = new RangeError('upstream said no');
    expect(() => r.b.trackAiTask('kling', () => { throw boom; }, { userRole: 'admin' })).to.throw(boom);
    let caught: unknown;
    await r.b.trackAiTask('kling', async () => { throw boom; }, { userRole: 'admin' }).catch((e: unknown) => (caught = e));
    expect(caught).to.equal(boom);
    const text = await r.scrape();
    expect(lines(text, 'ai_tasks_total')).to.deep.equal(['ai_tasks_total{service="kling",status="failed",user_role="admin"} 2']);
    expect(lines(text, 'ai_service_failures_total')).to.deep.equal(['ai_service_failures_total{service="kling",error_type="RangeError"} 2']);
    expect(lines(text, 'application_errors_total')).to.deep.equal(['application_errors_total{error_type="RangeError",component="ai_service_kling"} 2']);
    expect(lines(text, 'ai_tasks_submitted_total')).to.deep.equal(['ai_tasks_submitted_total{service="kling"} 2']);
    expect(lines(text, 'ai_task_duration_seconds')).to.deep.equal([]);
  });

  it('returns a non-native thenable untouched (not awaited)', async () => {
    r = rig();
    let thenCalled = false;
    const lazy = { then: () => { thenCalled = true; } };
    expect(r.b.trackAiTask('flux', () => lazy)).to.equal(lazy);
    expect(thenCalled).to.equal(false);
  });

  it('a submitted task handle counts the outcome once, with the duration since submission', async () => {
    let now = Date.UTC(2025, 0, 1, 12, 0, 0);
    r = rig({ clock: () => now });
    const h = r.b.submitAiTask({ service: 'flux', mode: 'relax', userRole: 'vip', id: 'task-1' });
    expect(h.submittedAt).to.equal(now);
    expect(h.id).to.equal('task-1');
    expect(h.settled).to.equal(false);
    now += 42_000;
    h.succeed();
    h.succeed();
    h.fail(new Error('late'));
    h.expire();
    expect(h.settled).to.equal(true);
    const text = await r.scrape();
    expect(lines(text, 'ai_tasks_total')).to.deep.equal(['ai_tasks_total{service="flux",status="success",user_role="vip"} 1']);
    expect(histogramLines(text, 'ai_task_duration_seconds')).to.deep.equal(durationBuckets('flux', 'relax', 1, 42));
    expect(sampleValue(text, 'ai_task_duration_seconds_sum', { service: 'flux', mode: 'relax' })).to.equal(42);
    expect(lines(text, 'ai_service_failures_total')).to.deep.equal([]);
  });

  it('a failed handle counts failed, the service failure and the application error', async () => {
    r = rig();
    const h = r.b.submitAiTask({ service: 'jimeng' });
    h.fail(Object.assign(new Error('socket'), { code: 'ECONNRESET' }));
    const text = await r.scrape();
    expect(lines(text, 'ai_tasks_total')).to.deep.equal(['ai_tasks_total{service="jimeng",status="failed",user_role="user"} 1']);
    expect(lines(text, 'ai_service_failures_total')).to.deep.equal(['ai_service_failures_total{service="jimeng",error_type="ECONNRESET"} 1']);
    expect(lines(text, 'application_errors_total')).to.deep.equal(['application_errors_total{error_type="ECONNRESET",component="ai_service_jimeng"} 1']);
  });

  it('a handle never settled within aiTaskTimeoutSeconds counts as pending, and a late outcome is ignored', async () => {
    r = rig({ aiTaskTimeoutSeconds: 0.05 });
    const h = r.b.submitAiTask({ service: 'dreamwork' });
    await sleep(150);
    expect(h.settled).to.equal(true);
    h.succeed();
    const text = await r.scrape();
    expect(lines(text, 'ai_tasks_total')).to.deep.equal(['ai_tasks_total{service="dreamwork",status="pending",user_role="user"} 1']);
    expect(lines(text, 'ai_task_duration_seconds')).to.deep.equal([]);
  });

  it('statuses add up: every settled task once, submitted minus settled is what still runs', async () => {
    r = rig();
    const open = [];
    for (let i = 0; i < 30; i++) {
      const h = r.b.submitAiTask({ service: 'flux' });
      if (i % 3 === 0) h.succeed();
      else if (i % 3 === 1) h.fail(new Error('x'));
      else if (i % 5 === 0) h.expire();
      else open.push(h);
    }
    const text = await r.scrape();
    const settled = ['success', 'failed', 'pending'].map((status) => sampleValue(text, 'ai_tasks_total', { service: 'flux', status, user_role: 'user' }) ?? 0);
    expect(settled).to.deep.equal([10, 10, 2]);
    expect(sampleValue(text, 'ai_tasks_submitted_total', { service: 'flux' })! - settled.reduce((a, b) => a + b)).to.equal(open.length);
  });

  it('a task handed off is completed by another process with the submit time it carries', async () => {
    // Submitted "45 s ago" here; completed by a separate node process with the real clock.
    r = rig({ clock: () => Date.now() - 45_000 });
    const h = r.b.submitAiTask({ service: 'midjourney', mode: 'fast', userRole: 'vip', id: 'mj-7' });
    const ticket = JSON.parse(JSON.stringify(h.handoff()));
    expect(ticket).to.include({ service: 'midjourney', mode: 'fast', userRole: 'vip', id: 'mj-7' });
    h.succeed(); // settled by the handoff: ignored here
    const here = await r.scrape();
    expect(lines(here, 'ai_tasks_submitted_total')).to.deep.equal(['ai_tasks_submitted_total{service="midjourney"} 1']);
    expect(lines(here, 'ai_tasks_total')).to.deep.equal([]);

    const child = spawnSync(process.execPath, [join(__dirname, 'fixtures', 'complete-task.js'), JSON.stringify(ticket)], { encoding: 'utf8' });
    expect(child.status, child.stderr).to.equal(0);
    const there = child.stdout;
    expect(lines(there, 'ai_tasks_total')).to.deep.equal(['ai_tasks_total{service="midjourney",status="success",user_role="vip"} 1']);
    expect(lines(there, 'ai_tasks_submitted_total')).to.deep.equal([]);
    expect(histogramLines(there, 'ai_task_duration_seconds')).to.deep.equal(durationBuckets('midjourney', 'fast', 1, 45));
    expect(sampleValue(there, 'ai_task_duration_seconds_sum', { service: 'midjourney', mode: 'fast' })).to.be.within(45, 60);
  });

  it('completeAiTask accepts pending, an ISO submit time, and counts a bad status as failed', async () => {
    const now = Date.UTC(2025, 0, 1, 12, 0, 0);
    r = rig({ clock: () => now });
    r.b.completeAiTask({ service: 'flux', submittedAt: new Date(now - 7000).toISOString(), status: 'success' });
    r.b.completeAiTask({ service: 'flux', submittedAt: now - 1000, status: 'pending' });
    r.b.completeAiTask({ service: 'flux', submittedAt: 'yesterday-ish', status: 'weird' as never });
    const text = await r.scrape();
    expect(lines(text, 'ai_tasks_total')).to.deep.equal([
      'ai_tasks_total{service="flux",status="success",user_role="user"} 1',
      'ai_tasks_total{service="flux",status="pending",user_role="user"} 1',
      'ai_tasks_total{service="flux",status="failed",user_role="user"} 1',
    ]);
    expect(histogramLines(text, 'ai_task_duration_seconds')).to.deep.equal(durationBuckets('flux', 'default', 1, 7));
  });

  it('bounds label values: control characters out, long names cut, too many services fold into other', async () => {
    r = rig();
    r.b.trackAiTask('  flux\n\tpro ', () => 1);
    r.b.trackAiTask('x'.repeat(200), () => 1);
    for (let i = 0; i < 60; i++) r.b.trackAiTask(`svc-${i}`, () => 1);
    const text = await r.scrape();
    const services = lines(text, 'ai_tasks_submitted_total').map((l) => /service="([^"]*)"/.exec(l)![1]);
    expect(services).to.include('flux pro');
    expect(services).to.include('x'.repeat(64));
    expect(services).to.include('other');
    expect(services.length).to.equal(51);
  });

  it('bounds error_type of ai_service_failures_total: 50 error classes, then other', async () => {
    r = rig();
    for (let i = 0; i < 80; i++) {
      const name = `Failure${i}Error`;
      const Failure = { [name]: class extends Error {} }[name]!;
      expect(() => r.b.trackAiTask('flux', () => { throw new Failure('x'); })).to.throw(Failure);
    }
    const types = lines(await r.scrape(), 'ai_service_failures_total').map((l) => /error_type="([^"]*)"/.exec(l)![1]);
    expect(types).to.include('Failure0Error');
    expect(types).to.include('other');
    expect(types.length).to.equal(51);
  });
});
