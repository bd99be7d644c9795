// Sun and sky light: every face is lit by its normal, so boxes read as solid and the sun
// side differs from the shade side. Ground facing up with the sun unblocked comes out near 1.

import type { Rgb } from './color.js';
import type { Rng } from './rng.js';

export interface Lighting {
  /** Unit vector toward the sun. */
  readonly sun: readonly [number, number, number];
  readonly sunColor: Rgb;
  readonly ambient: Rgb;
  readonly overcast: boolean;
}

export function makeLighting(rng: Rng): Lighting {
  const overcast = rng.chance(0.3);
  const elevation = rng.range(0.25, 1.05);
  const azimuth = rng.range(0, 2 * Math.PI);
  const sun: [number, number, number] = [
    Math.cos(elevation) * Math.sin(azimuth),
    Math.sin(elevation),
    Math.cos(elevation) * Math.cos(azimuth),
  ];
  // the sun's share of the light on the ground; the sky gives the rest
  const direct = overcast ? rng.range(0.05, 0.15) : rng.range(0.4, 0.62);
  const sunK = direct / sun[1];
  const ambientK = 1 - direct;
  const warm = overcast ? 0 : rng.range(0, 0.12);
  return {
    sun,
    sunColor: [sunK * (1 + warm), sunK, sunK * (1 - warm)],
    ambient: [ambientK * (1 - warm * 0.5), ambientK, ambientK * (1 + warm * 0.6)],
    overcast,
  };
}

/** Light multiplier of a face with unit normal n; sunScale < 1 where the sun is blocked. */
export function faceLight(l: Lighting, nx: number, ny: number, nz: number, sunScale = 1): [number, number, number] {
  // faces see less sky the more they point down
  const sky = 0.78 + 0.22 * ny;
  const d = Math.max(0, nx * l.sun[0] + ny * l.sun[1] + nz * l.sun[2]) * sunScale;
  return [l.ambient[0] * sky + l.sunColor[0] * d, l.ambient[1] * sky + l.sunColor[1] * d, l.ambient[2] * sky + l.sunColor[2] * d];
}
