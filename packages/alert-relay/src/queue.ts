import type { RateLimit } from './internal-types';

interface Job {
  run: () => Promise<void>;
}

/**
 * A FIFO queue for one chat robot that sends one message at a time and never
 * more than `count` messages in any window of `windowMs`, for every limit at
 * once.
 *
 * A sliding window log, not a token bucket: a bucket of 20 refilled at 20 a
 * minute lets 39 messages through in one minute (a full bucket, then the
 * refill), and DingTalk answers the 21st of a minute with errcode 130101 and
 * throttles the robot for ten minutes.
 */
export class RateLimitedQueue {
  private readonly jobs: Job[] = [];
  /** Send times, the last `count` per limit (one shared log sized to the largest count). */
  private readonly history: number[] = [];
  private readonly maxCount: number;
  private blockedUntil = 0;
  private running = false;
  private active = 0;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly limits: RateLimit[],
    private readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {
    this.maxCount = limits.reduce((m, l) => Math.max(m, l.count), 1);
  }

  /** Messages waiting for their turn (the catalog's alert_relay_queue_depth). */
  get depth(): number {
    return this.jobs.length;
  }

  /** True while a message is being sent. */
  get busy(): boolean {
    return this.active > 0;
  }

  /**
   * Queues `run`; its promise settles when `run` has run. Returns undefined
   * when the queue is full (or closed): the caller must report failure.
   */
  push<T>(run: () => Promise<T>): Promise<T> | undefined {
    if (this.closed || this.jobs.length >= this.capacity) return undefined;
    return new Promise<T>((resolve, reject) => {
      this.jobs.push({ run: () => run().then(resolve, reject) });
      this.pump();
    });
  }

  /** Stop sending until `ms` from now (the service said "too many requests"). */
  block(ms: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, this.now() + ms);
  }

  /** Drops waiting jobs (their promises never settle) and stops the timer. */
  close(): void {
    this.closed = true;
    this.jobs.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
  }

  /** Milliseconds until the next send is allowed. */
  delay(): number {
    const now = this.now();
    let wait = this.blockedUntil - now;
    for (const { count, windowMs } of this.limits) {
      if (this.history.length < count) continue;
      const oldest = this.history[this.history.length - count]!;
      // A small margin: the service counts arrival times, a little after ours.
      wait = Math.max(wait, oldest + windowMs + margin(windowMs) - now);
    }
    return Math.max(0, wait);
  }

  private pump(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      while (!this.closed && this.jobs.length > 0) {
        const wait = this.delay();
        if (wait > 0) {
          await new Promise<void>((resolve) => {
            this.wake = resolve;
            this.timer = setTimeout(resolve, wait);
          });
          this.wake = undefined;
          continue;
        }
        const job = this.jobs.shift()!;
        this.history.push(this.now());
        if (this.history.length > this.maxCount) this.history.splice(0, this.history.length - this.maxCount);
        this.active = 1;
        try {
          await job.run();
        } catch {
          // run() settles the caller's promise; nothing else to do here.
        } finally {
          this.active = 0;
        }
      }
    } finally {
      this.running = false;
    }
  }
}

function margin(windowMs: number): number {
  // At least 100 ms: the first message of a window may take longer to arrive (a new
  // connection) than the one that would open the next, and the service counts arrivals.
  return Math.min(250, Math.max(100, Math.ceil(windowMs * 0.02)));
}
