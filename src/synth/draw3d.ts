// World-space drawing: polygons are moved into camera space, clipped at the near plane,
// projected and handed to the raster with perspective-correct surface coordinates. Helpers
// build the recurring solids (boxes, extruded side profiles, discs) and flat "sprites" in a
// vertical plane (people, bicycles, tree crowns).

import type { Camera } from './camera.js';
import type { Rgb } from './color.js';
import { faceLight, type Lighting } from './lighting.js';
import type { Raster, ScreenVertex, Shader } from './raster.js';

export interface Vertex {
  x: number;
  y: number;
  z: number;
  u: number;
  v: number;
}

/** An orthonormal frame on the ground: forward (fx, fz), right = (fz, -fx), up = y. */
export interface Frame {
  ox: number;
  oy: number;
  oz: number;
  fx: number;
  fz: number;
}

export function frame(ox: number, oy: number, oz: number, heading: number): Frame {
  // heading 0 = along +z (away from the camera), positive turns right (+x)
  return { ox, oy, oz, fx: Math.sin(heading), fz: Math.cos(heading) };
}

/** A frame whose forward axis points right across the view, so its (a, h) plane faces the camera. */
export function billboard(cam: Camera, ox: number, oy: number, oz: number): Frame {
  const dx = ox - cam.x;
  const dz = oz - cam.z;
  const n = Math.hypot(dx, dz) || 1;
  return { ox, oy, oz, fx: dz / n, fz: -dx / n };
}

type Face = { n: readonly [number, number, number] };

export class Painter {
  /** Scales direct sunlight for what is drawn next (0 inside a building's shadow). */
  sunScale = 1;
  private readonly screen: ScreenVertex[][] = [];

  constructor(readonly raster: Raster, readonly cam: Camera, readonly lighting: Lighting) {}

  light(nx: number, ny: number, nz: number): [number, number, number] {
    return faceLight(this.lighting, nx, ny, nz, this.sunScale);
  }

  /** Planar contours in world space with a fixed light multiplier. */
  poly(contours: readonly (readonly Vertex[])[], shader: Shader, light: Rgb): void {
    const cam = this.cam;
    const screen: ScreenVertex[][] = [];
    for (const contour of contours) {
      const clipped = clipNear(contour, cam);
      if (clipped.length >= 3) screen.push(clipped);
    }
    if (screen.length) this.raster.fill(screen, cam.focal, light, shader);
    this.screen.length = 0;
  }

  /** A planar face with an outward normal: culled when it faces away, lit by its normal. */
  face(contours: readonly (readonly Vertex[])[], nx: number, ny: number, nz: number, shader: Shader): void {
    const p = contours[0]?.[0];
    if (!p) return;
    const cam = this.cam;
    if (nx * (p.x - cam.x) + ny * (p.y - cam.y) + nz * (p.z - cam.z) >= 0) return;
    this.poly(contours, shader, this.light(nx, ny, nz));
  }

  // ---------------------------------------------------------------- frames and solids

  /** World vertex of local (a forward, b right, h up) in a frame. */
  at(f: Frame, a: number, b: number, h: number, u: number, v: number): Vertex {
    return { x: f.ox + a * f.fx + b * f.fz, y: f.oy + h, z: f.oz + a * f.fz - b * f.fx, u, v };
  }

