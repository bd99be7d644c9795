// Fences: bars, chain-link mesh, wooden boards and low guard rails. What is behind shows
// through the gaps and keeps its own label where a gap is wide enough to see (about two
// pixels); narrower gaps are fence, as an annotator would draw them. Mesh is fence all over.

import { CLASS } from '../classes.js';
import { jitter, masonry, type Rgb } from './color.js';
import { hash2, valueNoise, visible } from './noise.js';
import type { Shader } from './raster.js';
import type { Rng } from './rng.js';
import type { SceneObject } from './scene-object.js';
import { alongFace, acrossFace } from './street-geometry.js';
import { centreX, type Side, type Street } from './street.js';

export type FenceKind = 'bars' | 'mesh' | 'boards' | 'rail';

export interface FenceStyle {
  kind: FenceKind;
  color: Rgb;
  height: number;
  post: number;
  bar: number;
  gap: number;
  pointed: boolean;
  seed: number;
}

export function makeFenceStyle(rng: Rng, kind?: FenceKind): FenceStyle {
  const k = kind ?? rng.pick<FenceKind>(['bars', 'bars', 'mesh', 'mesh', 'boards', 'rail']);
  const metal = jitter(rng, rng.pick<Rgb>([[40, 42, 40], [50, 70, 55], [95, 98, 100], [150, 152, 150], [205, 205, 200], [30, 45, 70]]), 0.1, 5);
  const wood = rng.chance(0.5) ? jitter(rng, rng.pick<Rgb>([[125, 90, 60], [150, 120, 90], [110, 105, 95]]), 0.12, 6) : masonry(rng);
  return {
    kind: k,
    color: k === 'boards' ? wood : metal,
    height: k === 'rail' ? rng.range(0.85, 1.1) : k === 'boards' ? rng.range(1.0, 2.0) : rng.range(1.0, 2.3),
    post: rng.range(2, 3),
    bar: k === 'bars' ? rng.range(0.025, 0.05) : k === 'boards' ? rng.range(0.08, 0.16) : 0.05,
    gap: k === 'bars' ? rng.range(0.08, 0.16) : k === 'boards' ? rng.range(0.015, 0.08) : 0.06,
    pointed: rng.chance(0.35),
    seed: rng.u32(),
  };
}

/** The fence's face in (u along, v up from its base). */
export function fenceShader(f: FenceStyle): Shader {
  const H = f.height;
  return (u, v, ppm, _i, out) => {
    const c = f.color;
    const grain = 0.9 + valueNoise(u * 4, v * 4, f.seed) * 0.2;
    // posts: square, every few metres, a little taller than the infill
    const pu = ((u / f.post) % 1 + 1) % 1;
    const postW = (f.kind === 'boards' ? 0.1 : 0.06) / f.post;
    if (pu < Math.max(postW, 0.9 / (ppm * f.post))) {
      out[0] = c[0] * grain * 0.85; out[1] = c[1] * grain * 0.85; out[2] = c[2] * grain * 0.85;
      return CLASS.fence;
    }
    const rail = (lo: number, hi: number) => v > lo && v < Math.max(hi, lo + 0.9 / ppm);
    switch (f.kind) {
      case 'rail': {
        if (rail(H - 0.06, H) || rail(H * 0.5 - 0.03, H * 0.5 + 0.03)) break;
        return -1;
      }
      case 'mesh': {
        if (rail(H - 0.05, H)) break;
        // chain-link: label fence everywhere; the wire grid lets the background through
        const d1 = (((u + v) / f.gap) % 1 + 1) % 1;
        const d2 = (((u - v) / f.gap) % 1 + 1) % 1;
        const wire = visible(f.gap * 0.5, ppm);
        const onWire = d1 < 0.18 || d2 < 0.18;
        out[0] = c[0] * grain; out[1] = c[1] * grain; out[2] = c[2] * grain;
        out[3] = wire > 0.5 ? (onWire ? 0.9 : 0.12) : 0.45;
        return CLASS.fence;
      }
      case 'bars':
      case 'boards': {
        if (f.kind === 'bars' && (rail(H - 0.06, H) || rail(0.1, 0.16))) break;
        if (f.kind === 'boards' && (rail(H * 0.2, H * 0.2 + 0.08) || rail(H * 0.75, H * 0.75 + 0.08)) && hash2(1, 1, f.seed) < 0.5) break;
        const period = f.bar + f.gap;
        const fu = ((u / period) % 1 + 1) % 1;
        const inBar = fu < f.bar / period;
        const top = f.pointed ? H - Math.abs(fu * period / f.bar - 0.5) * f.bar * (f.kind === 'bars' ? 3 : 1) : H;
        if (v > top && inBar) return -1;
        if (inBar) {
          const k = f.kind === 'boards' ? 0.9 + hash2(Math.floor(u / period), 5, f.seed) * 0.2 : 1;
          out[0] = c[0] * grain * k; out[1] = c[1] * grain * k; out[2] = c[2] * grain * k;
          return CLASS.fence;
        }
        if (f.gap * ppm >= 2) return -1;
        // gaps under two pixels read as fence, a mix of the slats and what shows through
        out[0] = c[0] * grain * 0.8; out[1] = c[1] * grain * 0.8; out[2] = c[2] * grain * 0.8;
        out[3] = Math.min(1, f.bar / period + 0.25);
        return CLASS.fence;
      }
    }
    out[0] = c[0] * grain; out[1] = c[1] * grain; out[2] = c[2] * grain;
    return CLASS.fence;
  };
}

export function fence(rng: Rng, st: Street, sd: Side, s0: number, z0: number, z1: number, style = makeFenceStyle(rng)): SceneObject {
  const x = centreX(st, z0) + sd * s0;
  const base = st.curbHeight;
  return {
    late: true,
    anchor: () => ({ x, z: z0 }),
    draw({ painter: p }) {
      const sh = fenceShader(style);
      const shifted: Shader = (u, v, ppm, i, out) => sh(u, v - base, ppm, i, out);
      // a fence is a screen: drawn on both sides so it shows from any angle
      alongFace(p, st, sd, s0, z0, z1, base, base + style.height, shifted);
      alongFace(p, st, sd, s0, z0, z1, base, base + style.height, shifted, true);
      acrossFace(p, st, sd, s0 - 0.03, s0 + 0.03, z0, base, base + style.height, flatPost(style), -1);
    },
  };
}

function flatPost(f: FenceStyle): Shader {
  return (_u, _v, _ppm, _i, out) => {
    out[0] = f.color[0] * 0.8; out[1] = f.color[1] * 0.8; out[2] = f.color[2] * 0.8;
    return CLASS.fence;
  };
}
