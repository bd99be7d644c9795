// Bicycles and motorcycles, parked or ridden: only the seat and the vehicle below tell a
// rider from a person.

import { CLASS } from '../../classes.js';
import { depthOf, project } from '../camera.js';
import { randomPaint, solid, type Rgb } from '../paint.js';
import type { Prng } from '../prng.js';
import { SKIN_TONES, drawFigure, type Figure } from './people.js';
import type { Thing } from './thing.js';

export interface TwoWheelerOptions {
  kind: typeof CLASS.bicycle | typeof CLASS.motorcycle;
  x: number;
  z: number;
  ridden: boolean;
  /** Seen from the side (wheels apart) or from behind; drawn at random when not given. */
  sideways?: boolean;
}

export function twoWheeler(rng: Prng, o: TwoWheelerOptions): Thing {
  const { kind, x, z, ridden } = o;
  const motor = kind === CLASS.motorcycle;
  const frame: Rgb = randomPaint(rng);
  const top: Rgb = randomPaint(rng);
  const legs: Rgb = rng.pick<Rgb>([[30, 35, 60], [40, 40, 40], [20, 20, 25]]);
  const skin: Rgb = rng.pick(SKIN_TONES);
  const sideways = o.sideways ?? rng.chance(0.6);
  const rider: Figure = { height: rng.range(1.55, 1.9), top, legs, skin };
  return {
    z,
    draw(view) {
      const { cam, canvas: c, tex } = view;
      const unit = cam.focal / depthOf(cam, z);
      const r = motor ? 0.33 : 0.34;
      const half = sideways ? 0.55 : 0.05;
      const wheelA = project(cam, x - half, r, z);
      const wheelB = project(cam, x + half, r, z);
      const tyre = solid([25, 25, 25], tex, 10);
      const rx = sideways ? r * unit : r * unit * 0.25;
      c.ellipse(wheelA[0], wheelA[1], rx, r * unit, kind, tyre, motor ? 0.45 : 0.72);
      c.ellipse(wheelB[0], wheelB[1], rx, r * unit, kind, tyre, motor ? 0.45 : 0.72);
      const seat = project(cam, x - half * 0.3, r * 2.1, z);
      const bars = project(cam, x + half * 0.8, r * 2.6, z);
      const shade = solid(frame, tex, 12);
      if (motor) {
        c.polygon([[wheelA[0], wheelA[1]], [seat[0], seat[1]], [bars[0], bars[1]], [wheelB[0], wheelB[1]]], kind, shade);
      } else {
        c.line(wheelA[0], wheelA[1], seat[0], seat[1], 0.08 * unit, kind, shade);
        c.line(seat[0], seat[1], wheelB[0], wheelB[1], 0.08 * unit, kind, shade);
        c.line(seat[0], seat[1], bars[0], bars[1], 0.08 * unit, kind, shade);
      }
      if (ridden) {
        drawFigure(view, rider, { x: x - half * 0.2, y0: r * 2.1, z, stride: 0, label: CLASS.rider, seated: true });
      }
    },
  };
}