  /**
   * An axis-aligned box in a frame. shaders(face) picks each face's shader; face is one of
   * 'front' (+a), 'back' (-a), 'right' (+b), 'left' (-b), 'top', 'bottom'. Side faces map
   * u = a, v = h; front/back u = b, v = h; top u = a, v = b.
   */
  box(f: Frame, a0: number, a1: number, b0: number, b1: number, h0: number, h1: number,
    shaders: (face: BoxFace) => Shader | null): void {
    const P = (a: number, b: number, h: number, u: number, v: number) => this.at(f, a, b, h, u, v);
    const rx = f.fz;
    const rz = -f.fx;
    const faces: [BoxFace, Vertex[], number, number, number][] = [
      ['front', [P(a1, b0, h0, b0, h0), P(a1, b1, h0, b1, h0), P(a1, b1, h1, b1, h1), P(a1, b0, h1, b0, h1)], f.fx, 0, f.fz],
      ['back', [P(a0, b0, h0, b0, h0), P(a0, b1, h0, b1, h0), P(a0, b1, h1, b1, h1), P(a0, b0, h1, b0, h1)], -f.fx, 0, -f.fz],
      ['right', [P(a0, b1, h0, a0, h0), P(a1, b1, h0, a1, h0), P(a1, b1, h1, a1, h1), P(a0, b1, h1, a0, h1)], rx, 0, rz],
      ['left', [P(a0, b0, h0, a0, h0), P(a1, b0, h0, a1, h0), P(a1, b0, h1, a1, h1), P(a0, b0, h1, a0, h1)], -rx, 0, -rz],
      ['top', [P(a0, b0, h1, a0, b0), P(a1, b0, h1, a1, b0), P(a1, b1, h1, a1, b1), P(a0, b1, h1, a0, b1)], 0, 1, 0],
      ['bottom', [P(a0, b0, h0, a0, b0), P(a1, b0, h0, a1, b0), P(a1, b1, h0, a1, b1), P(a0, b1, h0, a0, b1)], 0, -1, 0],
    ];
    for (const [name, verts, nx, ny, nz] of faces) {
      const s = shaders(name);
      if (s) this.face([verts], nx, ny, nz, s);
    }
  }

  /**
   * A side profile (a, h) extruded across b0..b1: both profile faces and one quad per edge.
   * Profile faces map u = a, v = h; edge quads map u = b, v = distance along the edge.
   * edgeShader gets the edge index and its outward normal in (a, h).
   */
  extrude(f: Frame, profile: readonly (readonly [number, number])[], b0: number, b1: number,
    sideShader: Shader | null, edgeShader: (edge: number, na: number, nh: number) => Shader | null): void {
    const n = profile.length;
    let ca = 0;
    let ch = 0;
    for (const [a, h] of profile) { ca += a / n; ch += h / n; }
    const rx = f.fz;
    const rz = -f.fx;
    if (sideShader) {
      this.face([profile.map(([a, h]) => this.at(f, a, b1, h, a, h))], rx, 0, rz, sideShader);
      this.face([profile.map(([a, h]) => this.at(f, a, b0, h, a, h))], -rx, 0, -rz, sideShader);
    }
    for (let k = 0; k < n; k++) {
      const [pa, ph] = profile[k]!;
      const [qa, qh] = profile[(k + 1) % n]!;
      const len = Math.hypot(qa - pa, qh - ph);
      if (len < 1e-6) continue;
      let na = (qh - ph) / len;
      let nh = -(qa - pa) / len;
      // outward: away from the profile's centroid
      if (na * ((pa + qa) / 2 - ca) + nh * ((ph + qh) / 2 - ch) < 0) { na = -na; nh = -nh; }
      const s = edgeShader(k, na, nh);
      if (!s) continue;
      this.face([[this.at(f, pa, b0, ph, b0, 0), this.at(f, pa, b1, ph, b1, 0), this.at(f, qa, b1, qh, b1, len), this.at(f, qa, b0, qh, b0, len)]],
        na * f.fx, nh, na * f.fz, s);
    }
  }

  // ---------------------------------------------------------------- flat shapes in a frame's (a, h) plane

  /** Points (a, h) at lateral offset b, as one planar contour; u = a, v = h. */
  planar(f: Frame, pts: readonly (readonly [number, number])[], b = 0): Vertex[] {
    return pts.map(([a, h]) => this.at(f, a, b, h, a, h));
  }

  /** A flat polygon in the frame's plane, lit as facing the camera. */
  sprite(f: Frame, contours: readonly (readonly (readonly [number, number])[])[], shader: Shader, b = 0): void {
    const cam = this.cam;
    // the side of the plane that faces the camera
    let nx = f.fz;
    let nz = -f.fx;
    if (nx * (f.ox - cam.x) + nz * (f.oz - cam.z) > 0) { nx = -nx; nz = -nz; }
    this.poly(contours.map((c) => this.planar(f, c, b)), shader, this.light(nx, 0, nz));
  }

