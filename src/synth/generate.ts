// The public face of the scene generator: seed -> image + labels, and short clips.

import { defaultCamera, type Camera } from './camera.js';
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

function checkSize(size: SceneSize): void {
  for (const [name, v] of [['height', size.height], ['width', size.width]] as const) {
    if (!Number.isInteger(v) || v < 16 || v > MAX_SIDE) {
      throw new SynthInputError(`${name} must be an integer from 16 to ${MAX_SIDE}, got ${v}`);
    }
  }
}

function checkSeed(seed: number): void {
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

/** A short clip: the camera drives forward and drifts sideways through one street. */
export function generateSequence(seed: number, length: number, size: SceneSize): SynthSample[] {
  checkSeed(seed);
  checkSize(size);
  if (!Number.isInteger(length) || length < 1 || length > 1000) {
    throw new SynthInputError(`length must be an integer from 1 to 1000, got ${length}`);
  }
  const { width, height } = size;
  const rng = new Prng(seed);
  const layout = makeLayout(rng.fork().float() * 4294967296 >>> 0);
  const start = defaultCamera(width, height, rng.fork());
  const look = makeLook(rng.fork(), height);
  const speed = rng.range(0.4, 1.2); // metres per frame
  const drift = rng.range(-0.03, 0.03);
  const frames: SynthSample[] = [];
  for (let f = 0; f < length; f++) {
    const camera: Camera = { ...start, z: start.z + f * speed, x: start.x + f * drift };
    // sensor noise differs per frame; the scene and the light do not
    frames.push({ width, height, ...develop(render({ layout, camera, width, height }), look, new Prng((seed * 31 + f) >>> 0)) });
  }
  return frames;
}
