// Trees (trunk and a ragged crown of leafy blobs), hedges and bushes. Their greens overlap
// the terrain's on purpose: vegetation stands up and has leafy clumps with dark holes,
// terrain lies flat and is smoother.

import { CLASS } from '../classes.js';
import { foliage, jitter, type Rgb } from './color.js';
import { billboard } from './draw3d.js';
import { fbm, valueNoise } from './noise.js';
import type { Shader } from './raster.js';
import type { Rng } from './rng.js';
import type { Caster, SceneObject } from './scene-object.js';
import { alongFace, acrossFace, topFace, blockCaster } from './street-geometry.js';
import { centreX, type Side, type Street } from './street.js';
import { leafColor } from './textures.js';

interface Blob {
  dx: number;
  dy: number;
  dz: number;
  r: number;
}

function barkShader(c: Rgb, seed: number): Shader {
  return (u, v, ppm, _i, out) => {
    const k = 0.85 + fbm(u * 3, v * 0.5, 0.3, ppm, seed) * 0.5;
    out[0] = c[0] * k; out[1] = c[1] * k; out[2] = c[2] * k;
    return CLASS.vegetation;
  };
}

/** A leafy ellipse centred at (0, 0) with radii ra, rh: ragged edge, lit from above. */
function crownShader(c: Rgb, ra: number, rh: number, seed: number, holes: number): Shader {
  return (u, v, ppm, _i, out) => {
    const nr = Math.sqrt((u / ra) * (u / ra) + (v / rh) * (v / rh));
    const edge = valueNoise(u * 2.5, v * 2.5, seed + 5);
    if (nr > 1 - 0.28 * edge) return -1;
    if (holes > 0 && nr < 0.9 && valueNoise(u * 1.3, v * 1.3, seed + 8) > 1 - holes) return -1;
    leafColor(c, u, v, ppm, seed, out);
    const k = 0.78 + 0.3 * (v / rh) - 0.12 * nr;
    out[0]! *= k; out[1]! *= k; out[2]! *= k;
    return CLASS.vegetation;
  };
}

export function tree(rng: Rng, x: number, z: number, base: number, size = 1): SceneObject {
  const conifer = rng.chance(0.12);
  const trunkH = rng.range(1.8, 3.5) * size;
  const crownR = rng.range(1.4, 3.4) * size;
  const crownH = conifer ? crownR * rng.range(2, 3) : crownR * rng.range(0.8, 1.3);
  const trunkW = rng.range(0.18, 0.4) * Math.sqrt(size);
  const green = foliage(rng);
  const bark = jitter(rng, rng.pick<Rgb>([[85, 72, 60], [105, 98, 90], [70, 60, 50]]), 0.12, 5);
  const blobs: Blob[] = [];
  const n = conifer ? 4 : rng.int(4, 8);
  for (let k = 0; k < n; k++) {
    const t = conifer ? k / (n - 1) : rng.float();
    blobs.push({
      dx: conifer ? 0 : rng.range(-0.55, 0.55) * crownR,
      dy: conifer ? (t - 0.5) * crownH * 0.8 : rng.range(-0.35, 0.45) * crownH,
      dz: rng.range(-0.4, 0.4) * crownR,
      r: conifer ? crownR * (1.05 - t * 0.75) : rng.range(0.5, 0.85) * crownR,
    });
  }
  const holes = rng.chance(0.3) ? rng.range(0.1, 0.3) : 0;
  const seed = rng.u32();
  const crownY = base + trunkH + crownH * 0.45;
  return {
    late: false,
    anchor: () => ({ x, z }),
    draw({ painter: p, cam }) {
      const f = billboard(cam, x, base, z);
      p.stroke(f, 0, 0, 0, trunkH + crownH * 0.3, trunkW, barkShader(bark, seed));
      if (!conifer) {
        p.stroke(f, 0, trunkH * 0.9, -crownR * 0.4, trunkH + crownH * 0.3, trunkW * 0.5, barkShader(bark, seed));
        p.stroke(f, 0, trunkH * 0.8, crownR * 0.45, trunkH + crownH * 0.25, trunkW * 0.45, barkShader(bark, seed));
      }
      for (let k = 0; k < blobs.length; k++) {
        const b = blobs[k]!;
        const bf = billboard(cam, x + b.dx, crownY + b.dy, z + b.dz);
        const rh = b.r * (conifer ? 0.8 : 0.92);
        p.ellipse(bf, 0, 0, b.r, rh, crownShader(green, b.r, rh, seed + k * 13, holes));
      }
    },
    casters: (): Caster[] => [
      { kind: 'stick', x, z, base, top: base + trunkH, width: trunkW },
      { kind: 'blob', x, y: crownY, z, r: crownR * 0.95 },
    ],
  };
}

function hedgeShader(c: Rgb, height: number, seed: number, base: number): Shader {
  return (u, v, ppm, _i, out) => {
    // a clipped hedge: flat-ish top with a bumpy edge
    if (v > base + height - 0.18 * valueNoise(u * 2, 0.5, seed)) return -1;
    leafColor(c, u, v, ppm, seed, out);
    return CLASS.vegetation;
  };
}

export function hedge(rng: Rng, st: Street, sd: Side, s0: number, z0: number, z1: number, height: number): SceneObject {
  const green = foliage(rng);
  const depth = rng.range(0.6, 1.4);
  const seed = rng.u32();
  const base = st.curbHeight;
  const x = centreX(st, z0) + sd * s0;
  return {
    late: false,
    anchor: () => ({ x, z: z0 }),
    draw({ painter: p }) {
      const sh = hedgeShader(green, height, seed, base);
      alongFace(p, st, sd, s0, z0, z1, base, base + height, sh);
      acrossFace(p, st, sd, s0, s0 + depth, z0, base, base + height, sh, -1);
      acrossFace(p, st, sd, s0, s0 + depth, z1, base, base + height, sh, 1);
      if (p.cam.y > base + height) {
        topFace(p, st, sd, s0, s0 + depth, z0, z1, base + height - 0.09, (u, v, ppm, _i, out) => {
          leafColor(green, u, v, ppm, seed, out);
          out[0]! *= 1.1; out[1]! *= 1.1; out[2]! *= 1.1;
          return CLASS.vegetation;
        });
      }
    },
    casters: () => [blockCaster(st, sd, s0, s0 + depth, z0, z1, 0, height)],
  };
}

export function bush(rng: Rng, x: number, z: number, base: number): SceneObject {
  const green = foliage(rng);
  const r = rng.range(0.4, 1.1);
  const seed = rng.u32();
  const blobs = Array.from({ length: rng.int(2, 4) }, () => ({ dx: rng.range(-r, r), dy: rng.range(0, r * 0.5), rr: r * rng.range(0.6, 1) }));
  return {
    late: false,
    anchor: () => ({ x, z }),
    draw({ painter: p, cam }) {
      for (let k = 0; k < blobs.length; k++) {
        const b = blobs[k]!;
        const f = billboard(cam, x + b.dx, base + b.rr * 0.8 + b.dy, z);
        p.ellipse(f, 0, 0, b.rr, b.rr * 0.8, crownShader(green, b.rr, b.rr * 0.8, seed + k, 0));
      }
    },
    casters: () => [{ kind: 'blob', x, y: base + r * 0.7, z, r }],
  };
}
