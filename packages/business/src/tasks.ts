// AI tasks (seed 004 §2.2, 方案1, 方案2 monitor_ai_task).
//
// Every task is counted ONCE in ai_tasks_total, with the status it ended in:
//   success  the task finished and worked;
//   failed   the task finished with an error;
//   pending  the task's outcome was never reported: a handle not settled within
//            aiTaskTimeoutSeconds, `expire()`, or completeAiTask({status:'pending'}).
// So sum(ai_tasks_total) is the number of tasks whose fate is known, and
// ai_tasks_submitted_total - sum(ai_tasks_total) the tasks still running
// (summed over instances, since a task may finish in another process).
// Counting "pending" at submission instead would count each task twice and
// halve every failed/total ratio; submissions have their own counter.
import type { Counter, Histogram } from '@opentelemetry/api';
import {
  aiServiceFailuresTotal,
  aiTaskDurationSeconds,
  aiTasksSubmittedTotal,
  aiTasksTotal,
  createCounter,
  createHistogram,
  logOnce,
  type AttributesOf,
} from '@vigil/catalog';
import { nowMs } from '@vigil/catalog/clock';
import { BoundedValues, errorTypeOf, nameValue, safely, shown } from './labels';
import { observeCall } from './observe';
import type { Shared } from './shared';
import type { AiTaskCompletion, AiTaskHandle, AiTaskOptions, AiTaskStatus, AiTaskSubmission, AiTaskTicket } from './types';

const STATUSES: readonly AiTaskStatus[] = ['success', 'failed', 'pending'];

interface Labels {
  service: string;
  mode: string;
  userRole: string;
}

export class AiTasks {
  private readonly total: Counter<AttributesOf<typeof aiTasksTotal>>;
  private readonly submittedTotal: Counter<AttributesOf<typeof aiTasksSubmittedTotal>>;
  private readonly duration: Histogram<AttributesOf<typeof aiTaskDurationSeconds>>;
  private readonly failures: Counter<AttributesOf<typeof aiServiceFailuresTotal>>;
  private readonly open = new Set<TaskHandle>();
  /** error_type of ai_service_failures_total: error classes are as unbounded as the code that throws them. */
  private readonly failureTypes = new BoundedValues(`${aiServiceFailuresTotal.name} error_type`, 50);

  constructor(
    private readonly shared: Shared,
    private readonly timeoutMs: number,
  ) {
    this.total = createCounter(shared.meter, aiTasksTotal);
    this.submittedTotal = createCounter(shared.meter, aiTasksSubmittedTotal);
    this.duration = createHistogram(shared.meter, aiTaskDurationSeconds);
    this.failures = createCounter(shared.meter, aiServiceFailuresTotal);
  }

  labels(service: unknown, mode: unknown, userRole: unknown): Labels {
    const s = this.shared;
    return {
      service: s.services.get(nameValue(service, 'unknown')),
      mode: s.modes.get(nameValue(mode, 'default')),
      userRole: s.roles.get(nameValue(userRole, s.defaultUserRole)),
    };
  }

  submitted(l: Labels): void {
    this.submittedTotal.add(1, { service: l.service });
  }

  /** Counts the outcome of one task. durationSeconds is recorded for successes, as the seed does. */
  settle(l: Labels, status: AiTaskStatus, durationSeconds: number | undefined, error?: unknown): void {
    this.total.add(1, { service: l.service, status, user_role: l.userRole });
    if (status === 'success' && durationSeconds !== undefined && durationSeconds >= 0 && Number.isFinite(durationSeconds)) {
      this.duration.record(durationSeconds, { service: l.service, mode: l.mode });
    }
    if (status === 'failed') {
      this.failures.add(1, { service: l.service, error_type: this.failureTypes.get(errorTypeOf(error)) });
      this.shared.recordError(error, `ai_service_${l.service}`);
    }
  }

