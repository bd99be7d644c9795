// A float RGB raster painted together with its label map: every primitive that paints
// colour also writes the class of the pixels it covers, so labels are exact by construction.

import type { Prng } from './prng.js';

/** Writes the colour of pixel (x, y) into rgb (0-255 floats). */
export type Shader = (x: number, y: number, rgb: Float32Array) => void;

export type Point = readonly [number, number];

/** The label written by a primitive; KEEP paints colour only (shadows, glare). */
export const KEEP = -1;

export class Canvas {
  readonly rgb: Float32Array;
  readonly labels: Uint8Array;
  /** Which numbered thing last labelled each pixel (0: none), for clips' moving objects. */
  readonly instances: Uint16Array;
  /** The number written into `instances` by the primitives that follow. */
  instance = 0;
  private readonly scratch = new Float32Array(3);

  constructor(readonly width: number, readonly height: number) {
    this.rgb = new Float32Array(width * height * 3);
    this.labels = new Uint8Array(width * height);
    this.instances = new Uint16Array(width * height);
  }

  private put(x: number, y: number, label: number, shade: Shader): void {
    const i = y * this.width + x;
    shade(x, y, this.scratch);
    this.rgb[i * 3] = this.scratch[0]!;
    this.rgb[i * 3 + 1] = this.scratch[1]!;
    this.rgb[i * 3 + 2] = this.scratch[2]!;
    if (label !== KEEP) {
      this.labels[i] = label;
      this.instances[i] = this.instance;
    }
  }

  /** Even-odd scanline fill, sampling pixel centres. */
  polygon(points: readonly Point[], label: number, shade: Shader): void {
    if (points.length < 3) return;
    let top = Infinity;
    let bottom = -Infinity;
    for (const [, y] of points) {
      top = Math.min(top, y);
      bottom = Math.max(bottom, y);
    }
    const y0 = Math.max(0, Math.ceil(top - 0.5));
    const y1 = Math.min(this.height - 1, Math.floor(bottom - 0.5));
    const xs: number[] = [];
    for (let y = y0; y <= y1; y++) {
      const cy = y + 0.5;
      xs.length = 0;
      for (let i = 0; i < points.length; i++) {
        const [ax, ay] = points[i]!;
        const [bx, by] = points[(i + 1) % points.length]!;
        if ((ay <= cy && by > cy) || (by <= cy && ay > cy)) {
          xs.push(ax + ((cy - ay) / (by - ay)) * (bx - ax));
        }
      }
      xs.sort((a, b) => a - b);
      for (let k = 0; k + 1 < xs.length; k += 2) {
        const x0 = Math.max(0, Math.ceil(xs[k]! - 0.5));
        const x1 = Math.min(this.width - 1, Math.floor(xs[k + 1]! - 0.5));
        for (let x = x0; x <= x1; x++) this.put(x, y, label, shade);
      }
    }
  }

  rect(x: number, y: number, w: number, h: number, label: number, shade: Shader): void {
    this.polygon([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], label, shade);
  }

  ellipse(cx: number, cy: number, rx: number, ry: number, label: number, shade: Shader,
    inner = 0): void {
    const y0 = Math.max(0, Math.ceil(cy - ry - 0.5));
    const y1 = Math.min(this.height - 1, Math.floor(cy + ry - 0.5));
    for (let y = y0; y <= y1; y++) {
      const dy = (y + 0.5 - cy) / ry;
      const half = rx * Math.sqrt(Math.max(0, 1 - dy * dy));
      const x0 = Math.max(0, Math.ceil(cx - half - 0.5));
      const x1 = Math.min(this.width - 1, Math.floor(cx + half - 0.5));
      for (let x = x0; x <= x1; x++) {
        if (inner > 0) {
          const dx = (x + 0.5 - cx) / rx;
          if (dx * dx + dy * dy < inner * inner) continue; // a ring: the hole shows through
        }
        this.put(x, y, label, shade);
      }
    }
  }

  /** A straight stroke of the given width (at least one pixel wide on screen). */
  line(ax: number, ay: number, bx: number, by: number, width: number, label: number,
    shade: Shader): void {
    const len = Math.hypot(bx - ax, by - ay) || 1;
    const w = Math.max(width, 1) / 2;
    const nx = (-(by - ay) / len) * w;
    const ny = ((bx - ax) / len) * w;
    this.polygon([[ax + nx, ay + ny], [bx + nx, by + ny], [bx - nx, by - ny], [ax - nx, ay - ny]],
      label, shade);
  }

  /** Multiplies the colour inside a polygon (shadows); labels are untouched. */
  darken(points: readonly Point[], factor: number): void {
    this.polygon(points, KEEP, (x, y, rgb) => {
      const i = (y * this.width + x) * 3;
      rgb[0] = this.rgb[i]! * factor;
      rgb[1] = this.rgb[i + 1]! * factor;
      rgb[2] = this.rgb[i + 2]! * factor;
    });
  }
}

/** Smooth value noise in [0, 1] over the canvas, `cell` pixels per lattice step. */
export function noiseField(width: number, height: number, cell: number, rng: Prng): Float32Array {
  const gw = Math.ceil(width / cell) + 2;
  const gh = Math.ceil(height / cell) + 2;
  const grid = new Float32Array(gw * gh);
  for (let i = 0; i < grid.length; i++) grid[i] = rng.float();
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const gy = y / cell;
    const iy = Math.floor(gy);
    const fy = gy - iy;
    const sy = fy * fy * (3 - 2 * fy);
    for (let x = 0; x < width; x++) {
      const gx = x / cell;
      const ix = Math.floor(gx);
      const fx = gx - ix;
      const sx = fx * fx * (3 - 2 * fx);
      const a = grid[iy * gw + ix]!;
      const b = grid[iy * gw + ix + 1]!;
      const c = grid[(iy + 1) * gw + ix]!;
      const d = grid[(iy + 1) * gw + ix + 1]!;
      out[y * width + x] = (a + (b - a) * sx) * (1 - sy) + (c + (d - c) * sx) * sy;
    }
  }
  return out;
}
