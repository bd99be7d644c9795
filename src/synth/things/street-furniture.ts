// Poles with traffic lights or signs, bare poles, and traffic lights hung over the road:
// the thin classes, kept at least a pixel or two wide at 512 px by their distances.

import { CLASS } from '../../classes.js';
import { depthOf, project } from '../camera.js';
import { solid, type Rgb } from '../paint.js';
import type { Prng } from '../prng.js';
import type { Thing } from './thing.js';

export type PoleKind = 'light' | 'sign' | 'bare';

export function pole(rng: Prng, o: { x: number; z: number; kind: PoleKind }): Thing {
  const { x, z, kind } = o;
  const height = kind === 'light' ? rng.range(3, 4.5) : kind === 'sign' ? rng.range(2.2, 3.2) : rng.range(4, 9);
  const width = rng.range(0.12, 0.26);
  const metal: Rgb = rng.pick<Rgb>([[110, 110, 115], [70, 75, 70], [150, 150, 150], [50, 50, 55]]);
  const signShape = rng.int(0, 2);
  const signColor: Rgb = rng.pick<Rgb>([[200, 30, 30], [30, 70, 170], [230, 230, 230], [240, 190, 20]]);
  const lamps = rng.int(0, 2);
  return {
    z,
    draw({ cam, canvas: c, tex }) {
      const d = depthOf(cam, z);
      const a = project(cam, x, 0, z);
      const b = project(cam, x, height, z);
      c.line(a[0], a[1], b[0], b[1], (cam.focal * width) / d, CLASS.pole, solid(metal, tex, 14));
      const unit = cam.focal / d;
      if (kind === 'light') {
        const w = 0.4 * unit;
        const h = 1.0 * unit;
        c.rect(b[0] - w / 2, b[1] - h, w, h, CLASS.trafficLight, solid([30, 32, 30], tex, 8));
        for (let i = 0; i < 3; i++) {
          const on = i === lamps;
          const col: Rgb = on ? ([[240, 40, 30], [250, 170, 20], [40, 220, 90]] as const)[i]! : [60, 60, 55];
          c.ellipse(b[0], b[1] - h + (i + 0.5) * (h / 3), w * 0.32, w * 0.32, CLASS.trafficLight, solid(col, tex, 6));
        }
      } else if (kind === 'sign') {
        const r = 0.35 * unit;
        const cy = b[1] - r;
        const shade = solid(signColor, tex, 10);
        if (signShape === 0) c.ellipse(b[0], cy, r, r, CLASS.trafficSign, shade);
        else if (signShape === 1) c.polygon([[b[0], cy - r], [b[0] + r, cy + r * 0.8], [b[0] - r, cy + r * 0.8]], CLASS.trafficSign, shade);
        else c.rect(b[0] - r, cy - r * 0.7, 2 * r, 1.4 * r, CLASS.trafficSign, shade);
      }
    },
  };
}

/** A traffic light on an arm over the road, its mast at the kerb of the road's nearer side. */
export function overheadLight(rng: Prng, o: { roadHalf: number; z: number }): Thing {
  const { roadHalf, z } = o;
  const x = rng.range(-roadHalf * 0.5, roadHalf * 0.5);
  const y = rng.range(5, 6.5);
  return {
    z,
    draw({ cam, canvas: c, tex }) {
      const s = Math.sign(x) || 1;
      const a = project(cam, s * (roadHalf + 0.5), 0, z);
      const b = project(cam, s * (roadHalf + 0.5), y, z);
      const e = project(cam, x, y, z);
      const unit = cam.focal / depthOf(cam, z);
      c.line(a[0], a[1], b[0], b[1], 0.18 * unit, CLASS.pole, solid([90, 90, 95], tex, 10));
      c.line(b[0], b[1], e[0], e[1], 0.12 * unit, CLASS.pole, solid([90, 90, 95], tex, 10));
      c.rect(e[0] - 0.16 * unit, e[1], 0.32 * unit, 0.9 * unit, CLASS.trafficLight, solid([25, 28, 25], tex, 8));
      c.ellipse(e[0], e[1] + 0.15 * unit, 0.1 * unit, 0.1 * unit, CLASS.trafficLight, solid([240, 50, 30], tex, 6));
    },
  };
}
