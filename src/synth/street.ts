// The street's cross-section and course. Everything is placed in street coordinates: s across
// (metres, right positive, 0 = the centre line) and z along; the centre line may bend, and
// world x = centreX(z) + s.

import { jitter, terrainTone, type Rgb } from './color.js';
import type { Rng } from './rng.js';

export type Side = -1 | 1;

export interface SideProfile {
  /** |s| of the kerb (the road's edge on this side). */
  kerb: number;
  /** Grass verge between kerb and sidewalk (m, may be 0). */
  verge: number;
  /** Paved sidewalk width (m, may be 0: then the verge runs to the frontage). */
  sidewalk: number;
  /** |s| where the frontage (buildings, walls, fences) starts. */
  front: number;
  parking: number;
}

export interface Intersection {
  /** Cross street between z0 and z1 (kerb to kerb), with sidewalks `walk` wide each side. */
  z0: number;
  z1: number;
  walk: number;
}

export interface Street {
  laneWidth: number;
  lanesRight: number;
  lanesLeft: number;
  /** Raised median width centred on s = 0 (0 = none). */
  median: number;
  medianGreen: boolean;
  curbHeight: number;
  left: SideProfile;
  right: SideProfile;
  /** Centre s of tram tracks in the road. */
  tracks: number[];
  intersections: Intersection[];
  curvature: number;
  bendFrom: number;
  // materials
  roadTone: number;
  roadWarm: number;
  centreYellow: boolean;
  paving: 'slabs' | 'bricks' | 'asphalt' | 'cobbles';
  pavingTone: Rgb;
  pavingSize: number;
  kerbTone: Rgb;
  grass: Rgb;
  seed: number;
}

/** Lateral distance (m) over which the bend is followed exactly; farther it runs straight. */
const BEND_RUN = 110;

export function centreX(st: Street, z: number): number {
  const d = Math.max(0, z - st.bendFrom);
  if (st.curvature === 0 || d === 0) return 0;
  const r = Math.min(d, BEND_RUN);
  return st.curvature * (r * r / 2 + r * (d - r));
}

/** Heading of the street at z (radians, positive = bending right). */
export function headingAt(st: Street, z: number): number {
  const d = Math.max(0, z - st.bendFrom);
  return Math.atan(st.curvature * Math.min(d, BEND_RUN));
}

export function worldX(st: Street, s: number, z: number): number {
  return centreX(st, z) + s;
}

export function side(st: Street, sd: Side): SideProfile {
  return sd < 0 ? st.left : st.right;
}

/** Lane centres (s) and their travel direction (+1 away from the camera, -1 oncoming). */
export function lanes(st: Street): { s: number; dir: 1 | -1 }[] {
  const out: { s: number; dir: 1 | -1 }[] = [];
  const m = st.median / 2;
  for (let k = 0; k < st.lanesRight; k++) out.push({ s: m + (k + 0.5) * st.laneWidth, dir: 1 });
  for (let k = 0; k < st.lanesLeft; k++) out.push({ s: -m - (k + 0.5) * st.laneWidth, dir: -1 });
  return out;
}

export function inIntersection(st: Street, z: number, margin = 0): Intersection | null {
  for (const x of st.intersections) if (z > x.z0 - x.walk - margin && z < x.z1 + x.walk + margin) return x;
  return null;
}

function makeSide(rng: Rng, kerb: number, parking: number): SideProfile {
  const verge = rng.chance(0.3) ? rng.range(0.8, 2.8) : 0;
  const sidewalk = rng.chance(0.1) ? 0 : rng.range(1.6, 5);
  const v = sidewalk === 0 ? Math.max(verge, rng.range(1.5, 5)) : verge;
  return { kerb, verge: v, sidewalk, front: kerb + v + sidewalk, parking };
}

export function makeStreet(rng: Rng): Street {
  const laneWidth = rng.range(2.9, 3.6);
  const lanesRight = rng.weighted([0, 0.5, 0.38, 0.12]);
  const lanesLeft = rng.weighted([0.18, 0.5, 0.24, 0.08]);
  const median = lanesLeft > 0 && rng.chance(0.15) ? rng.range(1.2, 4) : 0;
  const parkingRight = rng.chance(0.5) ? rng.range(2, 2.5) : 0;
  const parkingLeft = rng.chance(0.4) ? rng.range(2, 2.5) : 0;
  const m = median / 2;
  const kerbRight = m + lanesRight * laneWidth + parkingRight;
  const kerbLeft = m + Math.max(lanesLeft * laneWidth, 0.6) + parkingLeft;
  const tracks: number[] = [];
  if (rng.chance(0.24)) {
    tracks.push(m + laneWidth / 2);
    if (lanesLeft > 0 && rng.chance(0.7)) tracks.push(-m - laneWidth / 2);
  }
  const straight = rng.chance(0.55);
  const pavingTone = jitter(rng, rng.pick<Rgb>([[150, 148, 144], [168, 162, 152], [135, 133, 135], [160, 140, 130], [120, 118, 120], [175, 170, 160]]), 0.1, 5);
  return {
    laneWidth, lanesRight, lanesLeft, median, medianGreen: rng.chance(0.6),
    curbHeight: rng.range(0.1, 0.16),
    left: makeSide(rng, kerbLeft, parkingLeft),
    right: makeSide(rng, kerbRight, parkingRight),
    tracks,
    intersections: [],
    curvature: straight ? 0 : rng.sign() * rng.range(0.0012, 0.0045),
    bendFrom: rng.range(0, 40),
    roadTone: rng.range(62, 118),
    roadWarm: rng.range(-4, 6),
    centreYellow: rng.chance(0.15),
    paving: rng.pick(['slabs', 'slabs', 'bricks', 'asphalt', 'cobbles'] as const),
    pavingTone,
    pavingSize: rng.range(0.25, 0.7),
    kerbTone: jitter(rng, [165, 163, 160], 0.12, 4),
    grass: terrainTone(rng),
    seed: rng.u32(),
  };
}
