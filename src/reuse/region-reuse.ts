// Region reuse for one stream of a fixed camera: each frame is answered in one of three
// modes. 'reused': nothing changed, the reference labels answer at once. 'regions': the
// changed clusters run through the anytime engine as crops, exit by exit in lockstep, and
// each exit's map is the reference with the crops' centres pasted in. 'full': a keyframe,
// the whole frame through the engine (the first frame, every N frames, a global change such
// as a shake, cut or exposure jump, or when the crops would cost nearly a frame anyway).
// A frame that ends with a stop (not cancelled or superseded) becomes the new reference
// where it computed; the arrays handed out are never written to afterwards.

import { EXITS, type AnytimeEngine, type ExitResult, type RunOptions, type StageForm } from '../engine/anytime-engine.js';
import type { Budget, StopReason } from '../engine/budget.js';
import { CELL, blockGrid, cellLuma, changedBlocks, type BlockGrid } from './change-detector.js';
import { cutPlanes, pasteBox, scaleBox } from './crop-io.js';
import { boxArea, planRegions, type Box, type Region } from './region-planner.js';

export const REUSE_MODES = ['full', 'regions', 'reused'] as const;
export type ReuseMode = (typeof REUSE_MODES)[number];

export const KEYFRAME_REASONS = ['first', 'interval', 'global_change', 'coverage', 'size_change', 'options', 'no_crops'] as const;
export type KeyframeReason = (typeof KEYFRAME_REASONS)[number];

export interface ReuseSettings {
  /** Context in pixels (at the engine's input size) around each changed cluster. */
  readonly margin: number;
  /**
   * Pixels around a centre that stages 2-4 compute too (null: the whole crop). Beyond it the
   * margin is context for stage 1 only, and the later stages see it as ADP-C sees confident
   * pixels: features interpolated from the computed ones.
   */
  readonly focusMargin: number | null;
  /** A full frame at least every this many frames. */
  readonly keyframeInterval: number;
  /** Grey levels a cell's mean must move to count as changed. */
  readonly threshold: number;
  /** Changed cells a block needs to count as changed. */
  readonly minCells: number;
  /** Share of changed blocks above which the change is global (shake, cut, exposure). */
  readonly globalShare: number;
  /** Predicted crop cost (share of a full frame) above which a full frame runs instead. */
  readonly maxCost: number;
  /** A crop's cost per unit of its area against a full frame's. */
  readonly areaCost: number;
  /** Fixed cost of one crop as a share of a full frame. */
  readonly cropOverhead: number;
  readonly maxRegions: number;
}

/**
 * The shipped settings. Margin 16 (stages 2-4 within 16 px of the centre: the whole crop but
 * its grid padding): mIoU 0.2 below full frames on the fixed test clips at 0.65-0.68x their
 * compute, against 0.05 below at 0.74-0.77x with margin 32 and 0.6 below with margin 8
 * (README "Performance" has the sweep); 8 grey levels are 7 standard deviations of a cell's sensor noise at the
 * generator's strongest. areaCost and cropOverhead are what `npm run bench:stream` fits to its
 * regions frames (`cost_fit`: 1.19-1.29 and 0.06-0.07 in this machine's runs at margin 16):
 * with them a plan is taken only where its crops cost clearly less than the full frame that
 * would also refresh the whole reference.
 */
export const DEFAULT_REUSE: ReuseSettings = Object.freeze({
  margin: 16,
  focusMargin: 16,
  keyframeInterval: 50,
  threshold: 8,
  minCells: 1,
  globalShare: 0.4,
  maxCost: 0.85,
  areaCost: 1.2,
  cropOverhead: 0.07,
  maxRegions: 16,
});