  /** A stroke from (a0, h0) to (a1, h1) of the given width (m), flat in the frame's plane. */
  stroke(f: Frame, a0: number, h0: number, a1: number, h1: number, width: number, shader: Shader, b = 0): void {
    const len = Math.hypot(a1 - a0, h1 - h0) || 1e-6;
    // never thinner than about a pixel, so thin tubes do not vanish into gaps
    const depth = Math.max(this.cam.near, Math.abs(this.cam.sin * (f.ox - this.cam.x) + this.cam.cos * (f.oz - this.cam.z)));
    const half = Math.max(width, (0.9 * depth) / this.cam.focal) / 2;
    const na = (-(h1 - h0) / len) * half;
    const nh = ((a1 - a0) / len) * half;
    this.sprite(f, [[[a0 + na, h0 + nh], [a1 + na, h1 + nh], [a1 - na, h1 - nh], [a0 - na, h0 - nh]]], shader, b);
  }

  /** An ellipse (optionally a ring with inner radius fraction) in the frame's plane. */
  ellipse(f: Frame, ca: number, ch: number, ra: number, rh: number, shader: Shader, inner = 0, b = 0): void {
    const segs = this.segments(Math.max(ra, rh), f);
    const outer: [number, number][] = [];
    const hole: [number, number][] = [];
    for (let k = 0; k < segs; k++) {
      const t = (2 * Math.PI * k) / segs;
      const c = Math.cos(t);
      const s = Math.sin(t);
      outer.push([ca + ra * c, ch + rh * s]);
      if (inner > 0) hole.push([ca + ra * inner * c, ch + rh * inner * s]);
    }
    this.sprite(f, inner > 0 ? [outer, hole] : [outer], shader, b);
  }

  /** Enough polygon sides for a round shape of radius r (m) to look round at its size. */
  segments(r: number, f: Frame): number {
    const depth = Math.max(1, Math.abs(this.cam.sin * (f.ox - this.cam.x) + this.cam.cos * (f.oz - this.cam.z)));
    const px = (r * this.cam.focal) / depth;
    return px < 3 ? 6 : px < 10 ? 10 : px < 30 ? 16 : 24;
  }

  /** Depth of a frame's origin in front of the camera. */
  depth(f: Frame): number {
    return this.cam.sin * (f.ox - this.cam.x) + this.cam.cos * (f.oz - this.cam.z);
  }

  /** Pixels per metre at a frame's origin. */
  ppm(f: Frame): number {
    return this.cam.focal / Math.max(this.cam.near, this.depth(f));
  }
}

export type BoxFace = 'front' | 'back' | 'right' | 'left' | 'top' | 'bottom';

/** Camera-space transform, near-plane clip and projection of one contour. */
function clipNear(contour: readonly Vertex[], cam: Camera): ScreenVertex[] {
  const n = contour.length;
  const xc = new Array<number>(n);
  const yc = new Array<number>(n);
  const zc = new Array<number>(n);
  let inside = 0;
  for (let k = 0; k < n; k++) {
    const p = contour[k]!;
    const dx = p.x - cam.x;
    const dz = p.z - cam.z;
    xc[k] = cam.cos * dx - cam.sin * dz;
    yc[k] = p.y - cam.y;
    zc[k] = cam.sin * dx + cam.cos * dz;
    if (zc[k]! >= cam.near) inside++;
  }
  if (inside === 0) return [];
  const out: ScreenVertex[] = [];
  const emit = (x: number, y: number, z: number, u: number, v: number) => {
    const w = 1 / z;
    out.push({ x: cam.cx + cam.focal * x * w, y: cam.cy - cam.focal * y * w, w, uw: u * w, vw: v * w });
  };
  for (let k = 0; k < n; k++) {
    const j = k + 1 === n ? 0 : k + 1;
    const p = contour[k]!;
    const q = contour[j]!;
    const pin = zc[k]! >= cam.near;
    const qin = zc[j]! >= cam.near;
    if (pin) emit(xc[k]!, yc[k]!, zc[k]!, p.u, p.v);
    if (pin !== qin) {
      const t = (cam.near - zc[k]!) / (zc[j]! - zc[k]!);
      emit(xc[k]! + (xc[j]! - xc[k]!) * t, yc[k]! + (yc[j]! - yc[k]!) * t, cam.near,
        p.u + (q.u - p.u) * t, p.v + (q.v - p.v) * t);
    }
  }
  return out;
}

export type { Face };
