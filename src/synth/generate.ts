// The public face of the scene generator: seed -> image + labels (clips: sequences.ts).

import { defaultCamera } from './camera.js';
import { develop, makeLook } from './develop.js';
import { makeLayout } from './layout.js';
import { Prng } from './prng.js';
import { render } from './render.js';

export interface SceneSize {
  readonly height: number;
  readonly width: number;
}

export interface SynthSample {
  readonly width: number;
  readonly height: number;
  /** RGB interleaved, length width * height * 3. */
  readonly image: Uint8Array;
  /** Cityscapes trainIds (255 = ignore), length width * height. */
  readonly label: Uint8Array;
}

export class SynthInputError extends Error {
  readonly code = 'SYNTH_INVALID_INPUT';
}

const MAX_SIDE = 4096;

export function checkSize(size: SceneSize): void {
  for (const [name, v] of [['height', size.height], ['width', size.width]] as const) {
    if (!Number.isInteger(v) || v < 16 || v > MAX_SIDE) {
      throw new SynthInputError(`${name} must be an integer from 16 to ${MAX_SIDE}, got ${v}`);
    }
  }
}

export function checkSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new SynthInputError(`seed must be an integer from 0 to 2^32-1, got ${seed}`);
  }
}

/** One street scene. Pure: the same seed and size give the same bytes. */
export function generateScene(seed: number, size: SceneSize): SynthSample {
  checkSeed(seed);
  checkSize(size);
  const { width, height } = size;
  const rng = new Prng(seed);
  const layout = makeLayout(rng.fork().float() * 4294967296 >>> 0);
  const camera = defaultCamera(width, height, rng.fork());
  const look = makeLook(rng.fork(), height);
  return { width, height, ...develop(render({ layout, camera, width, height }), look, rng.fork()) };
}
