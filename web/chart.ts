// A small live chart: time from sending to each exit arriving, for the last frames that ended.

/** One colour per exit (a palette that stays apart for colour-blind readers). */
export const EXIT_COLOURS = ['#ffb000', '#fe6100', '#dc267f', '#648fff'] as const;

const FRAMES = 60;

export class ExitTimeChart {
  /** Per frame, ms to each exit it reached (NaN: not reached). */
  private readonly frames: number[][] = [];

  constructor(private readonly canvas: HTMLCanvasElement, private readonly exits: number) {}

  push(times: readonly number[]): void {
    this.frames.push(Array.from({ length: this.exits }, (_, k) => times[k] ?? NaN));
    if (this.frames.length > FRAMES) this.frames.shift();
  }

  render(): void {
    const { canvas } = this;
    const ctx = canvas.getContext('2d')!;
    const w = canvas.width;
    const h = canvas.height;
    const pad = { left: 36, right: 6, top: 8, bottom: 16 };
    ctx.clearRect(0, 0, w, h);
    const values = this.frames.flat().filter((v) => Number.isFinite(v));
    const top = niceCeil(Math.max(10, ...values));
    const x = (i: number) => pad.left + (i * (w - pad.left - pad.right)) / (FRAMES - 1);
    const y = (ms: number) => pad.top + (1 - ms / top) * (h - pad.top - pad.bottom);
    ctx.font = '10px system-ui, sans-serif';
    ctx.fillStyle = '#9aa4b2';
    ctx.strokeStyle = '#2c3440';
    ctx.lineWidth = 1;
    for (const ms of [0, top / 2, top]) {
      ctx.beginPath();
      ctx.moveTo(pad.left, y(ms));
      ctx.lineTo(w - pad.right, y(ms));
      ctx.stroke();
      ctx.fillText(`${ms} ms`, 2, y(ms) + 3);
    }
    ctx.fillText(`last ${FRAMES} frames`, pad.left, h - 3);
    const offset = FRAMES - this.frames.length;
    for (let k = 0; k < this.exits; k++) {
      ctx.strokeStyle = EXIT_COLOURS[k % EXIT_COLOURS.length]!;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let drawing = false;
      this.frames.forEach((times, i) => {
        const v = times[k]!;
        if (!Number.isFinite(v)) return void (drawing = false);
        if (drawing) ctx.lineTo(x(offset + i), y(v));
        else ctx.moveTo(x(offset + i), y(v));
        drawing = true;
      });
      ctx.stroke();
    }
  }
}

/** 1, 2 or 5 times a power of ten, at or above `v`. */
function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((n) => n >= v)!;
}
