// The seed's monitor_ai_task / monitor_credits_operation decorators, as
// TypeScript standard (stage-3) method decorators and as plain function
// wrappers. They record and rethrow: the wrapped function's result, exception,
// `this` and synchronicity are untouched.
import { logOnce } from '@vigil/catalog';
import type { BusinessMetrics } from './business';
import { finiteNumber } from './credits';
import { businessMetrics } from './default';
import { callHook, observeCall, resolveOption } from './observe';
import type { CreditsOperation, MonitorAiTaskOptions, MonitorCreditsOptions } from './types';

type Method<This, Args extends unknown[], R> = (this: This, ...args: Args) => R;

function keepName(wrapper: Function, fn: Function): void {
  try {
    Object.defineProperty(wrapper, 'name', { value: fn.name, configurable: true });
    Object.defineProperty(wrapper, 'length', { value: fn.length, configurable: true });
  } catch {
    // cosmetic only
  }
}

function instance(m: BusinessMetrics | undefined): BusinessMetrics | undefined {
  try {
    return m ?? businessMetrics();
  } catch (e) {
    logOnce('business:no-instance', 'warn', `business metrics are unavailable: ${String(e)}`);
    return undefined;
  }
}

/**
 * Wraps fn as an AI task of `service` (the seed's monitor_ai_task): each call counts a submission, then
 * success with its duration, or failed with its error type.
 */
export function aiTask<This, Args extends unknown[], R>(
  service: string,
  fn: Method<This, Args, R>,
  options: MonitorAiTaskOptions<Args> = {},
): Method<This, Args, R> {
  const wrapped = function (this: This, ...args: Args): R {
    const m = instance(options.metrics);
    if (!m) return fn.apply(this, args);
    let labels;
    try {
      labels = m.tasks.labels(service, resolveOption('mode', options.mode, this, args), resolveOption('userRole', options.userRole, this, args));
    } catch {
      return fn.apply(this, args);
    }
    return m.tasks.run(labels, () => fn.apply(this, args));
  };
  keepName(wrapped, fn);
  return wrapped;
}

/**
 * Wraps fn as a credits operation (the seed's monitor_credits_operation): each successful call counts
 * credits_operations_total, the amount (when options.amount says it) and, for consume, the balance from
 * the result's `credit`; a failing call counts application_errors_total{component="credits_system"}.
 */
export function creditsOperation<This, Args extends unknown[], R>(
  operation: CreditsOperation,
  fn: Method<This, Args, R>,
  options: MonitorCreditsOptions<Args, R> = {},
): Method<This, Args, R> {
  const balanceOf =
    options.balance ??
    (operation === 'consume'
      ? (result: Awaited<R>) =>
          result !== null && typeof result === 'object' && 'credit' in result ? finiteNumber((result as { credit: unknown }).credit) : undefined
      : undefined);
  const wrapped = function (this: This, ...args: Args): R {
    const m = instance(options.metrics);
    if (!m) return fn.apply(this, args);
    return observeCall(
      'credits operation',
      () => fn.apply(this, args),
      (result) => {
        // each hook on its own: one that throws costs its own value, not the whole record
        const amount = options.amount ? callHook('amount', () => options.amount!(result, ...args)) : undefined;
        const balance = balanceOf ? callHook('balance', () => balanceOf(result, ...args)) : undefined;
        const userRole = resolveOption('userRole', options.userRole, this, args);
        m.credits.record(operation, amount, { userRole, balance });
      },
      (e) => m.recordError(e, 'credits_system'),
    );
  };
  keepName(wrapped, fn);
  return wrapped;
}

/**
 * Standard method decorator: `@monitorAiTask('flux', { mode: 'fast' })`.
 * Option functions receive the method's arguments (and its `this`).
 */
export function monitorAiTask(service: string, options: MonitorAiTaskOptions<any[]> = {}) {
  return function <This, Args extends unknown[], R>(
    target: Method<This, Args, R>,
    context: ClassMethodDecoratorContext<This, Method<This, Args, R>>,
  ): Method<This, Args, R> {
    if (context?.kind !== 'method') {
      logOnce('business:decorator-kind', 'warn', `@monitorAiTask is a method decorator (standard decorators, not experimentalDecorators); left ${String(context?.name)} as it is`);
      return target;
    }
    return aiTask(service, target, options as MonitorAiTaskOptions<Args>);
  };
}

/** Standard method decorator: `@monitorCreditsOperation('consume')`. */
export function monitorCreditsOperation(operation: CreditsOperation, options: MonitorCreditsOptions<any[], any> = {}) {
  return function <This, Args extends unknown[], R>(
    target: Method<This, Args, R>,
    context: ClassMethodDecoratorContext<This, Method<This, Args, R>>,
  ): Method<This, Args, R> {
    if (context?.kind !== 'method') {
      logOnce('business:decorator-kind', 'warn', `@monitorCreditsOperation is a method decorator (standard decorators, not experimentalDecorators); left ${String(context?.name)} as it is`);
      return target;
    }
    return creditsOperation(operation, target, options as MonitorCreditsOptions<Args, R>);
  };
}
