// Vertical faces and boxes that follow the street's course: facades, walls, fences and
// hedges are laid out in street coordinates (s across, z along) and bent with the street.

import type { Painter, Vertex } from './draw3d.js';
import type { Shader } from './raster.js';
import type { Caster } from './scene-object.js';
import { centreX, headingAt, type Side, type Street } from './street.js';

export function streetVertex(st: Street, s: number, y: number, z: number, u: number, v: number): Vertex {
  return { x: centreX(st, z) + s, y, z, u, v };
}

/** Unit tangent (tx, tz) of the street between z0 and z1. */
function tangent(st: Street, z0: number, z1: number): [number, number] {
  const dx = centreX(st, z1) - centreX(st, z0);
  const dz = z1 - z0;
  const n = Math.hypot(dx, dz) || 1;
  return [dx / n, dz / n];
}

/**
 * The face of a block along the street at |s| = s, from z0 to z1 and y0 to y1, facing the road
 * (toward s = 0) unless `away`. u runs along z, v up.
 */
export function alongFace(p: Painter, st: Street, sd: Side, s: number, z0: number, z1: number, y0: number, y1: number,
  shader: Shader, away = false): void {
  const [tx, tz] = tangent(st, z0, z1);
  const k = away ? 1 : -1;
  const x = sd * s;
  p.face([[streetVertex(st, x, y0, z0, z0, y0), streetVertex(st, x, y0, z1, z1, y0), streetVertex(st, x, y1, z1, z1, y1), streetVertex(st, x, y1, z0, z0, y1)]],
    k * sd * tz, 0, -k * sd * tx, shader);
}

/** A face across the street at z from |s| = s0 to s1, facing the camera (-z) or away. u = |s|. */
export function acrossFace(p: Painter, st: Street, sd: Side, s0: number, s1: number, z: number, y0: number, y1: number,
  shader: Shader, facing: -1 | 1): void {
  const [tx, tz] = tangent(st, z - 0.5, z + 0.5);
  p.face([[streetVertex(st, sd * s0, y0, z, s0, y0), streetVertex(st, sd * s1, y0, z, s1, y0), streetVertex(st, sd * s1, y1, z, s1, y1), streetVertex(st, sd * s0, y1, z, s0, y1)]],
    facing * tx, 0, facing * tz, shader);
}

/** Horizontal top of a block. u along z, v = |s|. */
export function topFace(p: Painter, st: Street, sd: Side, s0: number, s1: number, z0: number, z1: number, y: number, shader: Shader): void {
  p.face([[streetVertex(st, sd * s0, y, z0, z0, s0), streetVertex(st, sd * s1, y, z0, z0, s1), streetVertex(st, sd * s1, y, z1, z1, s1), streetVertex(st, sd * s0, y, z1, z1, s0)]],
    0, 1, 0, shader);
}

/** A block from |s| = s0 to s1 and z0 to z1: the faces a camera on the street can see. */
export function streetBlock(p: Painter, st: Street, sd: Side, s0: number, s1: number, z0: number, z1: number, y0: number, y1: number,
  front: Shader, ends: Shader, top: Shader | null): void {
  alongFace(p, st, sd, s0, z0, z1, y0, y1, front);
  acrossFace(p, st, sd, s0, s1, z0, y0, y1, ends, -1);
  acrossFace(p, st, sd, s0, s1, z1, y0, y1, ends, 1);
  if (top && p.cam.y > y1) topFace(p, st, sd, s0, s1, z0, z1, y1, top);
}

/** The shadow volume of a block along the street. */
export function blockCaster(st: Street, sd: Side, s0: number, s1: number, z0: number, z1: number, y0: number, y1: number): Caster {
  const zc = (z0 + z1) / 2;
  const h = headingAt(st, zc);
  const f = { ox: centreX(st, zc), oy: 0, oz: zc, fx: Math.sin(h), fz: Math.cos(h) };
  const b0 = sd * s0;
  const b1 = sd * s1;
  return { kind: 'box', f, a0: z0 - zc, a1: z1 - zc, b0: Math.min(b0, b1), b1: Math.max(b0, b1), h0: y0, h1: y1 };
}
