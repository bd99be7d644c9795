// Region reuse for one stream of a fixed camera: each frame is answered in one of three
// modes. 'reused': nothing changed, the reference labels answer at once. 'regions': the frame
// runs through the anytime engine on the stream's kept run, every stage computing only the
// changed blocks and a margin around them (stage 1 reads the last frames' features
// elsewhere), and each exit's map is the reference with the changed blocks and a smaller
// margin taken from the run. 'full': a keyframe, the whole frame through the engine (the first
// frame, every N frames, a global change such as a shake, cut or exposure jump, or a change
// too large to be worth it). A frame that ends with a stop (not cancelled or superseded)
// becomes the new reference where it replaced labels; the arrays handed out are never
// written to afterwards.

import { EXITS, type AnytimeEngine, type ExitResult, type KeptRun, type RunOptions, type StageForm } from '../engine/anytime-engine.js';
import type { StopReason } from '../engine/budget.js';
import { expandBlocks, pasteBlocks } from './block-maps.js';
import { CELL, blockGrid, cellLuma, changedBlocks, type BlockGrid } from './change-detector.js';
import { planRegions, type Box, type RegionPlan } from './region-planner.js';

export const REUSE_MODES = ['full', 'regions', 'reused'] as const;
export type ReuseMode = (typeof REUSE_MODES)[number];

export const KEYFRAME_REASONS = ['first', 'interval', 'global_change', 'coverage', 'size_change', 'options', 'no_native'] as const;
export type KeyframeReason = (typeof KEYFRAME_REASONS)[number];

export interface ReuseSettings {
  /**
   * Pixels around the changed blocks that every stage recomputes (whole 8-pixel blocks,
   * rounded up): context for the changed part, whose labels outside `labelMargin` are dropped.
   */
  readonly margin: number;
  /** Pixels around the changed blocks whose labels a frame replaces (whole blocks, rounded up). */
  readonly labelMargin: number;
  /** A full frame at least every this many frames. */
  readonly keyframeInterval: number;
  /** Grey levels a cell's mean must move to count as changed. */
  readonly threshold: number;
  /** Changed cells a block needs to count as changed. */
  readonly minCells: number;
  /** Share of changed blocks above which the change is global (shake, cut, exposure). */
  readonly globalShare: number;
  /** Share of the frame recomputed (changed blocks and margin) above which a full frame runs instead. */
  readonly maxShare: number;
}

/**
 * The shipped settings. Margins 24 and 16: on the fixed test clips 0.64-0.70x the compute of
 * full frames at 0.32 mIoU below them, against 0.61x and 0.83 below with 16 and 16, 0.74x and
 * 0.01 below with 32 and 16 (README "Performance", static cameras). 8 grey levels are 7
 * standard deviations of a cell's sensor noise at the generator's strongest. maxShare: a
 * regions frame costs about 0.3 of a full frame plus 1.1 times its share there (`npm run
 * bench:stream` fits both as `cost_fit`); past half the frame it saves little against a
 * keyframe, which also refreshes the whole reference.
 */
export const DEFAULT_REUSE: ReuseSettings = Object.freeze({
  margin: 24,
  labelMargin: 16,
  keyframeInterval: 50,
  threshold: 8,
  minCells: 1,
  globalShare: 0.4,
  maxShare: 0.5,
});

/** What one frame's answers say about reuse. */
export interface ReuseReport {
  readonly mode: ReuseMode;
  /** Why a full frame ran; null in the other modes. */
  readonly keyframe: KeyframeReason | null;
  /** Bounding boxes of the changed clusters, at the engine's input size (empty unless 'regions'). */
  readonly regions: readonly Box[];
  /** Share of the frame the network ran on (the changed blocks and their margin). */
  readonly recomputedShare: number;
}

export type ReuseStop = StopReason | 'unchanged';

export interface ReuseExit extends Omit<ExitResult, 'stop'> {
  readonly stop: ReuseStop | null;
  readonly reuse: ReuseReport;
}

export interface ReuseFrame {
  /** The engine's normalised input, float32[1,3,H,W]. */
  readonly data: Float32Array;
  /** The same image as interleaved RGB bytes. */
  readonly rgb: Uint8Array;
  readonly frameWidth: number;
  readonly frameHeight: number;
}

