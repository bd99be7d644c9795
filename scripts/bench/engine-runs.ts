// Side by side on the same frames: the plain model as a user would run it (onnxruntime-node
// on dense.onnx, nothing of ours in between) and the anytime engine, interleaved in blocks of
// a few frames so that the machine's noise hits every configuration alike.

import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { AnytimeEngine, ExitResult } from '../../src/engine/anytime-engine.js';
import { Confusion } from '../../src/eval/segmentation-metrics.js';
import type { SplitImage } from '../../src/eval/synthetic-split.js';
import { resizeLabels } from '../../src/output/label-map.js';
import { Progress } from '../../src/progress.js';
import { quantile, round } from './stats.js';

export interface BaselineReport {
  p50_ms: number;
  p95_ms: number;
  fps: number;
  miou: number;
  session: string;
}

export interface EngineReport {
  threshold: number;
  exit_p50_ms: number[];
  exit_p95_ms: number[];
  miou: number[];
  gflops: number[];
  computed_share: number[];
  forms: string[];
  full_p50_ms: number;
}

/** A configuration measured per frame: baseline or the engine at one threshold. */
interface Arm {
  readonly name: string;
  /** One frame; `record` false runs it untimed (a warm-up). */
  run(image: SplitImage, record: boolean): Promise<void>;
  /** Forgets what was measured (after a warm-up). */
  reset(): void;
}

class BaselineArm implements Arm {
  times: number[] = [];
  confusion: Confusion;
  private constructor(readonly name: string, private readonly session: ort.InferenceSession, private readonly dims: number[], private readonly out: { h: number; w: number }, private readonly classes: number) {
    this.confusion = new Confusion(classes);
  }

  reset(): void {
    this.times = [];
    this.confusion = new Confusion(this.classes);
  }

