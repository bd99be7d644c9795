// A stream's frame-rate limit: a token bucket refilled at `rate` per second, holding at most
// one second's worth and never less than one token, so rates below 1 fps still let frames in.

export class TokenBucket {
  private tokens: number;
  private readonly capacity: number;

  constructor(private readonly rate: number, private last = performance.now()) {
    this.capacity = Math.max(1, rate);
    this.tokens = this.capacity;
  }

  /** Takes a token at time `now` (ms); false when none is left. A rate of 0 means no limit. */
  take(now: number = performance.now()): boolean {
    if (this.rate <= 0) return true;
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
