// Surface materials as shaders over surface coordinates in metres. Buildings, walls and
// fences draw from the same masonry materials on purpose: what tells them apart is shape
// and context (windows, height, slats), not texture.

import { type Rgb } from './color.js';
import { fbm, hash2, valueNoise, visible } from './noise.js';
import type { Shader } from './raster.js';
import type { Rng } from './rng.js';

export type MaterialKind = 'plaster' | 'brick' | 'concrete' | 'stone' | 'panel' | 'boards';

export interface Material {
  kind: MaterialKind;
  base: Rgb;
  /** Second tone (mortar, joints, alternate bricks). */
  accent: Rgb;
  seed: number;
  /** Pattern size (brick length, panel width, board width) in metres. */
  size: number;
  dirt: number;
}

export function makeMaterial(rng: Rng, base: Rgb, kinds: readonly MaterialKind[]): Material {
  const kind = rng.pick(kinds);
  const accentK = kind === 'brick' ? rng.range(1.15, 1.5) : rng.range(0.7, 0.88);
  return {
    kind,
    base,
    accent: [Math.min(235, base[0] * accentK), Math.min(235, base[1] * accentK), Math.min(235, base[2] * accentK)],
    seed: rng.u32(),
    size: kind === 'brick' ? rng.range(0.22, 0.3) : kind === 'stone' ? rng.range(0.45, 0.9)
      : kind === 'panel' ? rng.range(1.2, 3) : kind === 'boards' ? rng.range(0.09, 0.18) : rng.range(1.5, 3.2),
    dirt: rng.range(0, 0.25),
  };
}

/** Albedo of a material at surface point (u along, v up) into out[0..2]. */
export function materialColor(m: Material, u: number, v: number, ppm: number, out: Float32Array): void {
  let r = m.base[0];
  let g = m.base[1];
  let b = m.base[2];
  let k = 1 + fbm(u, v, 1.6, ppm, m.seed) * 0.16 + fbm(u, v, 0.18, ppm, m.seed + 7) * 0.12;
  switch (m.kind) {
    case 'brick': {
      const bh = m.size * 0.32;
      const row = Math.floor(v / bh);
      const off = (row & 1) * 0.5;
      const col = Math.floor(u / m.size + off);
      const fu = u / m.size + off - col;
      const fv = v / bh - row;
      const vis = visible(bh * 0.5, ppm);
      const mortar = fu < 0.05 || fv < 0.14;
      const tone = hash2(col, row, m.seed) - 0.5;
      if (mortar) {
        const t = vis * 0.8;
        r += (m.accent[0] - r) * t; g += (m.accent[1] - g) * t; b += (m.accent[2] - b) * t;
      } else {
        k += tone * 0.28 * vis;
      }
      break;
    }
    case 'stone': {
      const bh = m.size * 0.55;
      const row = Math.floor(v / bh);
      const col = Math.floor(u / m.size + (row & 1) * 0.37);
      const fu = u / m.size + (row & 1) * 0.37 - col;
      const fv = v / bh - row;
      const vis = visible(bh * 0.2, ppm);
      if (fu < 0.03 || fv < 0.05) k -= 0.25 * vis;
      else k += (hash2(col, row, m.seed) - 0.5) * 0.22 * vis;
      break;
    }
    case 'concrete': {
      const fu = u / m.size - Math.floor(u / m.size);
      const fv = v / (m.size * 0.5) - Math.floor(v / (m.size * 0.5));
      const vis = visible(0.03, ppm);
      if (fu < 0.012 || fv < 0.02) k -= 0.2 * vis;
      // formwork tie holes
      const hu = (u / (m.size / 4)) % 1;
      const hv = (v / (m.size / 4)) % 1;
      if (Math.abs(hu - 0.5) < 0.025 && Math.abs(hv - 0.5) < 0.05) k -= 0.25 * visible(0.03, ppm);
      break;
    }
    case 'panel': {
      const ph = m.size * 0.6;
      const col = Math.floor(u / m.size);
      const row = Math.floor(v / ph);
      const fu = u / m.size - col;
      const fv = v / ph - row;
      const vis = visible(0.04, ppm);
      if (fu < 0.02 || fv < 0.03) {
        r += (m.accent[0] - r) * vis; g += (m.accent[1] - g) * vis; b += (m.accent[2] - b) * vis;
      } else {
        k += (hash2(col, row, m.seed) - 0.5) * 0.1;
      }
      break;
    }
    case 'boards': {
      const col = Math.floor(u / m.size);
      const fu = u / m.size - col;
      const vis = visible(m.size * 0.15, ppm);
      k += (hash2(col, 3, m.seed) - 0.5) * 0.25 * vis + (valueNoise(u * 2, v * 9, m.seed) - 0.5) * 0.12;
      if (fu < 0.1) k -= 0.35 * vis;
      break;
    }
    default:
      // plaster: streaks running down from sills and the roof line
      k += (valueNoise(u * 1.3, v * 0.12, m.seed + 3) - 0.5) * 0.14;
  }
  // splash dirt near the ground
  if (v < 0.8) k -= m.dirt * (0.8 - v) * 0.6;
  out[0] = r * k;
  out[1] = g * k;
  out[2] = b * k;
}

