// Per-exit mIoU, GFLOPs and computed share of a bundle on the synthetic split, through the
// engine: the same numbers a deployment gets (uint8 labels scaled to label size by nearest).

import type { AnytimeEngine } from '../engine/anytime-engine.js';
import { frameLabels, resizeLabels } from '../output/label-map.js';
import { Progress } from '../progress.js';
import type { Split } from '../synth/cityscapes-layout.js';
import { Confusion } from './segmentation-metrics.js';
import { syntheticSplit } from './synthetic-split.js';

export interface ExitScore {
  exit: number;
  /** Labels at the frame's size from bilinear logits: what size=frame answers return. */
  miou: number;
  /** The 1/4-resolution label map scaled up by nearest: what size=stride answers give a client that scales them. */
  miou_label_map: number;
  gflops: number;
  computed_share: number;
}

export interface RunScores {
  threshold: number;
  exits: ExitScore[];
}

export interface EvalOptions {
  split: Split;
  count: number;
  threshold: number;
  progress?: boolean;
}

async function scoreRun(engine: AnytimeEngine, opts: EvalOptions, threshold: number, label: string): Promise<RunScores> {
  const confusions = Array.from({ length: 4 }, () => new Confusion(engine.manifest.classes.length));
  const mapConfusions = Array.from({ length: 4 }, () => new Confusion(engine.manifest.classes.length));
  const gflops = [0, 0, 0, 0];
  const shares = [0, 0, 0, 0];
  const progress = opts.progress ? new Progress(label, opts.count) : null;
  for await (const scene of syntheticSplit(engine.manifest.input, opts.split, opts.count)) {
    for await (const r of engine.run(scene.input, { budget: { threshold }, fullLabels: true })) {
      confusions[r.exit - 1]!.add(scene.label, frameLabels(r, scene.width, scene.height).labels);
      mapConfusions[r.exit - 1]!.add(scene.label, resizeLabels(r, scene.width, scene.height).labels);
      gflops[r.exit - 1]! += r.cumulativeGflops;
      shares[r.exit - 1]! += r.computedShare;
    }
    progress?.tick();
  }
  return {
    threshold,
    exits: confusions.map((c, k) => ({
      exit: k + 1,
      miou: Math.round(c.meanIou() * 100) / 100,
      miou_label_map: Math.round(mapConfusions[k]!.meanIou() * 100) / 100,
      gflops: Math.round((gflops[k]! / opts.count) * 1e4) / 1e4,
      computed_share: Math.round((shares[k]! / opts.count) * 1e4) / 1e4,
    })),
  };
}

export interface EvalReport {
  bundle: string;
  images: number;
  split: Split;
  threshold: number;
  exits: ExitScore[];
  ca_off: { exits: ExitScore[] };
}

export async function evaluateSynthetic(engine: AnytimeEngine, opts: EvalOptions): Promise<EvalReport> {
  const ca = await scoreRun(engine, opts, opts.threshold, `eval CA ${opts.threshold}`);
  const off = await scoreRun(engine, opts, 1, 'eval CA off');
  return { bundle: engine.manifest.name, images: opts.count, split: opts.split, threshold: opts.threshold, exits: ca.exits, ca_off: { exits: off.exits } };
}
