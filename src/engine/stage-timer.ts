// Predicts a stage's wall-clock time from the share of positions it will compute: a
// least-squares line time = a + b * share over recent runs, older runs fading out; and how far
// runs stray from that line, for deadlines that should rarely be missed.

const DECAY = 0.95;
/** upper() is the line plus this many standard deviations of the recent misses around it. */
const SPREAD = 2;

export class StageTimer {
  private w = 0;
  private sx = 0;
  private sy = 0;
  private sxx = 0;
  private sxy = 0;
  private rw = 0;
  private rr = 0;

  observe(share: number, ms: number): void {
    const expected = this.predict(share);
    if (!Number.isNaN(expected)) {
      this.rw = this.rw * DECAY + 1;
      this.rr = this.rr * DECAY + (ms - expected) ** 2;
    }
    this.w = this.w * DECAY + 1;
    this.sx = this.sx * DECAY + share;
    this.sy = this.sy * DECAY + ms;
    this.sxx = this.sxx * DECAY + share * share;
    this.sxy = this.sxy * DECAY + share * ms;
  }

  /** Predicted milliseconds at `share`; NaN before any observation. */
  predict(share: number): number {
    if (this.w === 0) return Number.NaN;
    const mx = this.sx / this.w;
    const my = this.sy / this.w;
    const varX = this.sxx / this.w - mx * mx;
    if (varX < 1e-4) return my; // all runs at about the same share: the mean is all we know
    const slope = Math.max(0, (this.sxy / this.w - mx * my) / varX);
    return Math.max(0, my + slope * (share - mx));
  }

  /**
   * Milliseconds the stage at `share` should rarely exceed: the prediction plus SPREAD
   * standard deviations of how far recent runs landed from it (a machine shared by several
   * streams or other work makes runs vary); NaN before any observation.
   */
  upper(share: number): number {
    const expected = this.predict(share);
    return this.rw === 0 ? expected : expected + SPREAD * Math.sqrt(this.rr / this.rw);
  }
}
