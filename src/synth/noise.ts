// Hash-based value noise evaluated at surface coordinates (metres), so textures stick to
// surfaces, shrink with distance and stay put from frame to frame of a clip.

/** Uniform in [0, 1) from two lattice integers and a seed. */
export function hash2(ix: number, iy: number, seed: number): number {
  let h = (Math.imul(ix | 0, 0x27d4eb2d) ^ Math.imul(iy | 0, 0x165667b1) ^ seed) | 0;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/** Uniform in [0, 1) from one integer and a seed. */
export function hash1(i: number, seed: number): number {
  return hash2(i, 0x5f356495, seed);
}

/** Smooth value noise in [0, 1]. */
export function valueNoise(x: number, y: number, seed: number): number {
  const ix = Math.floor(x);
  const iy = Math.floor(y);
  const fx = x - ix;
  const fy = y - iy;
  const sx = fx * fx * (3 - 2 * fx);
  const sy = fy * fy * (3 - 2 * fy);
  const a = hash2(ix, iy, seed);
  const b = hash2(ix + 1, iy, seed);
  const c = hash2(ix, iy + 1, seed);
  const d = hash2(ix + 1, iy + 1, seed);
  return a + (b - a) * sx + (c - a) * sy + (a - b - c + d) * sx * sy;
}

/**
 * Two octaves of value noise, centred on 0 (range about -0.5..0.5). `ppm` is the pixels per
 * metre where it is sampled: octaves finer than about two pixels fade out instead of
 * flickering into salt-and-pepper.
 */
export function fbm(x: number, y: number, cell: number, ppm: number, seed: number): number {
  const px1 = cell * ppm;
  let v = 0;
  if (px1 > 0.7) v += (valueNoise(x / cell, y / cell, seed) - 0.5) * (px1 > 2 ? 1 : (px1 - 0.7) / 1.3);
  const px2 = px1 * 0.37;
  if (px2 > 0.7) {
    v += (valueNoise(x / (cell * 0.37), y / (cell * 0.37), seed ^ 0x9e37) - 0.5) * 0.55 * (px2 > 2 ? 1 : (px2 - 0.7) / 1.3);
  }
  return v;
}

/** Fade factor in [0, 1] for a feature `size` metres wide at `ppm` pixels per metre. */
export function visible(size: number, ppm: number): number {
  const px = size * ppm;
  return px >= 1.6 ? 1 : px <= 0.5 ? 0 : (px - 0.5) / 1.1;
}
