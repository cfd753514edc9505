// Credits (seed 004 §2.3, 方案1, 方案2 monitor_credits_operation).
import type { Counter, Histogram } from '@opentelemetry/api';
import {
  createCounter,
  createHistogram,
  creditsConsumedTotal,
  creditsOperationsTotal,
  creditsPurchasedTotal,
  logOnce,
  userCreditsBalance,
  type AttributesOf,
} from '@vigil/catalog';
import { nameValue, safely, shown } from './labels';
import type { Shared } from './shared';
import type { CreditsOperation, CreditsOptions } from './types';

const OPERATIONS: readonly CreditsOperation[] = ['consume', 'refund', 'purchase'];

/** A finite number from a number or numeric string, else undefined. */
export function finiteNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

export class Credits {
  private readonly operations: Counter<AttributesOf<typeof creditsOperationsTotal>>;
  private readonly consumed: Counter<AttributesOf<typeof creditsConsumedTotal>>;
  private readonly purchased: Counter<AttributesOf<typeof creditsPurchasedTotal>>;
  private readonly balance: Histogram<AttributesOf<typeof userCreditsBalance>>;

  constructor(private readonly shared: Shared) {
    this.operations = createCounter(shared.meter, creditsOperationsTotal);
    this.consumed = createCounter(shared.meter, creditsConsumedTotal);
    this.purchased = createCounter(shared.meter, creditsPurchasedTotal);
    this.balance = createHistogram(shared.meter, userCreditsBalance);
  }

  role(userRole: unknown): string {
    return this.shared.roles.get(nameValue(userRole, this.shared.defaultUserRole));
  }

  /** One successful operation: credits_operations_total, the amount counter of consume / purchase, the balance. */
  record(operation: CreditsOperation, amount: unknown, options: CreditsOptions = {}): void {
    safely('credits operation', () => {
      const op: CreditsOperation = OPERATIONS.includes(operation) ? operation : 'consume';
      if (op !== operation) {
        logOnce('business:credits-op', 'warn', `credits operation "${shown(operation)}" is not consume, refund or purchase; ignoring it`);
        return;
      }
      const user_role = this.role(options?.userRole);
      this.operations.add(1, { operation: op, user_role });
      if (amount !== undefined) {
        const n = finiteNumber(amount);
        if (n === undefined || n < 0) {
          logOnce(`business:credits-amount:${op}`, 'warn', `a ${op} credits amount is not a number >= 0 (${shown(amount)}); the amount is not recorded`);
        } else if (op === 'consume') {
          this.consumed.add(n, { user_role });
        } else if (op === 'purchase') {
          this.purchased.add(n, { user_role });
        }
      }
      this.observeBalance(options?.balance);
    });
  }

  /** One balance observation in user_credits_balance (ignored unless a finite number). */
  observeBalance(balance: unknown): void {
    if (balance === undefined || balance === null) return;
    const b = finiteNumber(balance);
    if (b === undefined) {
      logOnce('business:credits-balance', 'warn', `a credits balance is not a number (${shown(balance)}); not recorded`);
      return;
    }
    // OTel histograms refuse negative values; a debt is recorded as 0, in the le="0" bucket.
    safely('credits balance', () => this.balance.record(b < 0 ? 0 : b));
  }
}
