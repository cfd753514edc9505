// Security (seed 004 §3.2, 方案1). security_events_total is what the seed's
// alerts read (event_type login_failure / api_abuse); the specific counters
// carry the reason / rule / pattern.
import type { Counter } from '@opentelemetry/api';
import {
  apiAbuseDetectedTotal,
  createCounter,
  logOnce,
  loginFailuresTotal,
  securityEventsTotal,
  suspiciousAccessPatternsTotal,
  type AttributesOf,
} from '@vigil/catalog';
import { BoundedValues, safely, wordValue } from './labels';
import type { Shared } from './shared';
import type { SecuritySeverity } from './types';

export const SEVERITIES: readonly SecuritySeverity[] = ['info', 'low', 'medium', 'warning', 'high', 'critical'];

export class Security {
  private readonly events: Counter<AttributesOf<typeof securityEventsTotal>>;
  private readonly logins: Counter<AttributesOf<typeof loginFailuresTotal>>;
  private readonly abuse: Counter<AttributesOf<typeof apiAbuseDetectedTotal>>;
  private readonly suspicious: Counter<AttributesOf<typeof suspiciousAccessPatternsTotal>>;
  private readonly eventTypes = new BoundedValues(`${securityEventsTotal.name} event_type`, 50);
  private readonly reasons = new BoundedValues(`${loginFailuresTotal.name} reason`, 50);
  private readonly rules = new BoundedValues(`${apiAbuseDetectedTotal.name} rule`, 50);
  private readonly patterns = new BoundedValues(`${suspiciousAccessPatternsTotal.name} pattern`, 50);

  constructor(meter: Shared['meter']) {
    this.events = createCounter(meter, securityEventsTotal);
    this.logins = createCounter(meter, loginFailuresTotal);
    this.abuse = createCounter(meter, apiAbuseDetectedTotal);
    this.suspicious = createCounter(meter, suspiciousAccessPatternsTotal);
  }

  private severity(s: unknown, fallback: SecuritySeverity): SecuritySeverity {
    if (s === undefined || s === null) return fallback;
    const v = String(s).toLowerCase().trim();
    if ((SEVERITIES as readonly string[]).includes(v)) return v as SecuritySeverity;
    // One line for the first bad severity: a key per value would log every distinct bad value.
    logOnce('business:severity', 'warn', `security severity "${v.slice(0, 20)}" is not one of ${SEVERITIES.join(', ')}; using "${fallback}" (said once)`);
    return fallback;
  }

  event(type: unknown, severity: unknown, fallback: SecuritySeverity = 'warning'): void {
    safely('security event', () =>
      this.events.add(1, { event_type: this.eventTypes.get(wordValue(type, 'unknown')), severity: this.severity(severity, fallback) }),
    );
  }

  loginFailed(reason: unknown, severity?: unknown): void {
    safely('login failure', () => this.logins.add(1, { reason: this.reasons.get(wordValue(reason, 'unknown')) }));
    this.event('login_failure', severity, 'warning');
  }

  apiAbuse(rule: unknown, severity?: unknown): void {
    safely('api abuse', () => this.abuse.add(1, { rule: this.rules.get(wordValue(rule, 'unknown')) }));
    this.event('api_abuse', severity, 'critical');
  }

  suspiciousAccess(pattern: unknown, severity?: unknown): void {
    safely('suspicious access', () => this.suspicious.add(1, { pattern: this.patterns.get(wordValue(pattern, 'unknown')) }));
    this.event('suspicious_access', severity, 'warning');
  }
}
