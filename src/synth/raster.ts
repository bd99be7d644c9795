// The frame being painted: float RGB, the label map and an inverse-depth buffer. Every fill
// writes colour and label together, so labels are exact by construction, and the depth
// test makes occlusion right whatever order objects come in.

/**
 * Colours one pixel of a surface. u, v: surface coordinates (metres) at the pixel centre,
 * ppm: pixels per metre there (for fading detail finer than a pixel), i: the pixel index
 * (to read what is behind, for see-through things). Writes out[0..2] (0-255) and may lower
 * out[3] (alpha, preset to 1). Returns the label to write, or -1 to leave the pixel alone.
 */
export type Shader = (u: number, v: number, ppm: number, i: number, out: Float32Array) => number;

/** A projected vertex: screen position, inverse depth and u, v premultiplied by it. */
export interface ScreenVertex {
  x: number;
  y: number;
  w: number;
  uw: number;
  vw: number;
}

export class Raster {
  readonly rgb: Float32Array;
  readonly label: Uint8Array;
  /** 1 / depth of what each pixel shows; 0 = the sky at infinity. */
  readonly invDepth: Float32Array;
  private readonly out = new Float32Array(4);
  private readonly xs: number[] = [];

  constructor(readonly width: number, readonly height: number) {
    this.rgb = new Float32Array(width * height * 3);
    this.label = new Uint8Array(width * height);
    this.invDepth = new Float32Array(width * height);
  }

  /**
   * Fills the even-odd interior of planar contours (holes allowed), sampling pixel centres.
   * Attributes are perspective-correct: w, u*w and v*w are affine in screen space.
   */
  fill(contours: readonly (readonly ScreenVertex[])[], focal: number, light: readonly [number, number, number],
    shader: Shader): void {
    // three well-spread vertices define the attribute planes
    let v0: ScreenVertex | undefined;
    let top = Infinity;
    let bottom = -Infinity;
    let left = Infinity;
    let right = -Infinity;
    for (const c of contours) {
      for (const p of c) {
        v0 ??= p;
        if (p.y < top) top = p.y;
        if (p.y > bottom) bottom = p.y;
        if (p.x < left) left = p.x;
        if (p.x > right) right = p.x;
      }
    }
    if (!v0 || bottom < 0 || top > this.height || right < 0 || left > this.width) return;
    let v1 = v0;
    let far = -1;
    for (const c of contours) {
      for (const p of c) {
        const d = (p.x - v0.x) ** 2 + (p.y - v0.y) ** 2;
        if (d > far) { far = d; v1 = p; }
      }
    }
    let v2 = v0;
    let area = 0;
    for (const c of contours) {
      for (const p of c) {
        const a = Math.abs((v1.x - v0.x) * (p.y - v0.y) - (p.x - v0.x) * (v1.y - v0.y));
        if (a > area) { area = a; v2 = p; }
      }
    }
    if (area < 1e-6) return;
    const x1 = v1.x - v0.x;
    const y1 = v1.y - v0.y;
    const x2 = v2.x - v0.x;
    const y2 = v2.y - v0.y;
    const det = x1 * y2 - x2 * y1;
    const plane = (a0: number, a1: number, a2: number): [number, number, number] => {
      const A = ((a1 - a0) * y2 - (a2 - a0) * y1) / det;
      const B = (x1 * (a2 - a0) - x2 * (a1 - a0)) / det;
      return [A, B, a0 - A * v0.x - B * v0.y];
    };
    const [wA, wB, wC] = plane(v0.w, v1.w, v2.w);
    const [uA, uB, uC] = plane(v0.uw, v1.uw, v2.uw);
    const [vA, vB, vC] = plane(v0.vw, v1.vw, v2.vw);

    const W = this.width;
    const y0 = Math.max(0, Math.ceil(top - 0.5));
    const yEnd = Math.min(this.height - 1, Math.floor(bottom - 0.5));
    const xs = this.xs;
    const out = this.out;
    const rgb = this.rgb;
    const labels = this.label;
    const zbuf = this.invDepth;
    const [lr, lg, lb] = light;
    for (let y = y0; y <= yEnd; y++) {
      const cy = y + 0.5;
      xs.length = 0;
      for (const c of contours) {
        for (let k = 0, n = c.length; k < n; k++) {
          const a = c[k]!;
          const b = c[k + 1 === n ? 0 : k + 1]!;
          if ((a.y <= cy && b.y > cy) || (b.y <= cy && a.y > cy)) {
            xs.push(a.x + ((cy - a.y) / (b.y - a.y)) * (b.x - a.x));
          }
        }
      }
      if (xs.length < 2) continue;
      if (xs.length === 2) {
        if (xs[0]! > xs[1]!) xs.reverse();
      } else {
        xs.sort((p, q) => p - q);
      }
      for (let k = 0; k + 1 < xs.length; k += 2) {
        const xa = Math.max(0, Math.ceil(xs[k]! - 0.5));
        const xb = Math.min(W - 1, Math.floor(xs[k + 1]! - 0.5));
        for (let x = xa; x <= xb; x++) {
          const cx = x + 0.5;
          const w = wA * cx + wB * cy + wC;
          const i = y * W + x;
          // equal depth passes, so details drawn later on the same plane win
          if (w <= 0 || w < zbuf[i]! * 0.999999) continue;
          out[3] = 1;
          const label = shader((uA * cx + uB * cy + uC) / w, (vA * cx + vB * cy + vC) / w, focal * w, i, out);
          if (label < 0) continue;
          const j = i * 3;
          const alpha = out[3]!;
          if (alpha >= 1) {
            rgb[j] = out[0]! * lr;
            rgb[j + 1] = out[1]! * lg;
            rgb[j + 2] = out[2]! * lb;
          } else {
            rgb[j] = rgb[j]! + (out[0]! * lr - rgb[j]!) * alpha;
            rgb[j + 1] = rgb[j + 1]! + (out[1]! * lg - rgb[j + 1]!) * alpha;
            rgb[j + 2] = rgb[j + 2]! + (out[2]! * lb - rgb[j + 2]!) * alpha;
          }
          labels[i] = label;
          zbuf[i] = w;
        }
      }
    }
  }
}