  /**
   * What a user would write: one session with onnxruntime's defaults and the same threads;
   * `spinning` false also stops its pool spinning between runs (onnxruntime spins by default).
   */
  static async create(engine: AnytimeEngine, threads: number, spinning: boolean): Promise<BaselineArm> {
    const m = engine.manifest;
    const session = await ort.InferenceSession.create(join(engine.dir, m.baseline.file), {
      intraOpNumThreads: threads,
      ...(spinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
    });
    return new BaselineArm(spinning ? 'baseline' : 'baseline_no_spin', session, [1, 3, m.input.height, m.input.width], { h: m.output.height, w: m.output.width }, m.classes.length);
  }

  async run(image: SplitImage, record: boolean): Promise<void> {
    const feeds = { image: new ort.Tensor('float32', image.input, this.dims) };
    const started = performance.now();
    const out = await this.session.run(feeds);
    if (!record) return;
    this.times.push(performance.now() - started);
    const map = { labels: out.labels!.data as Uint8Array, width: this.out.w, height: this.out.h };
    this.confusion.add(image.label, resizeLabels(map, image.width, image.height).labels);
  }

  report(): BaselineReport {
    const p50 = quantile(this.times, 0.5);
    return { p50_ms: round(p50), p95_ms: round(quantile(this.times, 0.95)), fps: round(1000 / p50, 1), miou: round(this.confusion.meanIou()), session: this.name === 'baseline' ? 'onnxruntime defaults, intraOpNumThreads = threads' : 'the same, allow_spinning 0' };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

class EngineArm implements Arm {
  exitTimes: number[][] = [];
  full: number[] = [];
  gflops: number[] = [];
  shares: number[] = [];
  forms: string[][] = [];
  confusions: Confusion[] = [];
  frames = 0;
  constructor(readonly name: string, private readonly engine: AnytimeEngine, readonly threshold: number) {
    this.reset();
  }

  reset(): void {
    this.exitTimes = [[], [], [], []];
    this.full = [];
    this.gflops = [0, 0, 0, 0];
    this.shares = [0, 0, 0, 0];
    this.forms = [[], [], [], []];
    this.confusions = Array.from({ length: 4 }, () => new Confusion(this.engine.manifest.classes.length));
    this.frames = 0;
  }

  async run(image: SplitImage, record: boolean): Promise<void> {
    const started = performance.now();
    const results: ExitResult[] = [];
    const at: number[] = [];
    for await (const r of this.engine.run(image.input, { budget: { threshold: this.threshold }, arrivedAt: started })) {
      at.push(performance.now() - started);
      results.push(r);
    }
    const full = performance.now() - started;
    if (!record) return;
    at.forEach((t, i) => this.exitTimes[results[i]!.exit - 1]!.push(t));
    this.full.push(full);
    this.frames++;
    for (const r of results) {
      this.gflops[r.exit - 1]! += r.cumulativeGflops;
      this.shares[r.exit - 1]! += r.computedShare;
      this.forms[r.exit - 1]!.push(r.form);
      this.confusions[r.exit - 1]!.add(image.label, resizeLabels(r, image.width, image.height).labels);
    }
  }

  report(): EngineReport {
    const mostCommon = (values: string[]) => [...values.reduce((m, v) => m.set(v, (m.get(v) ?? 0) + 1), new Map<string, number>())].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '-';
    return {
      threshold: this.threshold,
      exit_p50_ms: this.exitTimes.map((t) => round(quantile(t, 0.5))),
      exit_p95_ms: this.exitTimes.map((t) => round(quantile(t, 0.95))),
      miou: this.confusions.map((c) => round(c.meanIou())),
      gflops: this.gflops.map((g) => round(g / this.frames, 4)),
      computed_share: this.shares.map((s) => round(s / this.frames, 3)),
      forms: this.forms.map(mostCommon),
      full_p50_ms: round(quantile(this.full, 0.5)),
    };
  }
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

/**
 * Every image through every arm; `repeats` passes. The arms take turns in blocks of `block`
 * frames, each block after one untimed frame of its arm: frame by frame, each arm would run
 * with the caches the one before it left (onnxruntime's weights and maps evict the
 * engine's, and the other way round) and after its spinning threads, which a deployment that
 * runs one of them never sees; blocks of a few frames still share the machine's drift. The
 * order of the arms cycles through all permutations, so that each follows every other
 * equally often.
 */
async function interleave(arms: Arm[], images: SplitImage[], repeats: number, label: string, block: number): Promise<void> {
  const orders = permutations(arms);
  const progress = new Progress(label, images.length * repeats);
  let n = 0;
  for (let r = 0; r < repeats; r++) {
    for (let b = 0; b < images.length; b += block) {
      const frames = images.slice(b, b + block);
      for (const arm of orders[n++ % orders.length]!) {
        await arm.run(frames[0]!, false);
        for (const image of frames) await arm.run(image, true);
      }
      progress.tick(frames.length);
    }
  }
}

/** Frames per turn of each arm (see interleave). */
const BLOCK_FRAMES = 5;

export async function sideBySide(engine: AnytimeEngine, images: SplitImage[], threads: number, repeats: number) {
  const spinning = await BaselineArm.create(engine, threads, true);
  const still = await BaselineArm.create(engine, threads, false);
  const off = new EngineArm('ca_off', engine, 1);
  const on = new EngineArm('ca_on', engine, engine.manifest.threshold);
  const arms = [spinning, still, off, on];
  // a warm-up pass, not recorded, so that first-run costs do not land on one arm
  for (const arm of arms) {
    await arm.run(images[0]!, false);
    arm.reset();
  }
  await interleave(arms, images, repeats, 'bench side by side', BLOCK_FRAMES);
  await Promise.all([spinning.close(), still.close()]);
  // the plain model as its user would best configure it: the faster of the two sessions
  const baselines = [spinning.report(), still.report()];
  const baseline = baselines.reduce((a, b) => (b.p50_ms < a.p50_ms ? b : a));
  return { baseline, baselines, ca_off: off.report(), ca_on: on.report() };
}

export async function thresholdSweep(engine: AnytimeEngine, images: SplitImage[], thresholds: number[]) {
  const arms = thresholds.map((t) => new EngineArm(`t${t}`, engine, t));
  await interleave(arms, images, 1, 'bench threshold sweep', BLOCK_FRAMES);
  return arms.map((a) => {
    const r = a.report();
    return { threshold: a.threshold, miou: r.miou[3], gflops: r.gflops[3], full_p50_ms: r.full_p50_ms };
  });
}
