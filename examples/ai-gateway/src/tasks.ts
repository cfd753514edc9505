// Asynchronous image generation, as AI platforms run Midjourney / Flux jobs:
// POST /api/images/generations charges the task's price and answers at once
// with a task id; the provider finishes the task seconds later (a timer here),
// with success, a failure (refunded: the provider's content policy rejects the
// prompt, or its worker times out at DEMO_TASK_FAILURE_RATE), or never (its outcome is lost upstream:
// the task expires, counted as `pending`). GET /api/tasks/:id reads its state.
// @vigil/business records ai_tasks_submitted_total now and ai_tasks_total /
// ai_task_duration_seconds / ai_service_failures_total when the task settles.
import { randomUUID } from 'node:crypto';
import { submitAiTask, type AiTaskHandle } from '@vigil/business';
import type { DemoConfig } from './config';
import type { AuthUser, CreditLedger, Database } from './db';
import { IMAGE_SERVICES } from './products';

/** Prompts the provider's content policy rejects (when it processes the task, as real providers do). */
const CONTENT_POLICY = /\b(deepfake|nsfw)\b/i;

/** A prompt the provider refuses. */
export class ContentPolicyViolation extends Error {
  override name = 'ContentPolicyViolation';
}
/** The provider's worker gave up on the job. */
export class GenerationTimeout extends Error {
  override name = 'GenerationTimeout';
}

interface Running {
  timer: NodeJS.Timeout;
  handle: AiTaskHandle;
  user: AuthUser;
  price: number;
  prompt: string;
}

export class ImageTasks {
  private readonly running = new Map<string, Running>();

  constructor(
    private readonly config: DemoConfig,
    private readonly db: Database,
    private readonly ledger: CreditLedger,
  ) {}

  /** Submits a task; throws InsufficientCreditsError when the user cannot pay for it. */
  async submit(user: AuthUser, service: string, mode: string, prompt: string): Promise<{ id: string; status: string }> {
    const price = IMAGE_SERVICES[service]!;
    const id = randomUUID();
    await this.ledger.consume(user, price, `image:${id}`);
    await this.db.insertTask({ id, userId: user.id, service, mode, prompt });
    const handle = submitAiTask({ service, mode, userRole: user.role, id });
    const [min, max] = this.config.taskSeconds;
    const seconds = (min + Math.random() * (max - min)) * (mode === 'relax' ? 1.5 : mode === 'turbo' ? 0.6 : 1);
    const timer = setTimeout(() => void this.settle(id), seconds * 1000);
    this.running.set(id, { timer, handle, user, price, prompt });
    return { id, status: 'queued' };
  }

  private async settle(id: string): Promise<void> {
    const task = this.running.get(id);
    if (!task) return;
    this.running.delete(id);
    const r = Math.random();
    try {
      const rejected = CONTENT_POLICY.test(task.prompt);
      if (rejected || r < this.config.taskFailureRate) {
        const error = rejected ? new ContentPolicyViolation('the prompt was rejected by the content policy') : new GenerationTimeout('the worker timed out');
        task.handle.fail(error);
        await this.db.finishTask(id, 'failed', { error: error.message });
        await this.ledger.refund(task.user, task.price, `image:${id}`);
      } else if (r < this.config.taskFailureRate + this.config.taskExpireRate) {
        task.handle.expire();
        await this.db.finishTask(id, 'expired', { error: 'the provider lost the task' });
        await this.ledger.refund(task.user, task.price, `image:${id}`);
      } else {
        task.handle.succeed();
        await this.db.finishTask(id, 'succeeded', { url: `https://cdn.example.com/images/${id}.png` });
      }
    } catch (e) {
      console.error(`ai-gateway: could not record the end of task ${id}: ${(e as Error).message}`);
    }
  }

  /** On shutdown: tasks still running will never report here; they are counted pending and marked expired. */
  async shutdown(): Promise<void> {
    const left = [...this.running.entries()];
    this.running.clear();
    for (const [id, task] of left) {
      clearTimeout(task.timer);
      task.handle.expire();
      await this.db.finishTask(id, 'expired', { error: 'the gateway stopped before the task finished' }).catch(() => undefined);
    }
  }
}
