// The sky: a gradient from zenith to a pale horizon, clouds on a plane high above the road
// (so they flatten toward the horizon), or a low grey overcast.

import { CLASS } from '../classes.js';
import type { Camera } from './camera.js';
import { mix, type Rgb } from './color.js';
import type { Raster } from './raster.js';
import type { Rng } from './rng.js';
import { valueNoise } from './noise.js';

export interface SkyLook {
  zenith: Rgb;
  horizon: Rgb;
  cloudColor: Rgb;
  /** Share of the sky under cloud (0..1). */
  cover: number;
  cloudScale: number;
  overcast: boolean;
  seed: number;
}

export function makeSky(rng: Rng, overcast: boolean): SkyLook {
  if (overcast) {
    const g = rng.range(150, 215);
    return {
      zenith: [g * 0.86, g * 0.88, g * 0.92], horizon: [g, g * 1.01, g * 1.03], cloudColor: [g * 0.8, g * 0.81, g * 0.84],
      cover: rng.range(0.3, 0.7), cloudScale: rng.range(0.5, 1.2), overcast, seed: rng.u32(),
    };
  }
  return {
    zenith: [rng.range(35, 95), rng.range(95, 150), rng.range(170, 235)],
    horizon: [rng.range(175, 220), rng.range(195, 225), rng.range(215, 248)],
    cloudColor: [rng.range(225, 248), rng.range(228, 250), rng.range(232, 252)],
    cover: rng.chance(0.25) ? 0 : rng.range(0.1, 0.6),
    cloudScale: rng.range(0.4, 1.5),
    overcast,
    seed: rng.u32(),
  };
}

/** Paints every pixel as sky at infinite depth; the ground and everything else go over it. */
export function drawSky(r: Raster, cam: Camera, sky: SkyLook): void {
  const { width, height, rgb, label, invDepth } = r;
  const threshold = 1 - sky.cover;
  for (let y = 0; y < height; y++) {
    const up = (cam.cy - (y + 0.5)) / cam.focal; // tangent of the elevation angle
    const t = Math.min(1, Math.max(0, up * 2.2));
    const base = mix(sky.horizon, sky.zenith, Math.sqrt(t));
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      let c0 = base[0];
      let c1 = base[1];
      let c2 = base[2];
      if (up > 0.015 && sky.cover > 0) {
        // clouds on a plane: distance grows as the view nears the horizon
        const dist = 1 / up;
        const az = (x + 0.5 - cam.cx) / cam.focal + cam.yaw;
        const cu = az * dist * sky.cloudScale * 2;
        const cv = dist * sky.cloudScale * 2 + cam.z * 0.002;
        const n = valueNoise(cu, cv, sky.seed) * 0.6 + valueNoise(cu * 3.1, cv * 3.1, sky.seed + 1) * 0.3 + valueNoise(cu * 9, cv * 9, sky.seed + 2) * 0.1;
        let c = (n - threshold * 0.85) / 0.25;
        if (c > 0) {
          c = Math.min(1, c) * Math.min(1, (up - 0.015) * 12);
          // cloud bases are darker than their tops
          const shade = sky.overcast ? 1 : 0.82 + 0.18 * Math.min(1, (n - threshold * 0.85) * 3);
          c0 += (sky.cloudColor[0] * shade - c0) * c;
          c1 += (sky.cloudColor[1] * shade - c1) * c;
          c2 += (sky.cloudColor[2] * shade - c2) * c;
        }
      }
      rgb[i * 3] = c0;
      rgb[i * 3 + 1] = c1;
      rgb[i * 3 + 2] = c2;
      label[i] = CLASS.sky;
      invDepth[i] = 0;
    }
  }
}
