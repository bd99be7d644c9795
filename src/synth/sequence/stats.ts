// Figures of generated clips, frame by frame: how many moving things are in view, how much
// of the picture they cover and of which classes, how much the labels change between frames
// without events, and where the events are. The synth command prints them (--stats); the
// tests check them.

import { CITYSCAPES_CLASSES } from '../../classes.js';
import type { SequenceEvent } from './events.js';
import type { ActorKind } from './traffic.js';
import type { ActorSummary, SequenceFrame, SequencePlan } from '../sequences.js';

/** A moving thing smaller than this share of the picture counts as in view, but not as large. */
export const LARGE_SHARE = 0.001;

export interface SequenceSummary {
  seed: number;
  frames: number;
  /** Frames at which each event happens. */
  events: Record<SequenceEvent, number[]>;
  /** The moving things that came into view, by kind: how many, and their cruising speeds (km/h). */
  movers: Partial<Record<ActorKind, { count: number; kmh: [number, number] }>>;
  movingInView: number;
  movingInViewLarge: number;
  movingCoverage: number;
}

export interface SequenceStats {
  sequences: number;
  frames: number;
  /** Per frame, on average: moving things with any pixel in view, and those covering at least LARGE_SHARE. */
  movingInView: number;
  movingInViewLarge: number;
  /** Mean share of the picture labelled by moving things. */
  movingCoverage: number;
  /** Shares of the moving things' pixels by class. */
  classShares: Record<string, number>;
  /** Share of pixels whose label differs from the previous frame's, over frames without events; null if none. */
  labelChange: { mean: number; p5: number; p50: number; p95: number; max: number } | null;
  perSequence: SequenceSummary[];
}

/** Share of pixels whose labels differ. */
export function labelChangeShare(a: Uint8Array, b: Uint8Array): number {
  let changed = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) changed++;
  return changed / a.length;
}

export class SequenceStatsCollector {
  private readonly done: SequenceSummary[] = [];
  private current: SequenceSummary | undefined;
  private actors = new Map<number, ActorSummary>();
  private seen = new Set<number>();
  private previous: Uint8Array | undefined;
  private readonly changes: number[] = [];
  private readonly classPixels = new Array<number>(256).fill(0);
  private frames = 0;
  private inView = 0;
  private inViewLarge = 0;
  private coverage = 0;

  /** Frames added from now on belong to this clip. */
  startSequence(plan: SequencePlan): void {
    this.finishSequence();
    this.current = {
      seed: plan.seed, frames: 0, events: { cut: [], shake: [], exposure: [], 'camera-motion': [] }, movers: {},
      movingInView: 0, movingInViewLarge: 0, movingCoverage: 0,
    };
    this.actors = new Map(plan.actors.map((a) => [a.id, a]));
    this.seen = new Set();
    this.previous = undefined;
  }

  add(frame: SequenceFrame): void {
    const seq = this.current;
    if (!seq) throw new Error('startSequence before add');
    const area = frame.width * frame.height;
    const moving = frame.objects.filter((o) => o.moving);
    const ids = new Set(moving.map((o) => o.id));
    let pixels = 0;
    for (let i = 0; i < area; i++) {
      if (ids.has(frame.instances[i]!)) {
        pixels++;
        this.classPixels[frame.label[i]!]!++;
      }
    }
    const large = moving.filter((o) => o.pixels >= LARGE_SHARE * area).length;
    for (const e of frame.events) seq.events[e].push(frame.index);
    for (const o of moving) this.seen.add(o.id);
    if (this.previous && frame.events.length === 0) this.changes.push(labelChangeShare(this.previous, frame.label));
    this.previous = frame.label;
    seq.frames++;
    seq.movingInView += moving.length;
    seq.movingInViewLarge += large;
    seq.movingCoverage += pixels / area;
    this.frames++;
    this.inView += moving.length;
    this.inViewLarge += large;
    this.coverage += pixels / area;
  }

  result(): SequenceStats {
    this.finishSequence();
    const total = this.classPixels.reduce((a, b) => a + b, 0);
    const classShares: Record<string, number> = {};
    for (const cls of CITYSCAPES_CLASSES) {
      if (this.classPixels[cls.id]! > 0) classShares[cls.name] = this.classPixels[cls.id]! / total;
    }
    const sorted = [...this.changes].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.round(q * (sorted.length - 1))]!;
    return {
      sequences: this.done.length,
      frames: this.frames,
      movingInView: this.inView / this.frames,
      movingInViewLarge: this.inViewLarge / this.frames,
      movingCoverage: this.coverage / this.frames,
      classShares,
      labelChange: sorted.length === 0 ? null : {
        mean: sorted.reduce((a, b) => a + b, 0) / sorted.length, p5: at(0.05), p50: at(0.5), p95: at(0.95), max: at(1),
      },
      perSequence: [...this.done],
    };
  }

  private finishSequence(): void {
    const seq = this.current;
    if (!seq) return;
    for (const id of this.seen) {
      const a = this.actors.get(id)!;
      const m = seq.movers[a.kind];
      if (!m) seq.movers[a.kind] = { count: 1, kmh: [a.kmh, a.kmh] };
      else {
        m.count++;
        m.kmh = [Math.min(m.kmh[0], a.kmh), Math.max(m.kmh[1], a.kmh)];
      }
    }
    if (seq.frames > 0) {
      seq.movingInView /= seq.frames;
      seq.movingInViewLarge /= seq.frames;
      seq.movingCoverage /= seq.frames;
    }
    this.done.push(seq);
    this.current = undefined;
  }
}