export type ReuseEngine = Pick<AnytimeEngine, 'manifest' | 'run'> & Partial<Pick<AnytimeEngine, 'regionsSupported' | 'keepRun'>>;

interface Reference {
  readonly cells: Float32Array;
  readonly labels: Uint8Array;
  readonly confidence: Float32Array;
  readonly full: Uint8Array | null;
  /** The lowest exit any part of the map came from. */
  readonly exit: number;
  readonly form: StageForm;
  readonly frameWidth: number;
  readonly frameHeight: number;
}

type Decision =
  | { readonly mode: 'full'; readonly reason: KeyframeReason }
  | { readonly mode: 'reused' }
  | { readonly mode: 'regions'; readonly plan: RegionPlan };

export class RegionReuse {
  private reference: Reference | null = null;
  private sinceKeyframe = 0;
  /** The engine's run this stream keeps: its features let a frame recompute blocks alone. */
  private kept: KeptRun | null = null;
  /**
   * Why the last keyframe ran, if it ended before its stop: the next frame runs whole again,
   * as the kept run's later stages lag behind its first everywhere (docs/NATIVE.md).
   */
  private unfinished: KeyframeReason | null = null;

  constructor(readonly settings: ReuseSettings = DEFAULT_REUSE) {}

  /** Forgets the reference: the next frame is a keyframe. */
  reset(): void {
    this.reference = null;
  }

  /** Exit results of one frame, like AnytimeEngine.run, each with its reuse report. */
  async *run(engine: ReuseEngine, frame: ReuseFrame, options: RunOptions = {}): AsyncGenerator<ReuseExit, ReuseStop> {
    const { height, width } = engine.manifest.input;
    const grid = blockGrid(height, width);
    const cells = cellLuma(frame.rgb, grid);
    const decision = this.decide(grid, cells, frame, options);
    if (decision.mode === 'reused') {
      yield this.reusedExit(engine, options);
      this.sinceKeyframe++;
      return 'unchanged';
    }
    if (decision.mode === 'full') return yield* this.runFull(engine, grid, frame, cells, options, decision.reason);
    return yield* this.runRegions(engine, grid, frame, cells, options, decision.plan);
  }

  private decide(grid: BlockGrid, cells: Float32Array, frame: ReuseFrame, options: RunOptions): Decision {
    const ref = this.reference;
    const s = this.settings;
    if (!ref) return { mode: 'full', reason: 'first' };
    if (this.unfinished) return { mode: 'full', reason: this.unfinished };
    if (ref.frameWidth !== frame.frameWidth || ref.frameHeight !== frame.frameHeight) return { mode: 'full', reason: 'size_change' };
    if (options.fullLabels && !ref.full) return { mode: 'full', reason: 'options' };
    if (this.sinceKeyframe + 1 >= s.keyframeInterval) return { mode: 'full', reason: 'interval' };
    const changed = changedBlocks(cells, ref.cells, grid, s);
    let count = 0;
    for (const c of changed) count += c;
    if (count === 0) return { mode: 'reused' };
    if (count > s.globalShare * changed.length) return { mode: 'full', reason: 'global_change' };
    // the kept run holds no whole frame's features only after a failure in its stage 1
    if (!this.kept?.primed) return { mode: 'full', reason: this.kept ? 'first' : 'no_native' };
    const plan = planRegions(changed, grid, s);
    if (!plan) return { mode: 'full', reason: 'coverage' };
    return { mode: 'regions', plan };
  }

  private reusedExit(engine: ReuseEngine, options: RunOptions): ReuseExit {
    const ref = this.reference!;
    const stride = engine.manifest.output.stride;
    const { height, width } = engine.manifest.input;
    return {
      exit: ref.exit,
      exits: EXITS,
      labels: ref.labels,
      width: width / stride,
      height: height / stride,
      ...(options.withConfidence ? { confidence: ref.confidence } : {}),
      ...(options.fullLabels && ref.full ? { fullLabels: { labels: ref.full, width, height } } : {}),
      gflops: 0,
      cumulativeGflops: 0,
      computedShare: 0,
      computeMs: 0,
      form: ref.form,
      stop: 'unchanged',
      reuse: { mode: 'reused', keyframe: null, regions: [], recomputedShare: 0 },
    };
  }

