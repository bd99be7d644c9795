// What a bundle's weights were trained on and how they scored, from its manifest alone
// (`source` and `evaluation`, docs/BUNDLE.md), for /v1/models, the stream's hello and
// `adpc info`. A card says what the bundle shows and nothing more: where the manifest is silent,
// so is the card (null), and the limitations say what follows for a user.

import type { BundleManifest } from './bundle/manifest.js';

export interface CardRun {
  /** The CA threshold; null for CA off. */
  readonly threshold: number | null;
  /** Per exit, from logits upsampled bilinearly before the argmax (the paper's protocol). */
  readonly miou: readonly number[];
  /** Per exit, from the 1/4-resolution label map scaled by nearest neighbour. */
  readonly miou_label_map: readonly number[];
  readonly cumulative_gflops: readonly number[];
  readonly computed_share: readonly number[];
}

export interface ModelCard {
  /** Where the weights came from: this project's trainer, the ADP-C authors, or random (tests, timing). */
  readonly weights: 'checkpoint' | 'official' | 'random';
  /** The training data in words. */
  readonly trained_on: string;
  /** The data folder of the last training phase (project checkpoints), as its config records it. */
  readonly training_data: string | null;
  /** True when the weights saw the procedural street scenes only; null when the manifest does not say. */
  readonly synthetic_only: boolean | null;
  readonly limitations: readonly string[];
  /** What models/adpc/evaluate.py measured before the export (mIoU in %), or null. */
  readonly evaluation: {
    readonly split: string;
    readonly images: number;
    readonly height: number;
    readonly width: number;
    readonly runs: readonly CardRun[];
  } | null;
}

/**
 * The folders `npm run synth` writes by convention (data/synth, data/synth-gpu, ...):
 * the project's trainer has no other source of scenes here, since nothing can be downloaded.
 */
const SYNTHETIC_FOLDER = /(^|[\\/])synth[^\\/]*[\\/]?$/;

const SYNTHETIC_LIMITS = [
  'trained on procedural street scenes only (src/synth): it has never seen a real photo',
  'on real photos it mislabels most foreground objects (people, riders, vehicles); its mIoU says nothing about real streets',
];

export function modelCard(manifest: BundleManifest): ModelCard {
  const { source, evaluation } = manifest;
  const data = typeof source.config?.data === 'string' ? source.config.data : null;
  let trainedOn: string;
  let synthetic: boolean | null;
  let limitations: string[];
  switch (source.kind) {
    case 'official':
      trainedOn = 'Cityscapes (fine annotations), by the ADP-C authors (liuzhuang13/anytime)';
      synthetic = false;
      limitations = ['Cityscapes covers daytime street scenes from German cities; other cameras, weather and countries score lower'];
      break;
    case 'random':
      trainedOn = 'nothing: random weights, for tests and timing';
      synthetic = null;
      limitations = ['its labels mean nothing'];
      break;
    default:
      synthetic = data !== null && SYNTHETIC_FOLDER.test(data) ? true : null;
      trainedOn = synthetic
        ? `synthetic street scenes (src/synth, the 19 Cityscapes classes), data folder ${data}`
        : `this project's trainer on ${data ?? 'data the manifest does not name'}`;
      limitations = synthetic ? SYNTHETIC_LIMITS : ['the manifest does not say whether the training data were real photos'];
  }
  if (!evaluation) limitations = [...limitations, 'the bundle carries no evaluation'];
  const run = (r: NonNullable<BundleManifest['evaluation']>['ca_off']): CardRun => ({
    threshold: r.threshold,
    miou: r.exits.map((e) => e.miou),
    miou_label_map: r.exits.map((e) => e.miou_label_map),
    cumulative_gflops: r.exits.map((e) => e.gflops),
    computed_share: r.exits.map((e) => e.computed_share),
  });
  return {
    weights: source.kind,
    trained_on: trainedOn,
    training_data: data,
    synthetic_only: synthetic,
    limitations,
    evaluation: evaluation ? {
      split: synthetic ? `${evaluation.split} (synthetic)` : evaluation.split,
      images: evaluation.images,
      height: evaluation.height,
      width: evaluation.width,
      runs: [run(evaluation.ca_off), ...evaluation.ca.map(run)],
    } : null,
  };
}
