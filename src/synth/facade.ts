// Facade surfaces: a masonry material with a grid of windows, a ground floor of shops or
// doors, cornices and string courses, or a glass curtain wall. One shader per facade, in
// facade coordinates (u along the wall, v up, metres), so windows keep their perspective.

import { CLASS } from '../classes.js';
import { hsv, jitter, masonry, plaster, type Rgb } from './color.js';
import { hash2, valueNoise, visible } from './noise.js';
import type { Shader } from './raster.js';
import type { Rng } from './rng.js';
import { glassColor, makeMaterial, materialColor, type Material } from './textures.js';

export interface FacadeStyle {
  material: Material;
  trim: Rgb;
  frame: Rgb;
  glass: Rgb;
  kind: 'windows' | 'ribbon' | 'curtain';
  groundFloor: 'shops' | 'plain' | 'garage';
  groundHeight: number;
  floorHeight: number;
  bay: number;
  winW: number;
  winH: number;
  sill: number;
  cornice: number;
  courses: boolean;
  signColor: Rgb;
  seed: number;
}

export function makeFacadeStyle(rng: Rng): FacadeStyle {
  const r = rng.float();
  const kind = r < 0.08 ? 'curtain' : r < 0.2 ? 'ribbon' : 'windows';
  const base = rng.chance(0.5) ? plaster(rng) : masonry(rng);
  const material = makeMaterial(rng, base, ['plaster', 'plaster', 'brick', 'concrete', 'stone', 'panel']);
  const floorHeight = rng.range(2.8, 3.5);
  const bay = rng.range(2.1, 3.8);
  return {
    material,
    trim: jitter(rng, rng.pick<Rgb>([[225, 222, 215], [90, 88, 85], [160, 150, 135], [60, 55, 50]]), 0.1, 5),
    frame: rng.pick<Rgb>([[230, 230, 228], [60, 60, 62], [120, 90, 60], [180, 180, 175]]),
    glass: jitter(rng, rng.pick<Rgb>([[35, 42, 50], [55, 65, 75], [25, 30, 34], [60, 75, 80]]), 0.2, 5),
    kind,
    groundFloor: rng.pick(['shops', 'shops', 'plain', 'garage'] as const),
    groundHeight: rng.range(3.2, 4.6),
    floorHeight,
    bay,
    winW: bay * rng.range(0.3, 0.6),
    winH: floorHeight * rng.range(0.4, 0.62),
    sill: rng.range(0.7, 1.0),
    cornice: rng.range(0.25, 0.8),
    courses: rng.chance(0.4),
    signColor: hsv(rng.float(), rng.range(0.4, 0.9), rng.range(0.3, 0.9)),
    seed: rng.u32(),
  };
}

/** The shader of a facade of the given height; u0 aligns the window grid. */
export function facadeShader(f: FacadeStyle, height: number, u0: number, label: number = CLASS.building): Shader {
  const top = height - f.cornice;
  return (u, v, ppm, _i, out) => {
    const lu = u - u0;
    if (v > top) {
      // cornice: a band of trim under the roof line
      const k = 0.85 + valueNoise(lu * 2, v * 2, f.seed) * 0.2 - (v < top + 0.08 ? 0.25 * visible(0.08, ppm) : 0);
      out[0] = f.trim[0] * k; out[1] = f.trim[1] * k; out[2] = f.trim[2] * k;
      return label;
    }
    if (f.kind === 'curtain' && v > f.groundHeight * 0.3) {
      // glass curtain wall with a mullion grid
      const mu = (lu / 1.5) % 1;
      const mv = (v / f.floorHeight) % 1;
      const vis = visible(0.08, ppm);
      if ((mu < 0.05 || mv < 0.06) && vis > 0) {
        out[0] = f.frame[0]; out[1] = f.frame[1]; out[2] = f.frame[2];
        if (vis < 1) blendGlass(f, lu, v, 1 - vis, out);
        return label;
      }
      glassColor(f.glass, lu, v, 0.25 + v * 0.02, f.seed + Math.floor(lu / 1.5), out);
      return label;
    }
    if (v < f.groundHeight) {
      groundFloor(f, lu, v, ppm, out);
      return label;
    }
    const fv0 = v - f.groundHeight;
    const floor = Math.floor(fv0 / f.floorHeight);
    const fv = fv0 - floor * f.floorHeight;
    const bay = Math.floor(lu / f.bay);
    const fu = lu - bay * f.bay;
    const half = f.winW / 2;
    const inWinV = fv > f.sill && fv < f.sill + f.winH;
    const inWinU = f.kind === 'ribbon' ? fu > 0.15 : Math.abs(fu - f.bay / 2) < half;
    if (inWinV && inWinU && v < top - 0.3) {
      const fr = 0.07;
      const edgeU = f.kind === 'ribbon' ? Math.min(fu - 0.15, f.bay - fu) : half - Math.abs(fu - f.bay / 2);
      const edgeV = Math.min(fv - f.sill, f.sill + f.winH - fv);
      const vis = visible(fr, ppm);
      // frames and a mullion, then the pane
      if ((edgeU < fr || edgeV < fr || Math.abs(fu - f.bay / 2) < fr * 0.5) && vis > 0.3) {
        out[0] = f.frame[0]; out[1] = f.frame[1]; out[2] = f.frame[2];
        return label;
      }
      const h = hash2(bay, floor, f.seed);
      if (h < 0.2) {
        // curtains or blinds
        const blind = (fv * 12) % 1 < 0.5 ? 0.92 : 1;
        const c = h < 0.1 ? 215 : 170;
        out[0] = c * blind; out[1] = (c - 8) * blind; out[2] = (c - 20) * blind;
        return label;
      }
      glassColor(f.glass, lu, v, 0.1 + h * 0.45 + (fv - f.sill) / f.winH * 0.2, f.seed + bay * 7 + floor, out);
      return label;
    }
    materialColor(f.material, lu, v, ppm, out);
    // sills under windows and string courses between floors
    if (inWinU && f.kind === 'windows' && fv < f.sill && fv > f.sill - 0.1) shadeTrim(f, out, ppm);
    else if (f.courses && fv < 0.22) shadeTrim(f, out, ppm);
    return label;
  };
}