  private async *runFull(engine: ReuseEngine, grid: BlockGrid, frame: ReuseFrame, cells: Float32Array, options: RunOptions,
    reason: KeyframeReason): AsyncGenerator<ReuseExit, ReuseStop> {
    const report: ReuseReport = { mode: 'full', keyframe: reason, regions: [], recomputedShare: 1 };
    // a keyframe on the kept run gives the next frames its features to continue
    if (!this.kept && engine.regionsSupported?.() && engine.keepRun) this.kept = engine.keepRun();
    const exits = engine.run(frame.data, { ...options, withConfidence: true, ...(this.kept ? { kept: this.kept } : {}) });
    let stopped = false;
    try {
      for (;;) {
        const step = await exits.next();
        if (step.done) return step.value;
        const last = step.value;
        yield { ...withoutConfidence(last, options), reuse: report };
        if (last.stop !== null && last.stop !== 'cancelled') {
          stopped = true;
          this.reference = {
            cells,
            labels: last.labels.slice(),
            confidence: last.confidence!.slice(),
            full: last.fullLabels ? last.fullLabels.labels.slice() : null,
            exit: last.exit,
            form: last.form,
            frameWidth: frame.frameWidth,
            frameHeight: frame.frameHeight,
          };
          this.sinceKeyframe = 0;
        }
      }
    } finally {
      await exits.return('cancelled');
      this.unfinished = stopped ? null : reason;
      if (!stopped) this.unsettled(grid, cells);
    }
  }

  private async *runRegions(engine: ReuseEngine, grid: BlockGrid, frame: ReuseFrame, cells: Float32Array, options: RunOptions,
    plan: RegionPlan): AsyncGenerator<ReuseExit, ReuseStop> {
    const ref = this.reference!;
    const stride = engine.manifest.output.stride;
    const report: ReuseReport = { mode: 'regions', keyframe: null, regions: plan.regions, recomputedShare: plan.share };
    const focus = expandBlocks(plan.focus, grid, stride);
    const exits = engine.run(frame.data, { ...options, withConfidence: true, focus, kept: this.kept! });
    let stopped = false;
    try {
      for (;;) {
        const step = await exits.next();
        if (step.done) return step.value;
        const run = step.value;
        const settles = run.stop !== null && run.stop !== 'cancelled';
        // outside the replaced blocks the map is the reference: the margin beyond them was context;
        // the confidence only where it is handed out or becomes the reference's
        const { confidence: _, ...labelled } = run;
        const x: ExitResult = {
          ...labelled,
          labels: pasteBlocks(ref.labels, run.labels, plan.replaced, grid, stride),
          ...(options.withConfidence || settles ? { confidence: pasteBlocks(ref.confidence, run.confidence!, plan.replaced, grid, stride) } : {}),
          ...(run.fullLabels && ref.full ? { fullLabels: { ...run.fullLabels, labels: pasteBlocks(ref.full, run.fullLabels.labels, plan.replaced, grid, 1) } } : {}),
        };
        yield { ...withoutConfidence(x, options), reuse: report };
        if (settles) {
          stopped = true;
          // the replaced blocks' labels are this frame's now, and so is the image they are compared with
          this.reference = {
            ...ref,
            cells: pasteBlocks(ref.cells, cells, plan.replaced, grid, CELL),
            labels: x.labels,
            confidence: x.confidence!,
            full: x.fullLabels?.labels ?? null,
            exit: Math.min(ref.exit, x.exit),
          };
          this.sinceKeyframe++;
        }
        if (x.stop !== null) return x.stop;
      }
    } finally {
      await exits.return('cancelled');
      if (!stopped) this.unsettled(grid, cells);
    }
  }

  /**
   * A frame ended without a stop: the kept run's features may have moved on to it where it
   * differed from the reference, so those blocks count as changed until a frame replaces them.
   */
  private unsettled(grid: BlockGrid, cells: Float32Array): void {
    const ref = this.reference;
    if (!ref) return;
    const moved = changedBlocks(cells, ref.cells, grid, this.settings);
    this.reference = { ...ref, cells: pasteBlocks(ref.cells, new Float32Array(ref.cells.length).fill(Infinity), moved, grid, CELL) };
  }
}

function withoutConfidence(result: ExitResult, options: RunOptions): ExitResult {
  if (options.withConfidence) return result;
  const { confidence: _, ...rest } = result;
  return rest;
}
