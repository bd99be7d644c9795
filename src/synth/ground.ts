// Road, kerbs, sidewalks, verges, medians, cross streets and the land beyond, tessellated in
// slices along z so the street can bend. Road and sidewalk are both grey on purpose: the
// kerb, the markings and where they lie tell them apart.

import { CLASS } from '../classes.js';
import type { Rgb } from './color.js';
import type { Painter, Vertex } from './draw3d.js';
import { fbm, hash2, valueNoise, visible } from './noise.js';
import type { Shader } from './raster.js';
import { centreX, type Intersection, type Street } from './street.js';
import { terrainColor } from './textures.js';

const FAR_SIDE = 320;

export interface GroundExtent {
  /** World z where the ground ends (a block closes the street there), or Infinity. */
  endZ: number;
}

function vert(st: Street, s: number, y: number, z: number): Vertex {
  return { x: centreX(st, z) + s, y, z, u: s, v: z };
}

/** Slice boundaries along z: dense near the camera, sparse far away, exact at cross streets. */
function slices(st: Street, camZ: number, endZ: number): number[] {
  const rel = [-3, 0.6, 1.5, 3, 5, 7.5, 10.5, 14, 19, 25, 33, 43, 56, 72, 92, 118, 150, 190, 240, 310, 420, 600, 900, 1500, 2600];
  const zs = new Set<number>();
  for (const r of rel) zs.add(camZ + r);
  for (const x of st.intersections) for (const z of [x.z0 - x.walk, x.z0, x.z1, x.z1 + x.walk]) zs.add(z);
  return [...zs].filter((z) => z <= endZ && z >= camZ - 3).sort((a, b) => a - b).concat(endZ < Infinity ? [endZ] : []);
}

export function drawGround(p: Painter, st: Street, extent: GroundExtent): void {
  const camZ = p.cam.z;
  const zs = slices(st, camZ, extent.endZ);
  const road = roadShader(st);
  const walk = pavingShader(st);
  const grass = terrainShader(st.grass, st.seed + 11);
  const lot = terrainShader([st.grass[0] * 1.05, st.grass[1] * 0.98, st.grass[2] * 1.05], st.seed + 12);
  const kerbFace = kerbShader(st);
  const h = st.curbHeight;
  const m = st.median / 2;
  const up = p.light(0, 1, 0);

  const quad = (s0: number, s1: number, za: number, zb: number, y: number, shader: Shader) => {
    p.poly([[vert(st, s0, y, za), vert(st, s1, y, za), vert(st, s1, y, zb), vert(st, s0, y, zb)]], shader, up);
  };
  // a kerb face along z at lateral s, facing toward the road (dir = -1 faces -s)
  const kerbAlong = (s: number, za: number, zb: number, dir: number) => {
    p.face([[vert(st, s, 0, za), vert(st, s, 0, zb), vert(st, s, h, zb), vert(st, s, h, za)]], dir, 0, 0, kerbFace);
  };
  // a kerb face across the street at z, from s0 to s1, facing dir along z
  const kerbAcross = (s0: number, s1: number, z: number, dir: number) => {
    p.face([[vert(st, s0, 0, z), vert(st, s1, 0, z), vert(st, s1, h, z), vert(st, s0, h, z)]], 0, 0, dir, kerbFace);
  };

  for (let k = 0; k + 1 < zs.length; k++) {
    const za = zs[k]!;
    const zb = zs[k + 1]!;
    const mid = (za + zb) / 2;
    const cross = crossing(st, mid);
    // the carriageway
    if (m > 0 && cross !== 'road') {
      quad(-st.left.kerb, -m, za, zb, 0, road);
      quad(m, st.right.kerb, za, zb, 0, road);
      quad(-m, m, za, zb, h, st.medianGreen ? grass : walk);
      kerbAlong(-m, za, zb, -1);
      kerbAlong(m, za, zb, 1);
    } else if (cross === 'road') {
      quad(-FAR_SIDE, FAR_SIDE, za, zb, 0, road);
    } else {
      quad(-st.left.kerb, st.right.kerb, za, zb, 0, road);
    }
    if (cross === 'road') continue;
    for (const sd of [-1, 1] as const) {
      const prof = sd < 0 ? st.left : st.right;
      const a = (s: number) => sd * s;
      kerbAlong(a(prof.kerb), za, zb, -sd);
      if (cross === 'walk') {
        quad(Math.min(a(prof.kerb), a(FAR_SIDE)), Math.max(a(prof.kerb), a(FAR_SIDE)), za, zb, h, walk);
        continue;
      }
      const v0 = prof.kerb;
      const v1 = prof.kerb + prof.verge;
      const w1 = prof.front;
      if (prof.verge > 0) quad(Math.min(a(v0), a(v1)), Math.max(a(v0), a(v1)), za, zb, h, grass);
      if (prof.sidewalk > 0) quad(Math.min(a(v1), a(w1)), Math.max(a(v1), a(w1)), za, zb, h, walk);
      quad(Math.min(a(w1), a(FAR_SIDE)), Math.max(a(w1), a(FAR_SIDE)), za, zb, h, lot);
    }
  }
  // kerbs across the street where the cross street's far sidewalk begins (the near one faces away)
  for (const x of st.intersections) {
    if (x.z1 > extent.endZ) continue;
    kerbAcross(st.right.kerb, FAR_SIDE, x.z1, -1);
    kerbAcross(-FAR_SIDE, -st.left.kerb, x.z1, -1);
  }
}

