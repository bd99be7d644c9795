// The fixed synthetic split as the engine sees it: each scene generated at the bundle's input
// size (as `npm run synth` writes it), normalised, with its ground-truth labels.

import type { InputSpec } from '../image/preprocess.js';
import { prepareFrame } from '../image/preprocess.js';
import { SPLIT_SEED_BASE, type Split } from '../synth/cityscapes-layout.js';
import { generateScene } from '../synth/generate.js';

export interface SplitImage {
  readonly seed: number;
  /** float32[1,3,H,W], normalised (a fresh buffer per image). */
  readonly input: Float32Array;
  /** Ground truth at the input size, Cityscapes trainIds (255 ignored). */
  readonly label: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** The seed of a split's i-th scene. */
export function splitSeed(split: Split, i: number): number {
  return SPLIT_SEED_BASE[split] + i;
}

export async function* syntheticSplit(spec: InputSpec, split: Split, count: number, first = 0): AsyncGenerator<SplitImage> {
  for (let i = first; i < first + count; i++) {
    const seed = splitSeed(split, i);
    const scene = generateScene(seed, { height: spec.height, width: spec.width });
    const frame = await prepareFrame({ kind: 'raw', bytes: scene.image, width: scene.width, height: scene.height, channels: 3 }, spec);
    yield { seed, input: frame.data, label: scene.label, width: scene.width, height: scene.height };
  }
}