/** What one frame's answers say about reuse. */
export interface ReuseReport {
  readonly mode: ReuseMode;
  /** Why a full frame ran; null in the other modes. */
  readonly keyframe: KeyframeReason | null;
  /** Where labels were recomputed, at the engine's input size (empty unless 'regions'). */
  readonly regions: readonly Box[];
  /** Share of the frame the network ran on (crops include their context). */
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

export type ReuseEngine = Pick<AnytimeEngine, 'manifest' | 'run'> & Partial<Pick<AnytimeEngine, 'regionsSupported'>>;

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
  | { readonly mode: 'regions'; readonly regions: readonly Region[]; readonly cropShare: number };

export class RegionReuse {
  private reference: Reference | null = null;
  private sinceKeyframe = 0;

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
    const decision = this.decide(engine, grid, cells, frame, options);
    if (decision.mode === 'reused') {
      yield this.reusedExit(engine, options);
      this.sinceKeyframe++;
      return 'unchanged';
    }
    if (decision.mode === 'full') return yield* this.runFull(engine, frame, cells, options, decision.reason);
    return yield* this.runRegions(engine, grid, frame, cells, options, decision.regions, decision.cropShare);
  }

  private decide(engine: ReuseEngine, grid: BlockGrid, cells: Float32Array, frame: ReuseFrame, options: RunOptions): Decision {
    const ref = this.reference;
    const s = this.settings;
    if (!ref) return { mode: 'full', reason: 'first' };
    if (ref.frameWidth !== frame.frameWidth || ref.frameHeight !== frame.frameHeight) return { mode: 'full', reason: 'size_change' };
    if (options.fullLabels && !ref.full) return { mode: 'full', reason: 'options' };
    if (this.sinceKeyframe + 1 >= s.keyframeInterval) return { mode: 'full', reason: 'interval' };
    const changed = changedBlocks(cells, ref.cells, grid, s);
    let count = 0;
    for (const c of changed) count += c;
    if (count === 0) return { mode: 'reused' };
    if (count > s.globalShare * changed.length) return { mode: 'full', reason: 'global_change' };
    // the crops cover at least the changed blocks
    if (s.areaCost * count > s.maxCost * changed.length) return { mode: 'full', reason: 'coverage' };
    if (!engine.regionsSupported?.()) return { mode: 'full', reason: 'no_crops' };
    const plan = planRegions(changed, grid, s);
    if (!plan) return { mode: 'full', reason: 'coverage' };
    return { mode: 'regions', regions: plan.regions, cropShare: plan.cropShare };
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

  private async *runFull(engine: ReuseEngine, frame: ReuseFrame, cells: Float32Array, options: RunOptions, reason: KeyframeReason): AsyncGenerator<ReuseExit, ReuseStop> {
    const report: ReuseReport = { mode: 'full', keyframe: reason, regions: [], recomputedShare: 1 };
    const exits = engine.run(frame.data, { ...options, withConfidence: true });
    let last: ExitResult | null = null;
    try {
      for (;;) {
        const step = await exits.next();
        if (step.done) return step.value;
        last = step.value;
        yield { ...withoutConfidence(last, options), reuse: report };
        if (last.stop !== null && last.stop !== 'cancelled') {
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
    }
  }

  private async *runRegions(engine: ReuseEngine, grid: BlockGrid, frame: ReuseFrame, cells: Float32Array, options: RunOptions,
    regions: readonly Region[], cropShare: number): AsyncGenerator<ReuseExit, ReuseStop> {
    const ref = this.reference!;
    const stride = engine.manifest.output.stride;
    const outWidth = grid.width / stride;
    const frameArea = grid.height * grid.width;
    const report: ReuseReport = { mode: 'regions', keyframe: null, regions: regions.map((r) => r.centre), recomputedShare: cropShare };
    const cropArea = regions.reduce((sum, r) => sum + boxArea(r.crop), 0);
    const focusMargin = this.settings.focusMargin;
    const runs = regions.map((r) => engine.run(cutPlanes(frame.data, 3, grid.height, grid.width, r.crop), {
      ...options,
      withConfidence: true,
      size: { height: r.crop.y1 - r.crop.y0, width: r.crop.x1 - r.crop.x0 },
      ...(focusMargin !== null ? { focus: focusOf(r, focusMargin, stride) } : {}),
      budget: shareBudget(options.budget, boxArea(r.crop) / cropArea),
    }));
    let cumulative = 0;
    try {
      for (;;) {
        const results: ExitResult[] = [];
        for (const run of runs) {
          const step = await run.next();
          if (step.done) return step.value;
          results.push(step.value);
        }
        const labels = ref.labels.slice();
        const confidence = ref.confidence.slice();
        const full = options.fullLabels ? ref.full!.slice() : null;
        let gflops = 0;
        let computed = 0;
        let computeMs = 0;
        regions.forEach((r, i) => {
          const x = results[i]!;
          const crop = scaleBox(r.crop, stride);
          pasteBox(labels, outWidth, x.labels, x.width, crop.x0, crop.y0, scaleBox(r.centre, stride));
          pasteBox(confidence, outWidth, x.confidence!, x.width, crop.x0, crop.y0, scaleBox(r.centre, stride));
          if (full && x.fullLabels) pasteBox(full, grid.width, x.fullLabels.labels, x.fullLabels.width, r.crop.x0, r.crop.y0, r.centre);
          gflops += x.gflops;
          computed += x.computedShare * boxArea(r.crop);
          computeMs += x.computeMs;
        });
        cumulative += gflops;
        const first = results[0]!;
        // the frame stops where its first crop does; a budget stop says more than final_exit
        const stop = results.find((x) => x.stop !== null && x.stop !== 'final_exit')?.stop ?? first.stop;
        yield {
          exit: first.exit,
          exits: first.exits,
          labels,
          width: outWidth,
          height: grid.height / stride,
          ...(options.withConfidence ? { confidence } : {}),
          ...(full ? { fullLabels: { labels: full, width: grid.width, height: grid.height } } : {}),
          gflops,
          cumulativeGflops: cumulative,
          computedShare: computed / frameArea,
          computeMs,
          form: first.form,
          stop,
          reuse: report,
        };
        if (stop !== null) {
          if (stop !== 'cancelled') this.commitRegions(grid, cells, regions, labels, confidence, full, first.exit);
          return stop;
        }
      }
    } finally {
      await Promise.all(runs.map((run) => run.return('cancelled')));
    }
  }

  /** The frame's map becomes the reference; its centres' cells become the reference image there. */
  private commitRegions(grid: BlockGrid, cells: Float32Array, regions: readonly Region[], labels: Uint8Array,
    confidence: Float32Array, full: Uint8Array | null, exit: number): void {
    const ref = this.reference!;
    const refCells = ref.cells.slice();
    const cellWidth = grid.width / CELL;
    for (const r of regions) pasteBox(refCells, cellWidth, cells, cellWidth, 0, 0, scaleBox(r.centre, CELL));
    this.reference = { ...ref, cells: refCells, labels, confidence, full, exit: Math.min(ref.exit, exit) };
    this.sinceKeyframe++;
  }
}

/** 1 at the crop's output positions within `margin` pixels of its centre. */
function focusOf(r: Region, margin: number, stride: number): Uint8Array {
  const w = (r.crop.x1 - r.crop.x0) / stride;
  const h = (r.crop.y1 - r.crop.y0) / stride;
  const focus = new Uint8Array(w * h);
  const x0 = Math.max(0, Math.floor((r.centre.x0 - margin - r.crop.x0) / stride));
  const x1 = Math.min(w, Math.ceil((r.centre.x1 + margin - r.crop.x0) / stride));
  const y0 = Math.max(0, Math.floor((r.centre.y0 - margin - r.crop.y0) / stride));
  const y1 = Math.min(h, Math.ceil((r.centre.y1 + margin - r.crop.y0) / stride));
  for (let y = y0; y < y1; y++) focus.fill(1, y * w + x0, y * w + x1);
  return focus;
}

function withoutConfidence(result: ExitResult, options: RunOptions): ExitResult {
  if (options.withConfidence) return result;
  const { confidence: _, ...rest } = result;
  return rest;
}

/** A crop's part of a frame's GFLOPs cap: its share of the crops' area. */
function shareBudget(budget: Budget | undefined, share: number): Budget | undefined {
  if (budget?.gflops === undefined) return budget;
  return { ...budget, gflops: budget.gflops * share };
}