export function materialShader(m: Material, label: number): Shader {
  return (u, v, ppm, _i, out) => {
    materialColor(m, u, v, ppm, out);
    return label;
  };
}

/** A plain colour with fine grain; the workhorse for small parts. */
export function flat(c: Rgb, label: number, grain = 0.06, seed = 17): Shader {
  return (u, v, ppm, _i, out) => {
    const k = 1 + fbm(u, v, 0.25, ppm, seed) * grain * 2;
    out[0] = c[0] * k;
    out[1] = c[1] * k;
    out[2] = c[2] * k;
    return label;
  };
}

/** Painted metal or plastic with a vertical sheen: vehicles, poles, boxes. */
export function paint(c: Rgb, label: number, seed: number, sheen = 0.12): Shader {
  return (u, v, ppm, _i, out) => {
    const k = 1 + sheen * Math.sin(v * 2.1 + u * 0.3) + fbm(u, v, 0.6, ppm, seed) * 0.05;
    out[0] = c[0] * k;
    out[1] = c[1] * k;
    out[2] = c[2] * k;
    return label;
  };
}

/** Leaves: clumps of light and dark with holes of shadow, greener on top. */
export function leafColor(c: Rgb, u: number, v: number, ppm: number, seed: number, out: Float32Array): void {
  const clump = valueNoise(u * 2.2, v * 2.2, seed);
  const leaf = valueNoise(u * 9, v * 9, seed + 1);
  const fine = visible(0.12, ppm);
  let k = 0.55 + clump * 0.6 + (leaf - 0.5) * 0.7 * fine;
  if (clump < 0.3) k *= 0.6 + clump;
  const hue = valueNoise(u * 0.7, v * 0.7, seed + 2) - 0.5;
  out[0] = c[0] * k * (1 + hue * 0.25);
  out[1] = c[1] * k;
  out[2] = c[2] * k * (1 - hue * 0.2);
}

/** Grass, dirt and gravel ground: medium-scale patches, no leafy clumps. */
export function terrainColor(c: Rgb, u: number, v: number, ppm: number, seed: number, out: Float32Array): void {
  const patch = valueNoise(u * 0.35, v * 0.35, seed);
  const tuft = fbm(u, v, 0.3, ppm, seed + 5);
  const fine = fbm(u, v, 0.06, ppm, seed + 9);
  const k = 0.85 + (patch - 0.5) * 0.3 + tuft * 0.3 + fine * 0.25;
  // bare, browner patches
  const bare = patch > 0.72 ? (patch - 0.72) * 2.5 : 0;
  out[0] = (c[0] + bare * 30) * k;
  out[1] = (c[1] - bare * 10) * k;
  out[2] = (c[2] + bare * 10) * k;
}

/** Window glass: a dark interior under a sky reflection that brightens upward. */
export function glassColor(tint: Rgb, u: number, v: number, reflect: number, seed: number, out: Float32Array): void {
  const streak = valueNoise(u * 0.8 + v * 0.3, v * 0.2, seed) - 0.5;
  const r = Math.min(1, Math.max(0, reflect + streak * 0.5));
  out[0] = tint[0] * (1 - r) + 175 * r;
  out[1] = tint[1] * (1 - r) + 190 * r;
  out[2] = tint[2] * (1 - r) + 205 * r;
}
