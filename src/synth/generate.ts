// The public face of the scene generator: seed -> image + labels, and short clips.

import { IGNORE_LABEL } from '../classes.js';
import type { Canvas } from './canvas.js';
import { Prng } from './prng.js';
import { defaultCamera, makeLayout, render, type Camera } from './street-scene.js';

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

interface Look {
  light: number;
  cast: readonly [number, number, number];
  contrast: number;
  noise: number;
  blur: number;
  hood: number; // rows of ego-car bonnet at the bottom, labelled ignore
  vignette: number;
}

function makeLook(rng: Prng, height: number): Look {
  return {
    light: rng.range(0.65, 1.2),
    cast: [rng.range(0.88, 1.12), rng.range(0.95, 1.05), rng.range(0.85, 1.15)],
    contrast: rng.range(0.8, 1.15),
    noise: rng.range(2, 9),
    blur: rng.chance(0.7) ? 1 : 0,
    hood: rng.chance(0.25) ? Math.round(height * rng.range(0.04, 0.09)) : 0,
    vignette: rng.range(0, 0.35),
  };
}

/** Camera exposure, colour cast, lens blur, vignetting and sensor noise; labels untouched. */
function develop(canvas: Canvas, look: Look, rng: Prng): Uint8Array {
  const { width, height, rgb } = canvas;
  let src = rgb;
  if (look.blur > 0) {
    // a 3x3 binomial blur: edges stop being a give-away of the class boundary
    const tmp = new Float32Array(src.length);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const l = Math.max(x - 1, 0);
        const r = Math.min(x + 1, width - 1);
        for (let ch = 0; ch < 3; ch++) {
          tmp[(y * width + x) * 3 + ch] = (src[(y * width + l) * 3 + ch]! + 2 * src[(y * width + x) * 3 + ch]! + src[(y * width + r) * 3 + ch]!) / 4;
        }
      }
    }
    const out = new Float32Array(src.length);
    for (let y = 0; y < height; y++) {
      const u = Math.max(y - 1, 0);
      const d = Math.min(y + 1, height - 1);
      for (let x = 0; x < width; x++) {
        for (let ch = 0; ch < 3; ch++) {
          out[(y * width + x) * 3 + ch] = (tmp[(u * width + x) * 3 + ch]! + 2 * tmp[(y * width + x) * 3 + ch]! + tmp[(d * width + x) * 3 + ch]!) / 4;
        }
      }
    }
    src = out;
  }
  const image = new Uint8Array(width * height * 3);
  const cx = width / 2;
  const cy = height / 2;
  const norm = 1 / (cx * cx + cy * cy);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const v = 1 - look.vignette * ((x - cx) ** 2 + (y - cy) ** 2) * norm;
      for (let ch = 0; ch < 3; ch++) {
        const lit = ((src[i + ch]! - 128) * look.contrast + 128) * look.light * look.cast[ch]! * v;
        const noisy = lit + (rng.float() - 0.5) * 2 * look.noise;
        image[i + ch] = noisy < 0 ? 0 : noisy > 255 ? 255 : Math.round(noisy);
      }
    }
  }
  return image;
}

function paintHood(image: Uint8Array, label: Uint8Array, width: number, height: number, rows: number): void {
  for (let y = height - rows; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      label[i] = IGNORE_LABEL;
      const shade = 25 + ((y - (height - rows)) / rows) * 20;
      image[i * 3] = shade;
      image[i * 3 + 1] = shade;
      image[i * 3 + 2] = shade + 4;
    }
  }
}

function finish(canvas: Canvas, look: Look, rng: Prng): SynthSample {
  const image = develop(canvas, look, rng);
  const label = canvas.labels.slice();
  if (look.hood > 0) paintHood(image, label, canvas.width, canvas.height, look.hood);
  return { width: canvas.width, height: canvas.height, image, label };
}

/** One street scene. Pure: the same seed and size give the same bytes. */
export function generateScene(seed: number, size: SceneSize): SynthSample {
  checkSeed(seed);
  checkSize(size);
  const rng = new Prng(seed);
  const layout = makeLayout(rng.fork().float() * 4294967296 >>> 0);
  const camera = defaultCamera(size.width, size.height, rng.fork());
  const look = makeLook(rng.fork(), size.height);
  return finish(render(layout, camera, size.width, size.height), look, rng.fork());
}

/** A short clip: the camera drives forward and drifts sideways through one street. */
export function generateSequence(seed: number, length: number, size: SceneSize): SynthSample[] {
  checkSeed(seed);
  checkSize(size);
  if (!Number.isInteger(length) || length < 1 || length > 1000) {
    throw new SynthInputError(`length must be an integer from 1 to 1000, got ${length}`);
  }
  const rng = new Prng(seed);
  const layout = makeLayout(rng.fork().float() * 4294967296 >>> 0);
  const start = defaultCamera(size.width, size.height, rng.fork());
  const look = makeLook(rng.fork(), size.height);
  const speed = rng.range(0.4, 1.2); // metres per frame
  const drift = rng.range(-0.03, 0.03);
  const frames: SynthSample[] = [];
  for (let f = 0; f < length; f++) {
    const camera: Camera = { ...start, z: start.z + f * speed, x: start.x + f * drift };
    // sensor noise differs per frame; the scene and the light do not
    frames.push(finish(render(layout, camera, size.width, size.height), look, new Prng((seed * 31 + f) >>> 0)));
  }
  return frames;
}