function shadeTrim(f: FacadeStyle, out: Float32Array, ppm: number): void {
  const t = visible(0.1, ppm) * 0.8;
  out[0] += (f.trim[0] - out[0]) * t;
  out[1] += (f.trim[1] - out[1]) * t;
  out[2] += (f.trim[2] - out[2]) * t;
}

function blendGlass(f: FacadeStyle, u: number, v: number, t: number, out: Float32Array): void {
  const r = out[0]!;
  const g = out[1]!;
  const b = out[2]!;
  glassColor(f.glass, u, v, 0.3, f.seed, out);
  out[0] = r + (out[0]! - r) * t;
  out[1] = g + (out[1]! - g) * t;
  out[2] = b + (out[2]! - b) * t;
}

function groundFloor(f: FacadeStyle, u: number, v: number, ppm: number, out: Float32Array): void {
  const unit = f.bay * 2;
  const shop = Math.floor(u / unit);
  const fu = u - shop * unit;
  const h = hash2(shop, 77, f.seed);
  if (f.groundFloor === 'shops') {
    const signTop = f.groundHeight - 0.15;
    const signBottom = f.groundHeight - 0.75;
    if (v > signBottom && v < signTop && h < 0.7) {
      // a shop sign band in its own colour, with lettering blocks
      const c = h < 0.35 ? f.signColor : hsv(h * 2.7 % 1, 0.6, 0.7);
      const letter = ((fu * 3.3) % 1 < 0.55 && Math.abs(v - (signTop + signBottom) / 2) < 0.18) ? 0.6 : 1;
      out[0] = c[0] * letter; out[1] = c[1] * letter; out[2] = c[2] * letter;
      return;
    }
    if (v > 0.45 && v < signBottom - 0.1 && fu > 0.25 && fu < unit - 0.25) {
      const fr = visible(0.06, ppm) > 0.3 && (fu < 0.33 || fu > unit - 0.33 || Math.abs(fu - unit * 0.55) < 0.05);
      if (fr) { out[0] = f.frame[0]; out[1] = f.frame[1]; out[2] = f.frame[2]; return; }
      // shop window: darker inside with a display glowing
      glassColor(f.glass, u, v, 0.15 + h * 0.3, f.seed + shop, out);
      if (v < 1.3 && h > 0.4) { out[0] += 40 * h; out[1] += 30 * h; out[2] += 20 * h; }
      return;
    }
  } else if (f.groundFloor === 'garage') {
    if (fu > 0.6 && fu < unit - 0.6 && v < Math.min(3, f.groundHeight - 0.5) && h < 0.6) {
      const rib = (v * 8) % 1 < 0.15 ? 0.85 : 1;
      const c = h < 0.3 ? 150 : 95;
      out[0] = c * rib; out[1] = c * rib; out[2] = (c + 5) * rib;
      return;
    }
  } else if (fu > unit * 0.4 && fu < unit * 0.4 + 1.1 && v < 2.3 && h < 0.5) {
    // a door
    const c = f.frame;
    out[0] = c[0] * 0.6; out[1] = c[1] * 0.5; out[2] = c[2] * 0.45;
    return;
  } else if (v > f.sill && v < f.sill + f.winH && Math.abs((u % f.bay) - f.bay / 2) < f.winW / 2) {
    glassColor(f.glass, u, v, 0.2, f.seed, out);
    return;
  }
  materialColor(f.material, u, v, ppm, out);
}
