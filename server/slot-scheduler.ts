// Slots of a shared resource, handed out earliest deadline first (no deadline: arrival order).
// One instance holds the device (stage runs of every request and stream), another the image
// decoders (so that decoding can never take every libuv thread).

export type Release = () => void;

interface Waiter {
  readonly deadline: number;
  readonly order: number;
  readonly grant: (release: Release) => void;
}

export class SlotScheduler {
  private running = 0;
  private order = 0;
  private readonly waiting: Waiter[] = [];
  private readonly onWait = new Set<() => void>();

  constructor(private readonly concurrency = 1) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be a positive integer');
  }

  get depth(): number {
    return this.waiting.length;
  }

  /** Waits for a slot; `deadline` is an absolute performance.now() time or Infinity. */
  acquire(deadline: number): Promise<Release> {
    return new Promise((grant) => {
      this.waiting.push({ deadline, order: this.order++, grant });
      this.dispatch();
      if (this.waiting.length > 0) for (const listener of [...this.onWait]) listener();
    });
  }

  /** Calls `listener` whenever a request has to wait for a slot, until the returned function is called. */
  whenWaiting(listener: () => void): () => void {
    this.onWait.add(listener);
    return () => void this.onWait.delete(listener);
  }

  private dispatch(): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      let best = 0;
      for (let i = 1; i < this.waiting.length; i++) {
        const a = this.waiting[i]!;
        const b = this.waiting[best]!;
        if (a.deadline < b.deadline || (a.deadline === b.deadline && a.order < b.order)) best = i;
      }
      const [next] = this.waiting.splice(best, 1);
      this.running++;
      let released = false;
      next!.grant(() => {
        if (released) return;
        released = true;
        this.running--;
        this.dispatch();
      });
    }
  }
}
