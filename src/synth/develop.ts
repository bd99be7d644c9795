// The camera's look: exposure, colour cast, contrast, lens blur, vignetting and sensor noise
// turn the painted float canvas into RGB bytes; the labels are untouched.

import { IGNORE_LABEL } from '../classes.js';
import type { Canvas } from './canvas.js';
import type { Prng } from './prng.js';

export interface Look {
  light: number;
  cast: readonly [number, number, number];
  contrast: number;
  noise: number;
  blur: number;
  hood: number; // rows of ego-car bonnet at the bottom, labelled ignore
  vignette: number;
}

/** Image bytes and their labels. */
export interface Developed {
  /** RGB interleaved, length width * height * 3. */
  image: Uint8Array;
  /** Cityscapes trainIds (255 = ignore), length width * height. */
  label: Uint8Array;
}

export function makeLook(rng: Prng, height: number): Look {
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

/** The painted canvas as the camera records it; `noise` draws this frame's sensor noise. */
export function develop(canvas: Canvas, look: Look, noise: Prng): Developed {
  const image = expose(canvas, look, noise);
  const label = canvas.labels.slice();
  if (look.hood > 0) paintHood(image, label, canvas.width, canvas.height, look.hood);
  return { image, label };
}

function expose(canvas: Canvas, look: Look, rng: Prng): Uint8Array {
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
