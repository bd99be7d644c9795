// Predicts a stage's wall-clock time from the share of positions it will compute: a
// least-squares line time = a + b * share over recent runs, older runs fading out.

const DECAY = 0.95;

export class StageTimer {
  private w = 0;
  private sx = 0;
  private sy = 0;
  private sxx = 0;
  private sxy = 0;

  observe(share: number, ms: number): void {
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
}
