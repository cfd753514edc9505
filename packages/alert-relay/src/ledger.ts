/**
 * What one target has delivered recently, so that Alertmanager's retry of a
 * notification skips the messages already delivered, and a retry that arrives
 * while the first attempt's message is still queued or being sent waits for
 * it instead of sending it twice.
 *
 * Bounded: at most `maxEntries` delivered keys, each forgotten after `ttlMs`.
 */
export class DeliveryLedger<R> {
  private readonly delivered = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<R>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  isDelivered(key: string): boolean {
    const expires = this.delivered.get(key);
    if (expires === undefined) return false;
    if (expires <= this.now()) {
      this.delivered.delete(key);
      return false;
    }
    return true;
  }

  pending(key: string): Promise<R> | undefined {
    return this.inflight.get(key);
  }

  /** Tracks `attempt`; when it settles, `succeeded(result)` decides whether the key counts as delivered. */
  track(key: string, attempt: Promise<R>, succeeded: (r: R) => boolean): void {
    this.inflight.set(key, attempt);
    attempt.then(
      (r) => {
        this.inflight.delete(key);
        if (succeeded(r)) this.markDelivered(key);
      },
      () => this.inflight.delete(key),
    );
  }

  markDelivered(key: string): void {
    this.delivered.delete(key);
    this.delivered.set(key, this.now() + this.ttlMs);
    // Maps iterate in insertion order and every key lives ttlMs: the first keys expire first.
    const now = this.now();
    for (const [k, expires] of this.delivered) {
      if (this.delivered.size <= this.maxEntries && expires > now) break;
      this.delivered.delete(k);
    }
  }

  get size(): number {
    return this.delivered.size;
  }
}
