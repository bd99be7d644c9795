// Buildings and what stands in front of them: facades with windows and shopfronts, walls,
// fences, and the skyline at the end of the street.

import { CLASS } from '../../classes.js';
import { depthOf, facing, project, sidePlane } from '../camera.js';
import { masonry, solid, type Rgb } from '../paint.js';
import type { Prng } from '../prng.js';
import type { Thing } from './thing.js';

/** A vertical strip along the street at lateral position x, from depth z0 to z1. */
export interface Strip {
  x: number;
  z0: number;
  z1: number;
}

export function facade(rng: Prng, o: Strip & { height: number; side: number }): Thing {
  const { x, z0, z1, height } = o;
  const color = masonry(rng);
  const winColor: Rgb = rng.pick<Rgb>([[40, 50, 60], [70, 85, 100], [25, 30, 35], [110, 120, 130]]);
  const floor = rng.range(2.8, 3.6);
  const bay = rng.range(2, 4);
  const winW = rng.range(0.35, 0.7);
  const winH = rng.range(0.35, 0.65);
  const shopfront = rng.chance(0.5);
  // the side facing the light is a little brighter
  const shade = 0.85 + 0.15 * o.side * 0.5;
  return {
    z: z0,
    zFar: z1,
    draw({ cam, canvas: c, tex }) {
      c.polygon(sidePlane(cam, x, 0, height, z0, z1), CLASS.building, (px, py, rgb) => {
        // facade coordinates of this pixel: depth from the column, height from the row
        const depth = (cam.focal * (x - cam.x)) / (px + 0.5 - cam.cx || 1e-3);
        const h = cam.height - ((py + 0.5 - cam.horizon) * depth) / cam.focal;
        const u = (depth + cam.z - z0) / bay;
        const v = h / floor;
        const inWin = h > (shopfront ? floor : 0.8) && u - Math.floor(u) < winW && v - Math.floor(v) < winH;
        const shop = shopfront && h < floor * 0.85 && h > 0.3 && u - Math.floor(u) < 0.8;
        const n = (tex.fine[py * c.width + px]! - 0.5) * 20 + (tex.medium[py * c.width + px]! - 0.5) * 16;
        const base = inWin || shop ? winColor : color;
        rgb[0] = (base[0] + n) * shade;
        rgb[1] = (base[1] + n) * shade;
        rgb[2] = (base[2] + n) * shade;
      });
    },
  };
}

export function wall(rng: Prng, o: Strip & { height: number }): Thing {
  const { x, z0, z1, height } = o;
  const color = masonry(rng);
  const capped = rng.chance(0.5);
  return {
    z: z0,
    zFar: z1,
    draw({ cam, canvas: c, tex }) {
      c.polygon(sidePlane(cam, x, 0, height, z0, z1), CLASS.wall, solid(color, tex, 26, 'fine'));
      if (capped) c.polygon(sidePlane(cam, x, height - 0.15, height, z0, z1), CLASS.wall, solid([color[0] - 30, color[1] - 30, color[2] - 30], tex, 10));
    },
  };
}

/** Rails and slats with the background showing through the gaps. */
export function fence(rng: Prng, o: Strip): Thing {
  const { x, z0, z1 } = o;
  const metal = rng.chance(0.5);
  const color: Rgb = metal ? rng.pick<Rgb>([[60, 70, 65], [90, 90, 95], [40, 40, 45]]) : masonry(rng);
  const height = rng.range(1, 2.2);
  const gap = rng.range(0.12, 0.35);
  return {
    z: z0,
    zFar: z1,
    draw({ cam, canvas: c, tex }) {
      const shade = solid(color, tex, 16);
      for (const h of [0.15, height * 0.55, height]) {
        const a = project(cam, x, h, z0);
        const b = project(cam, x, h, z1);
        c.line(a[0], a[1], b[0], b[1], Math.max(1, cam.focal * 0.08 / depthOf(cam, z0)), CLASS.fence, shade);
      }
      for (let z = z0; z < z1; z += gap) {
        const a = project(cam, x, 0, z);
        const b = project(cam, x, height, z);
        c.line(a[0], a[1], b[0], b[1], Math.max(1, (cam.focal * 0.07) / depthOf(cam, z)), CLASS.fence, shade);
      }
    },
  };
}

/** Blocks far down the street, some with trees in front. */
export function skyline(rng: Prng): Thing {
  const z = rng.range(140, 260);
  const blocks = Array.from({ length: rng.int(4, 10) }, () => ({
    x0: rng.range(-90, 80), w: rng.range(10, 40), h: rng.range(10, 60), color: masonry(rng),
    trees: rng.chance(0.3),
  }));
  return {
    z,
    draw({ cam, canvas: c, tex }) {
      for (const b of blocks) {
        c.polygon(facing(cam, b.x0, b.x0 + b.w, 0, b.h, z), CLASS.building, solid(b.color, tex, 14, 'medium'));
        if (b.trees) {
          c.polygon(facing(cam, b.x0, b.x0 + b.w, 0, b.h * 0.3, z - 5), CLASS.vegetation, solid([70, 100, 45], tex, 50, 'fine'));
        }
      }
    },
  };
}
