// Colours and surface shading shared by everything painted: screen-space noise textures,
// flat shaders with grain, and the paint and masonry tones things draw from.

import { noiseField, type Shader } from './canvas.js';
import { Prng } from './prng.js';

export type Rgb = readonly [number, number, number];

/** Value noise at three scales over the whole image, shared by every surface of a scene. */
export interface Textures {
  fine: Float32Array;
  medium: Float32Array;
  coarse: Float32Array;
  width: number;
}

export function makeTextures(seed: number, width: number, height: number): Textures {
  const rng = new Prng(seed ^ 0x5bd1e995);
  const scale = Math.max(1, width / 512);
  return {
    fine: noiseField(width, height, 2 * scale, rng),
    medium: noiseField(width, height, 9 * scale, rng),
    coarse: noiseField(width, height, 40 * scale, rng),
    width,
  };
}

export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/** One colour with grey grain from a noise texture. */
export function solid(color: Rgb, tex: Textures, grain = 18, field: keyof Omit<Textures, 'width'> = 'fine'): Shader {
  const noise = tex[field];
  return (x, y, rgb) => {
    const n = (noise[y * tex.width + x]! - 0.5) * grain;
    rgb[0] = color[0] + n;
    rgb[1] = color[1] + n;
    rgb[2] = color[2] + n;
  };
}

/** Road surface: fine grain and coarse patches. */
export function tarmac(tone: number, tex: Textures): Shader {
  return (x, y, rgb) => {
    const n = (tex.fine[y * tex.width + x]! - 0.5) * 22 + (tex.coarse[y * tex.width + x]! - 0.5) * 18;
    rgb[0] = tone + n;
    rgb[1] = tone + n;
    rgb[2] = tone + 4 + n;
  };
}

/** Vehicle paint and clothing. */
export function randomPaint(rng: Prng): Rgb {
  const palette: Rgb[] = [
    [200, 200, 205], [30, 30, 35], [150, 20, 25], [25, 50, 120], [90, 95, 100],
    [230, 230, 225], [60, 90, 60], [180, 140, 40], [120, 60, 30], [70, 70, 140], [15, 80, 110],
  ];
  const base = rng.pick(palette);
  const j = rng.range(-20, 20);
  return [base[0] + j, base[1] + j, base[2] + j];
}

/** Concrete, brick and plaster tones shared by buildings, walls and fences on purpose. */
export function masonry(rng: Prng): Rgb {
  const tones: Rgb[] = [
    [150, 140, 128], [120, 115, 110], [170, 160, 145], [140, 90, 70], [110, 100, 95],
    [185, 175, 160], [95, 90, 92], [160, 120, 95], [130, 130, 135],
  ];
  const t = rng.pick(tones);
  const j = rng.range(-15, 15);
  return [t[0] + j, t[1] + j, t[2] + j];
}