function crossing(st: Street, z: number): 'road' | 'walk' | null {
  for (const x of st.intersections) {
    if (z > x.z0 && z < x.z1) return 'road';
    if ((z > x.z0 - x.walk && z < x.z0) || (z > x.z1 && z < x.z1 + x.walk)) return 'walk';
  }
  return null;
}

/** Coverage of a painted line `width` wide centred at c, as an alpha: thin far lines fade. */
function lineAlpha(s: number, c: number, width: number, ppm: number): number {
  const half = Math.max(width / 2, 0.5 / ppm);
  if (Math.abs(s - c) > half) return 0;
  return Math.min(1, width * ppm);
}

function roadShader(st: Street): Shader {
  const seed = st.seed;
  const tone = st.roadTone;
  const warm = st.roadWarm;
  const m = st.median / 2;
  const dividersR: number[] = [];
  for (let k = 1; k < st.lanesRight; k++) dividersR.push(m + k * st.laneWidth);
  const dividersL: number[] = [];
  for (let k = 1; k < st.lanesLeft; k++) dividersL.push(-m - k * st.laneWidth);
  const centre = st.lanesLeft > 0 && m === 0;
  const doubleCentre = hash2(1, 2, seed) < 0.4;
  const parkR = st.right.parking > 0 ? st.right.kerb - st.right.parking : null;
  const parkL = st.left.parking > 0 ? -(st.left.kerb - st.left.parking) : null;
  const edgeLines = hash2(3, 4, seed) < 0.5;
  const paintC: Rgb = [225, 225, 215];
  const yellow: Rgb = [215, 180, 60];
  const wheelTracks: number[] = [];
  const laneCentres: number[] = [];
  for (let k = 0; k < st.lanesRight; k++) laneCentres.push(m + (k + 0.5) * st.laneWidth);
  for (let k = 0; k < st.lanesLeft; k++) laneCentres.push(-m - (k + 0.5) * st.laneWidth);
  for (const c of laneCentres) wheelTracks.push(c - 0.8, c + 0.8);
  const zebras: Intersection[] = st.intersections.filter((_, k) => hash2(k, 9, seed) < 0.75);
  return (s, z, ppm, _i, out) => {
    // asphalt: coarse patches of repair, fine aggregate, polish along the wheel tracks
    let k = 1 + fbm(s, z, 2.5, ppm, seed) * 0.18 + fbm(s, z, 0.12, ppm, seed + 1) * 0.22;
    const patchCell = hash2(Math.floor(s / 3), Math.floor(z / 7), seed + 2);
    if (patchCell > 0.9) k *= 0.85 + (patchCell - 0.9) * 2;
    for (const w of wheelTracks) if (Math.abs(s - w) < 0.35) { k *= 0.93; break; }
    let r = (tone + warm) * k;
    let g = tone * k;
    let b = (tone + 3 - warm) * k;
    let a = 0;
    let col = paintC;
    // tram rails: steel lines in a paved track bed
    for (const tc of st.tracks) {
      const d = Math.abs(s - tc);
      if (d < 1.05) {
        const bed = 0.9 + valueNoise(s * 3, z * 3, seed + 4) * 0.1;
        r *= bed; g *= bed; b *= bed;
        for (const rail of [tc - 0.7175, tc + 0.7175]) {
          const ra = lineAlpha(s, rail, 0.07, ppm);
          if (ra > 0) {
            const groove = lineAlpha(s, rail - 0.035, 0.025, ppm);
            const steel = groove > 0.5 ? 45 : 150;
            r += (steel - r) * ra; g += (steel - g) * ra; b += (steel + 5 - b) * ra;
          }
        }
      }
    }
    const dash = (z / 9) % 1 < 0.33 || z < 0;
    for (const d of dividersR) if (dash) a = Math.max(a, lineAlpha(s, d, 0.13, ppm));
    for (const d of dividersL) if (dash) a = Math.max(a, lineAlpha(s, d, 0.13, ppm));
    if (centre) {
      const ca = doubleCentre ? Math.max(lineAlpha(s, -0.1, 0.11, ppm), lineAlpha(s, 0.1, 0.11, ppm)) : lineAlpha(s, 0, 0.14, ppm);
      if (ca > a) { a = ca; col = st.centreYellow ? yellow : paintC; }
    }
    if (parkR !== null) a = Math.max(a, lineAlpha(s, parkR, 0.12, ppm) * ((z / 5) % 1 < 0.6 ? 1 : 0));
    if (parkL !== null) a = Math.max(a, lineAlpha(s, parkL, 0.12, ppm) * ((z / 5) % 1 < 0.6 ? 1 : 0));
    if (edgeLines && parkR === null) a = Math.max(a, lineAlpha(s, st.right.kerb - 0.35, 0.12, ppm));
    if (edgeLines && parkL === null) a = Math.max(a, lineAlpha(s, -st.left.kerb + 0.35, 0.12, ppm));
    for (const x of zebras) {
      // zebra stripes across the street before the cross street, a stop line before them
      if (z > x.z0 - x.walk - 3.8 && z < x.z0 - x.walk - 0.4 && s > -st.left.kerb && s < st.right.kerb) {
        if ((s / 1.0) - Math.floor(s / 1.0) < 0.5) a = Math.max(a, visible(0.5, ppm));
      } else if (z > x.z0 - x.walk - 5.2 && z < x.z0 - x.walk - 4.7 && s > m && s < st.right.kerb) {
        a = Math.max(a, 1);
      }
    }
    if (a > 0) {
      const wear = 0.75 + valueNoise(s * 4, z * 1.5, seed + 5) * 0.25;
      const t = a * wear;
      r += (col[0] - r) * t; g += (col[1] - g) * t; b += (col[2] - b) * t;
    }
    out[0] = r;
    out[1] = g;
    out[2] = b;
    return CLASS.road;
  };
}

