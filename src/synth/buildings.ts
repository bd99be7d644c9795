// Buildings along the street, the block that closes its end and the skyline beyond low
// frontages; walls share the facades' masonry, told apart by their height, coping and lack
// of windows.

import { CLASS } from '../classes.js';
import { hsv, jitter, type Rgb } from './color.js';
import { frame } from './draw3d.js';
import { facadeShader, makeFacadeStyle, type FacadeStyle } from './facade.js';
import { valueNoise, visible } from './noise.js';
import type { Shader } from './raster.js';
import type { Rng } from './rng.js';
import type { DrawContext, SceneObject } from './scene-object.js';
import { blockCaster, streetBlock, streetVertex } from './street-geometry.js';
import { centreX, headingAt, type Side, type Street } from './street.js';
import { makeMaterial, materialColor, type Material } from './textures.js';
import { masonry } from './color.js';

const BLOCK_DEPTH = 18;

export function building(rng: Rng, st: Street, sd: Side, s0: number, z0: number, z1: number, height: number): SceneObject {
  const style = makeFacadeStyle(rng);
  const roof = rng.chance(0.3) ? { rise: rng.range(2, 5), run: rng.range(3, 7), color: jitter(rng, rng.pick<Rgb>([[120, 60, 45], [70, 70, 75], [95, 80, 70]]), 0.1, 5) } : null;
  const x = centreX(st, z0) + sd * s0;
  return {
    late: false,
    anchor: () => ({ x, z: z0 }),
    draw({ painter: p }) {
      const front = facadeShader(style, height, z0);
      const ends = facadeShader(style, height, s0);
      streetBlock(p, st, sd, s0, s0 + BLOCK_DEPTH, z0, z1, 0, height, front, ends, null);
      if (roof) drawRoof(p, st, sd, s0, z0, z1, height, roof);
    },
    casters: () => [blockCaster(st, sd, s0, s0 + BLOCK_DEPTH, z0, z1, 0, height + (roof ? roof.rise * 0.6 : 0))],
  };
}

function drawRoof(p: DrawContext['painter'], st: Street, sd: Side, s0: number, z0: number, z1: number, h: number,
  roof: { rise: number; run: number; color: Rgb }): void {
  // a pitched roof rising away from the street, seen from below its eaves
  const shader: Shader = (u, v, ppm, _i, out) => {
    const tile = visible(0.15, ppm) * ((v * 3.5) % 1 < 0.2 ? 0.2 : 0) + (valueNoise(u * 0.5, v * 0.5, 9) - 0.5) * 0.2;
    out[0] = roof.color[0] * (1 - tile); out[1] = roof.color[1] * (1 - tile); out[2] = roof.color[2] * (1 - tile);
    return CLASS.building;
  };
  const a = streetVertex(st, sd * s0, h, z0, z0, 0);
  const b = streetVertex(st, sd * s0, h, z1, z1, 0);
  const c = streetVertex(st, sd * (s0 + roof.run), h + roof.rise, z1, z1, Math.hypot(roof.run, roof.rise));
  const d = streetVertex(st, sd * (s0 + roof.run), h + roof.rise, z0, z0, Math.hypot(roof.run, roof.rise));
  const len = Math.hypot(roof.run, roof.rise);
  p.face([[a, b, c, d]], (-sd * roof.rise) / len, roof.run / len, 0, shader);
}

/** Buildings standing across the end of the street, facing the camera. */
export function endBlock(rng: Rng, st: Street, endZ: number): SceneObject {
  const heading = headingAt(st, endZ);
  const f = frame(centreX(st, endZ), 0, endZ, heading);
  const parts: { b0: number; b1: number; h: number; style: FacadeStyle; back: number }[] = [];
  let b = -rng.range(150, 220);
  while (b < 200) {
    const w = rng.range(10, 45);
    parts.push({ b0: b, b1: b + w, h: rng.range(7, 32), style: makeFacadeStyle(rng), back: rng.chance(0.3) ? rng.range(2, 8) : 0 });
    b += w;
  }
  return {
    late: false,
    anchor: () => ({ x: f.ox, z: endZ }),
    draw({ painter: p }) {
      for (const q of parts) {
        p.box(f, q.back, q.back + BLOCK_DEPTH, q.b0, q.b1, 0, q.h, (face) => {
          if (face === 'back') return facadeShader(q.style, q.h, q.b0);
          if (face === 'left' || face === 'right') return facadeShader(q.style, q.h, 0);
          return null;
        });
      }
    },
    casters: () => parts.map((q) => ({ kind: 'box' as const, f, a0: q.back, a1: q.back + BLOCK_DEPTH, b0: q.b0, b1: q.b1, h0: 0, h1: q.h })),
  };
}

