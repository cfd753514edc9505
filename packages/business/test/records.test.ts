import { expect } from 'chai';
import { inProcessMetrics } from '@vigil/testing';
import { createBusinessMetrics, errorTypeOf } from '../src/index';
import { lines, rig, type Rig } from './helpers';

describe('business: credits, errors, security, system_info', () => {
  let r: Rig;
  afterEach(async () => r?.close());

  it('credits operations, amounts by role and the balance distribution (seed buckets, 0 and +Inf)', async () => {
    r = rig();
    r.b.consumeCredits(12.5, { userRole: 'vip', balance: 0 });
    r.b.consumeCredits(7.5, { userRole: 'vip', balance: 42 });
    r.b.purchaseCredits(1000, { balance: 6000 });
    r.b.refundCredits(20, { balance: -5 }); // a debt counts in le="0"
    r.b.consumeCredits(Number.NaN); // operation counted, bad amount not
    r.b.observeCreditsBalance(750);
    const text = await r.scrape();
    expect(lines(text, 'credits_operations_total')).to.deep.equal([
      'credits_operations_total{operation="consume",user_role="vip"} 2',
      'credits_operations_total{operation="purchase",user_role="user"} 1',
      'credits_operations_total{operation="refund",user_role="user"} 1',
      'credits_operations_total{operation="consume",user_role="user"} 1',
    ]);
    expect(lines(text, 'credits_consumed_total')).to.deep.equal(['credits_consumed_total{user_role="vip"} 20']);
    expect(lines(text, 'credits_purchased_total')).to.deep.equal(['credits_purchased_total{user_role="user"} 1000']);
    expect(lines(text, 'user_credits_balance')).to.deep.equal([
      'user_credits_balance_count 5',
      'user_credits_balance_sum 6792',
      'user_credits_balance_bucket{le="0"} 2',
      'user_credits_balance_bucket{le="10"} 2',
      'user_credits_balance_bucket{le="50"} 3',
      'user_credits_balance_bucket{le="100"} 3',
      'user_credits_balance_bucket{le="500"} 3',
      'user_credits_balance_bucket{le="1000"} 4',
      'user_credits_balance_bucket{le="5000"} 4',
      'user_credits_balance_bucket{le="+Inf"} 5',
    ]);
  });

  it('recordError: class name, the code of a plain Error, a given type; payment and upload failures by reason', async () => {
    r = rig();
    class QuotaExceeded extends Error {}
    r.b.recordError(new QuotaExceeded('over'), 'billing');
    r.b.recordError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), 'db');
    r.b.recordError('Validation Error!', 'api');
    r.b.recordError(new DOMException('gone', 'AbortError'), 'api');
    r.b.recordError(undefined, 'api');
    r.b.paymentFailed('Card Declined');
    r.b.paymentFailed('card declined');
    r.b.uploadFailed('file too large (20 MB)');
    const text = await r.scrape();
    expect(lines(text, 'application_errors_total')).to.deep.equal([
      'application_errors_total{error_type="QuotaExceeded",component="billing"} 1',
      'application_errors_total{error_type="ECONNREFUSED",component="db"} 1',
      'application_errors_total{error_type="Validation_Error",component="api"} 1',
      'application_errors_total{error_type="AbortError",component="api"} 1',
      'application_errors_total{error_type="unknown",component="api"} 1',
    ]);
    expect(lines(text, 'payment_failures_total')).to.deep.equal(['payment_failures_total{reason="card_declined"} 2']);
    expect(lines(text, 'file_upload_failures_total')).to.deep.equal(['file_upload_failures_total{reason="file_too_large_20_mb"} 1']);
  });

  it('errorTypeOf stays bounded for anything thrown', () => {
    expect(errorTypeOf(42)).to.equal('number');
    expect(errorTypeOf(null)).to.equal('unknown');
    expect(errorTypeOf(Object.create(null))).to.equal('Object');
    expect(errorTypeOf(new (class extends Error {})())).to.match(/^[A-Za-z0-9_.:-]{1,64}$/);
    expect(errorTypeOf('E'.repeat(500))).to.have.length(64);
  });

  it('security: the specific counters and security_events_total, with the event types the seed\'s alerts read', async () => {
    r = rig();
    r.b.loginFailed('wrong password');
    r.b.loginFailed('Wrong Password');
    r.b.loginFailed('unknown user', 'low');
    r.b.apiAbuse('rate-limit');
    r.b.suspiciousAccess('path scan', 'high');
    r.b.securityEvent('token_reuse', 'critical');
    r.b.securityEvent('odd', 'apocalyptic' as never);
    const text = await r.scrape();
    expect(lines(text, 'login_failures_total')).to.deep.equal([
      'login_failures_total{reason="wrong_password"} 2',
      'login_failures_total{reason="unknown_user"} 1',
    ]);
    expect(lines(text, 'api_abuse_detected_total')).to.deep.equal(['api_abuse_detected_total{rule="rate-limit"} 1']);
    expect(lines(text, 'suspicious_access_patterns_total')).to.deep.equal(['suspicious_access_patterns_total{pattern="path_scan"} 1']);
    expect(lines(text, 'security_events_total')).to.deep.equal([
      'security_events_total{event_type="login_failure",severity="warning"} 2',
      'security_events_total{event_type="login_failure",severity="low"} 1',
      'security_events_total{event_type="api_abuse",severity="critical"} 1',
      'security_events_total{event_type="suspicious_access",severity="high"} 1',
      'security_events_total{event_type="token_reuse",severity="critical"} 1',
      'security_events_total{event_type="odd",severity="warning"} 1',
    ]);
  });

  it('system_info: one value-1 series from OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES, Node and vigil versions', async () => {
    const saved = { name: process.env.OTEL_SERVICE_NAME, attrs: process.env.OTEL_RESOURCE_ATTRIBUTES };
    process.env.OTEL_SERVICE_NAME = 'gateway';
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'service.name=ignored,service.version=1.4.2,deployment.environment=prod';
    const m = inProcessMetrics();
    const b = createBusinessMetrics({ meterProvider: m.meterProvider });
    const m2 = inProcessMetrics();
    const b2 = createBusinessMetrics({ meterProvider: m2.meterProvider, serviceName: 'svc', serviceVersion: '9' });
    try {
      const { version } = require('../../package.json') as { version: string };
      expect(lines(await m.scrape(), 'system_info')).to.deep.equal([
        `system_info{service_name="gateway",service_version="1.4.2",node_version="${process.versions.node}",vigil_version="${version}"} 1`,
      ]);
      // Code options come first.
      expect(lines(await m2.scrape(), 'system_info')).to.deep.equal([
        `system_info{service_name="svc",service_version="9",node_version="${process.versions.node}",vigil_version="${version}"} 1`,
      ]);
    } finally {
      process.env.OTEL_SERVICE_NAME = saved.name;
      process.env.OTEL_RESOURCE_ATTRIBUTES = saved.attrs;
      if (saved.name === undefined) delete process.env.OTEL_SERVICE_NAME;
      if (saved.attrs === undefined) delete process.env.OTEL_RESOURCE_ATTRIBUTES;
      await b.shutdown();
      await b2.shutdown();
      await m.shutdown();
      await m2.shutdown();
    }
  });
});
