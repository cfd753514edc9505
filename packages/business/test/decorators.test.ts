import { metrics } from '@opentelemetry/api';
import { expect } from 'chai';
import { inProcessMetrics, sampleValue } from '@vigil/testing';
import {
  aiTask,
  businessMetrics,
  consumeCredits,
  creditsOperation,
  monitorAiTask,
  monitorCreditsOperation,
  trackAiTask,
} from '../src/index';
import { lines, rig, sleep, type Rig } from './helpers';

interface Req {
  mode: string;
  role: string;
}

describe('business: decorators (standard, stage-3) and function wrappers', () => {
  let r: Rig;
  afterEach(async () => r?.close());

  it('@monitorAiTask on sync, async and throwing methods: same results, same errors, same this', async () => {
    r = rig();
    const b = r.b;
    const boom = new TypeError('bad prompt');
    class Images {
      readonly name = 'images';
      readonly made = { url: 'https://x/1.png' };

      @monitorAiTask('flux', { mode: (req: Req) => req.mode, userRole: (req: Req) => req.role, metrics: b })
      renderSync(_req: Req) {
        return this.made;
      }

      @monitorAiTask('flux', { mode: 'relax', metrics: b })
      async renderAsync(ms: number) {
        await sleep(ms);
        return `${this.name}:${ms}`;
      }

      @monitorAiTask('midjourney', { metrics: b })
      throwSync(): never {
        throw boom;
      }

      @monitorAiTask('midjourney', { metrics: b })
      async rejectAsync(): Promise<never> {
        await sleep(1);
        throw boom;
      }
    }
    const images = new Images();
    expect(images.renderSync({ mode: 'fast', role: 'vip' })).to.equal(images.made);
    expect(images.renderSync.name).to.equal('renderSync');
    const p = images.renderAsync(20);
    expect(p).to.be.instanceOf(Promise);
    expect(await p).to.equal('images:20');
    expect(() => images.throwSync()).to.throw(boom);
    let rejected: unknown;
    await images.rejectAsync().catch((e: unknown) => (rejected = e));
    expect(rejected).to.equal(boom);

    const text = await r.scrape();
    expect(lines(text, 'ai_tasks_total')).to.deep.equal([
      'ai_tasks_total{service="flux",status="success",user_role="vip"} 1',
      'ai_tasks_total{service="flux",status="success",user_role="user"} 1',
      'ai_tasks_total{service="midjourney",status="failed",user_role="user"} 2',
    ]);
    expect(lines(text, 'ai_tasks_submitted_total')).to.deep.equal([
      'ai_tasks_submitted_total{service="flux"} 2',
      'ai_tasks_submitted_total{service="midjourney"} 2',
    ]);
    expect(sampleValue(text, 'ai_task_duration_seconds_count', { service: 'flux', mode: 'fast' })).to.equal(1);
    expect(sampleValue(text, 'ai_task_duration_seconds_count', { service: 'flux', mode: 'relax' })).to.equal(1);
    expect(sampleValue(text, 'ai_task_duration_seconds_sum', { service: 'flux', mode: 'relax' })).to.be.within(0.015, 1);
    expect(lines(text, 'application_errors_total')).to.deep.equal(['application_errors_total{error_type="TypeError",component="ai_service_midjourney"} 2']);
  });

  it('@monitorCreditsOperation: counts success, keeps the seed\'s balance from result.credit on consume, records and rethrows failures', async () => {
    r = rig();
    const b = r.b;
    class Wallet {
      credit = 100;
      @monitorCreditsOperation('consume', { amount: (_res: unknown, n: number) => n, userRole: () => 'vip', metrics: b })
      consume(n: number) {
        if (n > this.credit) throw new RangeError('insufficient credits');
        this.credit -= n;
        return { credit: this.credit };
      }
      @monitorCreditsOperation('purchase', { amount: (res: { added: number }) => res.added, metrics: b })
      async purchase(n: number) {
        await sleep(1);
        this.credit += n;
        return { added: n, credit: this.credit };
      }
      @monitorCreditsOperation('refund', { metrics: b })
      refund(n: number) {
        this.credit += n;
        return this.credit;
      }
    }
    const w = new Wallet();
    expect(w.consume(30)).to.deep.equal({ credit: 70 });
    expect(w.consume(65)).to.deep.equal({ credit: 5 });
    expect(() => w.consume(1000)).to.throw(RangeError, 'insufficient credits');
    expect(await w.purchase(500)).to.deep.equal({ added: 500, credit: 505 });
    expect(w.refund(5)).to.equal(510);
    const text = await r.scrape();
    expect(lines(text, 'credits_operations_total')).to.deep.equal([
      'credits_operations_total{operation="consume",user_role="vip"} 2',
      'credits_operations_total{operation="purchase",user_role="user"} 1',
      'credits_operations_total{operation="refund",user_role="user"} 1',
    ]);
    expect(lines(text, 'credits_consumed_total')).to.deep.equal(['credits_consumed_total{user_role="vip"} 95']);
    expect(lines(text, 'credits_purchased_total')).to.deep.equal(['credits_purchased_total{user_role="user"} 500']);
    // Balances 70 and 5 from the consume results only (as the seed: consume and result.credit).
    expect(lines(text, 'user_credits_balance')).to.deep.equal([
      'user_credits_balance_count 2',
      'user_credits_balance_sum 75',
      'user_credits_balance_bucket{le="0"} 0',
      'user_credits_balance_bucket{le="10"} 1',
      'user_credits_balance_bucket{le="50"} 1',
      'user_credits_balance_bucket{le="100"} 2',
      'user_credits_balance_bucket{le="500"} 2',
      'user_credits_balance_bucket{le="1000"} 2',
      'user_credits_balance_bucket{le="5000"} 2',
      'user_credits_balance_bucket{le="+Inf"} 2',
    ]);
    expect(lines(text, 'application_errors_total')).to.deep.equal(['application_errors_total{error_type="RangeError",component="credits_system"} 1']);
  });

  it('function wrappers keep this, arguments and results for code without classes', async () => {
    r = rig();
    const svc = {
      factor: 3,
      generate: aiTask('kling', function (this: { factor: number }, a: number, b: number) {
        return this.factor * (a + b);
      }, { metrics: r.b }),
      spend: creditsOperation('consume', async function (this: { factor: number }, n: number) {
        return { credit: 10 * this.factor - n };
      }, { metrics: r.b }),
    };
    expect(svc.generate(1, 2)).to.equal(9);
    expect(await svc.spend(4)).to.deep.equal({ credit: 26 });
    const text = await r.scrape();
    expect(lines(text, 'ai_tasks_total')).to.deep.equal(['ai_tasks_total{service="kling",status="success",user_role="user"} 1']);
    expect(lines(text, 'credits_operations_total')).to.deep.equal(['credits_operations_total{operation="consume",user_role="user"} 1']);
    expect(sampleValue(text, 'user_credits_balance_sum')).to.equal(26);
  });

  it('a throwing option function never breaks the call', async () => {
    r = rig();
    const f = aiTask('flux', (x: number) => x * 2, { userRole: () => { throw new Error('no user'); }, metrics: r.b });
    expect(f(21)).to.equal(42);
    const text = await r.scrape();
    expect(lines(text, 'ai_tasks_total')).to.deep.equal(['ai_tasks_total{service="flux",status="success",user_role="user"} 1']);
  });

  it('without a metrics option, decorators and top-level functions use the global meter provider (re-bound when it is registered later)', async () => {
    businessMetrics(); // created before any provider is registered: bound to the no-op meter
    const m = inProcessMetrics();
    expect(metrics.setGlobalMeterProvider(m.meterProvider)).to.equal(true);
    try {
      class Jobs {
        @monitorAiTask('suno')
        run() {
          return 'ok';
        }
      }
      expect(new Jobs().run()).to.equal('ok');
      expect(trackAiTask('suno', () => 1)).to.equal(1);
      consumeCredits(3);
      const text = await m.scrape();
      expect(lines(text, 'ai_tasks_total')).to.deep.equal(['ai_tasks_total{service="suno",status="success",user_role="user"} 2']);
      expect(lines(text, 'credits_consumed_total')).to.deep.equal(['credits_consumed_total{user_role="user"} 3']);
      expect(lines(text, 'system_info')).to.have.length(1);
    } finally {
      await businessMetrics().shutdown();
      metrics.disable();
      await m.shutdown();
    }
  });
});
