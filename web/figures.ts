// The live figures: per exit, the time from sending a frame to its exit arriving (what a
// client waits, queue and network included), the server's compute time, GFLOPs used against
// the same exit without skipping, the computed share and the stage's form; and for the stream,
// frames answered and sent per second and what became of each frame sent.

import { EXIT_COLOURS } from './chart.js';
import type { FrameOutcome, StreamExit } from './stream-client.js';

/** Rates are counted over this window. */
const RATE_WINDOW_MS = 3000;

interface ExitFigure {
  readonly frameId: number;
  readonly timeMs: number;
  readonly computeMs: number;
  readonly cumulativeGflops: number;
  readonly share: number;
  readonly form: string;
}

export interface FigureElements {
  readonly exits: HTMLTableSectionElement;
  readonly fps: HTMLElement;
  readonly counts: HTMLElement;
}

export const pct = (x: number) => `${(100 * x).toFixed(x >= 0.9995 || x === 0 ? 0 : 1)}%`;

export class Figures {
  private readonly last: (ExitFigure | null)[];
  private readonly outcomes: Record<FrameOutcome | 'sent', number> = { sent: 0, completed: 0, superseded: 0, dropped: 0, cancelled: 0, error: 0, lost: 0 };
  private readonly sentAt: number[] = [];
  private readonly answeredAt: number[] = [];
  private readonly cells: HTMLTableCellElement[][];
  /** The newest frame that reached its last exit. */
  private lastCompleted = 0;

  /** `denseGflops[k-1]`: cumulative GFLOPs of exit k with nothing skipped. */
  constructor(private readonly dom: FigureElements, private readonly denseGflops: readonly number[]) {
    this.last = denseGflops.map(() => null);
    this.cells = denseGflops.map((_, i) => {
      const row = dom.exits.insertRow();
      row.dataset.exit = String(i + 1);
      const cells = Array.from({ length: 6 }, () => row.insertCell());
      cells[0]!.textContent = String(i + 1);
      cells[0]!.style.color = EXIT_COLOURS[i % EXIT_COLOURS.length]!;
      return cells;
    });
  }

  sent(at: number): void {
    this.outcomes.sent++;
    this.sentAt.push(at);
    this.renderCounts();
  }

  exit(x: StreamExit, sentAt: number): void {
    const m = x.meta;
    this.last[m.exit - 1] = {
      frameId: m.frame_id, timeMs: x.receivedAt - sentAt, computeMs: m.timing_ms.compute,
      cumulativeGflops: m.cumulative_gflops, share: m.computed_share, form: m.form,
    };
  }

  ended(frameId: number, outcome: FrameOutcome, at: number): void {
    this.outcomes[outcome]++;
    // the counters never lag: a reader (or the browser test) may take sent = ended as settled
    this.renderCounts();
    if (outcome !== 'completed') return;
    this.answeredAt.push(at);
    this.lastCompleted = Math.max(this.lastCompleted, frameId);
  }

  render(now: number): void {
    this.last.forEach((f, i) => {
      const c = this.cells[i]!;
      // a row from before the newest completed frame: an exit the frames no longer reach
      c[0]!.parentElement!.classList.toggle('stale', f === null || f.frameId < this.lastCompleted);
      if (!f) return;
      c[1]!.textContent = f.timeMs.toFixed(0);
      c[2]!.textContent = f.computeMs.toFixed(1);
      c[3]!.textContent = `${f.cumulativeGflops.toFixed(2)} / ${this.denseGflops[i]!.toFixed(2)}`;
      c[4]!.textContent = pct(f.share);
      c[5]!.textContent = f.form;
    });
    const rate = (times: number[]) => {
      while (times.length > 0 && times[0]! < now - RATE_WINDOW_MS) times.shift();
      return (times.length * 1000) / RATE_WINDOW_MS;
    };
    this.dom.fps.textContent = `${rate(this.answeredAt).toFixed(1)} fps answered, ${rate(this.sentAt).toFixed(1)} sent`;
    this.renderCounts();
  }

  private renderCounts(): void {
    const o = this.outcomes;
    this.dom.counts.textContent = `sent ${o.sent} · completed ${o.completed} · superseded ${o.superseded} · dropped ${o.dropped}`
      + (o.cancelled ? ` · cancelled ${o.cancelled}` : '') + ` · errors ${o.error}` + (o.lost ? ` · lost ${o.lost}` : '');
  }
}