  /** Runs one task call (sync or async) and counts it; the call's result or exception passes through untouched. */
  run<R>(l: Labels, call: () => R): R {
    safely('ai task submission', () => this.submitted(l));
    const start = nowMs();
    return observeCall(
      'ai task',
      call,
      () => this.settle(l, 'success', (nowMs() - start) / 1000),
      (e) => this.settle(l, 'failed', undefined, e),
    );
  }

  track<R>(service: string, fn: () => R, options: AiTaskOptions = {}): R {
    return this.run(this.labels(service, options.mode, options.userRole), fn);
  }

  submit(submission: AiTaskSubmission): AiTaskHandle {
    const l = this.labels(submission?.service, submission?.mode, submission?.userRole);
    safely('ai task submission', () => this.submitted(l));
    return new TaskHandle(this, l, this.shared.clock(), submission?.id, this.timeoutMs);
  }

  complete(c: AiTaskCompletion): void {
    safely('ai task completion', () => {
      const l = this.labels(c?.service, c?.mode, c?.userRole);
      const status: AiTaskStatus = STATUSES.includes(c?.status) ? c.status : 'failed';
      if (status !== c?.status) {
        logOnce('business:task-status', 'warn', `completeAiTask: status "${shown(c?.status)}" is not success, failed or pending; counting it as failed`);
      }
      const at = toEpochMs(c?.submittedAt);
      if (at === undefined && status === 'success') {
        logOnce('business:task-submitted-at', 'warn', 'completeAiTask: submittedAt is not a time; the duration is not recorded');
      }
      const d = at === undefined ? undefined : (this.shared.clock() - at) / 1000;
      this.settle(l, status, d, c?.error);
    });
  }

  /** @internal */
  opened(h: TaskHandle): void {
    this.open.add(h);
  }
  /** @internal */
  closed(h: TaskHandle): void {
    this.open.delete(h);
  }

  /** Stops the timeout timers of open handles (they are not counted). */
  shutdown(): void {
    for (const h of this.open) h.detach();
    this.open.clear();
  }

  now(): number {
    return this.shared.clock();
  }
}

function toEpochMs(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (v instanceof Date) return Number.isFinite(v.getTime()) ? v.getTime() : undefined;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    if (Number.isFinite(n)) return n;
    const t = Date.parse(v);
    return Number.isFinite(t) ? t : undefined;
  }
  return undefined;
}

class TaskHandle implements AiTaskHandle {
  private done = false;
  private timedOut = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly tasks: AiTasks,
    private readonly l: Labels,
    readonly submittedAt: number,
    readonly id: string | undefined,
    timeoutMs: number,
  ) {
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      this.timer = setTimeout(() => {
        this.timedOut = true;
        this.finish('pending');
      }, Math.min(timeoutMs, 2 ** 31 - 1));
      this.timer.unref();
      tasks.opened(this);
    }
  }

  get service(): string {
    return this.l.service;
  }
  get mode(): string {
    return this.l.mode;
  }
  get userRole(): string {
    return this.l.userRole;
  }
  get settled(): boolean {
    return this.done;
  }

  succeed(): void {
    this.finish('success');
  }
  fail(error?: unknown): void {
    this.finish('failed', error);
  }
  expire(): void {
    this.finish('pending');
  }

  handoff(): AiTaskTicket {
    this.detach();
    this.done = true;
    const t: AiTaskTicket = { service: this.l.service, mode: this.l.mode, userRole: this.l.userRole, submittedAt: this.submittedAt };
    if (this.id !== undefined) t.id = this.id;
    return t;
  }

  /** @internal Stops the timeout without counting. */
  detach(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.tasks.closed(this);
  }

  private finish(status: AiTaskStatus, error?: unknown): void {
    if (this.done) {
      if (this.timedOut && status !== 'pending') {
        logOnce('business:task-late', 'warn', `an AI task of ${this.l.service} settled after aiTaskTimeoutSeconds, when it had already been counted as pending; raise the timeout for tasks this long`);
      }
      return;
    }
    this.done = true;
    this.detach();
    safely('ai task', () => this.tasks.settle(this.l, status, (this.tasks.now() - this.submittedAt) / 1000, error));
  }
}