function pavingShader(st: Street): Shader {
  const seed = st.seed + 20;
  const c = st.pavingTone;
  const P = st.pavingSize;
  const kind = st.paving;
  const kerbW = 0.22;
  const kt = st.kerbTone;
  return (s, z, ppm, _i, out) => {
    const as = Math.abs(s);
    // the kerb stones along the road edge are lighter granite
    const onKerb = (as >= st.right.kerb && as < st.right.kerb + kerbW && s > 0) || (as >= st.left.kerb && as < st.left.kerb + kerbW && s < 0);
    if (onKerb) {
      const k = 1 + fbm(s, z, 0.15, ppm, seed) * 0.2;
      out[0] = kt[0] * k; out[1] = kt[1] * k; out[2] = kt[2] * k;
      return CLASS.sidewalk;
    }
    let k = 1 + fbm(s, z, 1.5, ppm, seed) * 0.12 + fbm(s, z, 0.08, ppm, seed + 1) * 0.16;
    if (kind === 'asphalt') {
      k += fbm(s, z, 0.3, ppm, seed + 2) * 0.1;
    } else {
      const cw = kind === 'cobbles' ? 0.11 : P;
      const ch = kind === 'bricks' ? P * 0.5 : cw;
      const row = Math.floor(z / ch);
      const off = kind === 'slabs' ? 0 : (row & 1) * 0.5;
      const col = Math.floor(s / cw + off);
      const fu = s / cw + off - col;
      const fv = z / ch - row;
      const jw = kind === 'cobbles' ? 0.14 : 0.035;
      const vis = visible(Math.min(cw, ch) * 0.3, ppm);
      if (fu < jw || fv < jw * (cw / ch)) k -= 0.28 * vis;
      else k += (hash2(col, row, seed) - 0.5) * (kind === 'cobbles' ? 0.35 : 0.14) * vis;
    }
    out[0] = c[0] * k;
    out[1] = c[1] * k;
    out[2] = c[2] * k;
    return CLASS.sidewalk;
  };
}

function kerbShader(st: Street): Shader {
  const c = st.kerbTone;
  return (u, v, ppm, _i, out) => {
    const k = 0.92 + fbm(u, v, 0.2, ppm, st.seed + 30) * 0.2;
    out[0] = c[0] * k; out[1] = c[1] * k; out[2] = c[2] * k;
    return CLASS.sidewalk;
  };
}

export function terrainShader(c: Rgb, seed: number): Shader {
  return (u, v, ppm, _i, out) => {
    terrainColor(c, u, v, ppm, seed, out);
    return CLASS.terrain;
  };
}
