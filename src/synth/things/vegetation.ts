// Hedges, lots and trees: vegetation gets strong grain, which is what tells it apart.

import { CLASS } from '../../classes.js';
import { depthOf, project, sidePlane } from '../camera.js';
import { solid, type Rgb } from '../paint.js';
import type { Prng } from '../prng.js';
import type { Strip } from './structures.js';
import type { Thing } from './thing.js';

export function vegetationBlock(rng: Prng, o: Strip & { height: number }): Thing {
  const { x, z0, z1, height } = o;
  const green: Rgb = rng.pick<Rgb>([[60, 95, 40], [80, 110, 45], [50, 80, 45], [95, 105, 50]]);
  return {
    z: z0,
    zFar: z1,
    draw({ cam, canvas: c, tex }) {
      c.polygon(sidePlane(cam, x, 0, height, z0, z1), CLASS.vegetation, (px, py, rgb) => {
        const n = (tex.fine[py * c.width + px]! - 0.5) * 60 + (tex.medium[py * c.width + px]! - 0.5) * 40;
        rgb[0] = green[0] + n;
        rgb[1] = green[1] + n;
        rgb[2] = green[2] + n * 0.6;
      });
    },
  };
}

/** A trunk and a crown of overlapping blobs; the trunk is labelled vegetation too. */
export function tree(rng: Prng, o: { x: number; z: number }): Thing {
  const { x, z } = o;
  const trunkH = rng.range(1.8, 3.5);
  const crown = rng.range(1.5, 3.2);
  const green: Rgb = rng.pick<Rgb>([[60, 95, 40], [85, 115, 50], [50, 75, 40], [110, 115, 55]]);
  const blobs = Array.from({ length: rng.int(3, 6) }, () => [rng.range(-0.6, 0.6), rng.range(-0.5, 0.6), rng.range(0.5, 0.9)] as const);
  return {
    z,
    draw({ cam, canvas: c, tex }) {
      const d = depthOf(cam, z);
      const base = project(cam, x, 0, z);
      const top = project(cam, x, trunkH + crown * 0.3, z);
      c.line(base[0], base[1], top[0], top[1], Math.max(1, (cam.focal * 0.25) / d), CLASS.vegetation, solid([80, 60, 45], tex, 20));
      for (const [dx, dy, r] of blobs) {
        const p = project(cam, x + dx * crown, trunkH + crown + dy * crown, z);
        const rad = (cam.focal * r * crown) / d;
        c.ellipse(p[0], p[1], rad, rad * 0.9, CLASS.vegetation, (px, py, rgb) => {
          const n = (tex.fine[py * c.width + px]! - 0.5) * 70 + (tex.medium[py * c.width + px]! - 0.5) * 30;
          rgb[0] = green[0] + n;
          rgb[1] = green[1] + n;
          rgb[2] = green[2] + n * 0.5;
        });
      }
    },
  };
}