/** A row of taller blocks set far back from a side, seen over walls, fences and parks. */
export function backdrop(rng: Rng, st: Street, sd: Side, s0: number, z0: number, z1: number): SceneObject {
  const parts: { z0: number; z1: number; h: number; s: number; style: FacadeStyle }[] = [];
  let z = z0;
  while (z < z1) {
    const len = rng.range(12, 40);
    parts.push({ z0: z, z1: Math.min(z1, z + len), h: rng.range(8, 35), s: s0 + rng.range(0, 8), style: makeFacadeStyle(rng) });
    z += len + (rng.chance(0.3) ? rng.range(3, 15) : 0);
  }
  return {
    late: false,
    anchor: () => ({ x: centreX(st, z0) + sd * s0, z: z0 }),
    draw({ painter: p }) {
      for (const q of parts) {
        streetBlock(p, st, sd, q.s, q.s + BLOCK_DEPTH, q.z0, q.z1, 0, q.h, facadeShader(q.style, q.h, q.z0), facadeShader(q.style, q.h, q.s), null);
      }
    },
  };
}

/** Distant blocks along the horizon when the street runs on into the distance. */
export function skyline(rng: Rng, st: Street, z: number): SceneObject {
  const heading = headingAt(st, z);
  const f = frame(centreX(st, z), 0, z, heading);
  const parts: { b0: number; b1: number; a: number; h: number; style: FacadeStyle }[] = [];
  let b = -rng.range(300, 450);
  while (b < 450) {
    const w = rng.range(20, 80);
    if (Math.abs(b + w / 2) > 25 || rng.chance(0.4)) {
      parts.push({ b0: b, b1: b + w, a: rng.range(0, 120), h: rng.range(10, 60), style: makeFacadeStyle(rng) });
    }
    b += w + (rng.chance(0.3) ? rng.range(5, 40) : 0);
  }
  return {
    late: false,
    anchor: () => ({ x: f.ox, z }),
    draw({ painter: p }) {
      for (const q of parts) {
        p.box(f, q.a, q.a + 30, q.b0, q.b1, 0, q.h, (face) => (face === 'back' ? facadeShader(q.style, q.h, q.b0) : null));
      }
    },
  };
}

export interface WallStyle {
  material: Material;
  coping: Rgb;
  graffiti: number;
  pillars: number;
  seed: number;
}

export function makeWallStyle(rng: Rng): WallStyle {
  const base = masonry(rng);
  return {
    material: makeMaterial(rng, base, ['plaster', 'brick', 'brick', 'concrete', 'concrete', 'stone']),
    coping: jitter(rng, rng.pick<Rgb>([[200, 198, 192], [120, 118, 115], [150, 120, 100]]), 0.1, 5),
    graffiti: rng.chance(0.25) ? rng.range(0.3, 0.7) : 0,
    pillars: rng.chance(0.4) ? rng.range(2.5, 5) : 0,
    seed: rng.u32(),
  };
}

export function wallShader(w: WallStyle, height: number): Shader {
  const copingH = 0.12;
  return (u, v, ppm, _i, out) => {
    if (v > height - copingH) {
      const k = 0.95 + valueNoise(u * 3, v, w.seed) * 0.1;
      out[0] = w.coping[0] * k; out[1] = w.coping[1] * k; out[2] = w.coping[2] * k;
      return CLASS.wall;
    }
    materialColor(w.material, u, v, ppm, out);
    if (w.pillars > 0 && (u / w.pillars) % 1 < 0.08) {
      const t = 0.85;
      out[0] *= t; out[1] *= t; out[2] *= t;
    }
    if (w.graffiti > 0 && v < height * 0.9) {
      const n = valueNoise(u * 0.9, v * 1.3, w.seed + 1);
      if (n > 1 - w.graffiti * 0.5) {
        const c = hsv(valueNoise(u * 0.2, 1, w.seed + 2), 0.7, 0.75);
        const ink = Math.min(1, (n - (1 - w.graffiti * 0.5)) * 10);
        out[0] += (c[0] - out[0]) * ink; out[1] += (c[1] - out[1]) * ink; out[2] += (c[2] - out[2]) * ink;
      }
    }
    return CLASS.wall;
  };
}

export function wall(rng: Rng, st: Street, sd: Side, s0: number, z0: number, z1: number, height: number): SceneObject {
  const style = makeWallStyle(rng);
  const thick = rng.range(0.2, 0.45);
  const x = centreX(st, z0) + sd * s0;
  return {
    late: false,
    anchor: () => ({ x, z: z0 }),
    draw({ painter: p }) {
      const face = wallShader(style, st.curbHeight + height);
      const endShader: Shader = (u, v, ppm, i, out) => face(u * 3, v, ppm, i, out);
      const top: Shader = (u, _v, ppm, _i, out) => {
        const k = 0.9 + valueNoise(u * 2, 0, style.seed) * 0.15;
        out[0] = style.coping[0] * k; out[1] = style.coping[1] * k; out[2] = style.coping[2] * k;
        void ppm;
        return CLASS.wall;
      };
      streetBlock(p, st, sd, s0, s0 + thick, z0, z1, st.curbHeight, st.curbHeight + height, face, endShader, top);
    },
    casters: () => [blockCaster(st, sd, s0, s0 + thick, z0, z1, 0, height)],
  };
}
