// Cars, trucks and buses from behind (similar colours, told apart by shape and size), trains
// along the street, and vehicles crossing in side view (length tells them apart).

import { CLASS } from '../../classes.js';
import { depthOf, facing, ground, project, sidePlane } from '../camera.js';
import { randomPaint, solid, type Rgb } from '../paint.js';
import type { Prng } from '../prng.js';
import type { Thing } from './thing.js';
import { twoWheeler } from './two-wheelers.js';

export type RoadVehicleClass = typeof CLASS.car | typeof CLASS.truck | typeof CLASS.bus
  | typeof CLASS.motorcycle | typeof CLASS.bicycle;

/** A vehicle in a lane or at the kerb, seen from behind; two-wheelers get a rider. */
export function vehicle(rng: Prng, o: { kind: RoadVehicleClass; x: number; z: number }): Thing {
  const { kind, x, z } = o;
  if (kind === CLASS.motorcycle || kind === CLASS.bicycle) return twoWheeler(rng, { kind, x, z, ridden: true });
  const body = randomPaint(rng);
  const dims = kind === CLASS.car ? [rng.range(1.6, 1.95), rng.range(1.35, 1.7)]
    : kind === CLASS.truck ? [rng.range(2.2, 2.55), rng.range(2.6, 3.8)]
      : [rng.range(2.45, 2.6), rng.range(2.9, 3.4)];
  const [w, h] = dims as [number, number];
  const glass: Rgb = rng.pick<Rgb>([[35, 45, 55], [60, 70, 80], [20, 25, 30]]);
  return {
    z,
    draw({ cam, canvas: c, tex }) {
      const d = depthOf(cam, z);
      const unit = cam.focal / d;
      c.darken(ground(cam, x - w / 2, x + w / 2 + 0.4, z - 0.3, z + 2.5), 0.6); // contact shadow
      const shade = solid(body, tex, 14);
      if (kind === CLASS.car) {
        c.polygon(facing(cam, x - w / 2, x + w / 2, 0.25, h * 0.55, z), kind, shade);
        const roof = facing(cam, x - w * 0.4, x + w * 0.4, h * 0.55, h, z);
        c.polygon([[roof[0]![0] + 0.1 * unit, roof[0]![1]], [roof[1]![0] - 0.1 * unit, roof[1]![1]], roof[2]!, roof[3]!], kind, shade);
        c.polygon(facing(cam, x - w * 0.34, x + w * 0.34, h * 0.6, h * 0.92, z), kind, solid(glass, tex, 8));
      } else if (kind === CLASS.truck) {
        // rear view: a tall box; a cab roof shows above when the box is low
        c.polygon(facing(cam, x - w / 2, x + w / 2, 0.45, h, z), kind, shade);
        c.polygon(facing(cam, x - w / 2 + 0.05, x + w / 2 - 0.05, 0.45, 0.75, z), kind, solid([40, 40, 40], tex, 8));
        for (const s of [-1, 1]) c.polygon(facing(cam, x + s * w * 0.25 - 0.04, x + s * w * 0.25 + 0.04, 0.8, h - 0.1, z), kind, solid([body[0] * 0.7, body[1] * 0.7, body[2] * 0.7], tex, 6));
      } else {
        // bus: a band of windows across and a destination display
        c.polygon(facing(cam, x - w / 2, x + w / 2, 0.3, h, z), kind, shade);
        c.polygon(facing(cam, x - w / 2 + 0.1, x + w / 2 - 0.1, h * 0.45, h * 0.88, z), kind, solid(glass, tex, 8));
        c.polygon(facing(cam, x - w * 0.3, x + w * 0.3, h * 0.9, h * 0.97, z), kind, solid([240, 160, 30], tex, 8));
      }
      for (const s of [-1, 1]) {
        c.polygon(facing(cam, x + s * w * 0.38 - 0.12, x + s * w * 0.38 + 0.12, 0, 0.35, z + 0.01), kind, solid([20, 20, 20], tex, 6));
        c.polygon(facing(cam, x + s * w * 0.4 - 0.1, x + s * w * 0.4 + 0.1, h * 0.35, h * 0.42, z - 0.01), kind, solid([200, 40, 30], tex, 10));
      }
    },
  };
}

/** A tram or train on the street; its long side recedes along the track, so depth shows its length. */
export function train(rng: Prng, o: { x: number; z: number }): Thing {
  const { x, z } = o;
  const body: Rgb = rng.pick<Rgb>([[220, 220, 215], [200, 40, 40], [240, 200, 40], [40, 90, 160], [90, 95, 100]]);
  const w = 2.65;
  const h = rng.range(3.4, 3.9);
  const length = rng.range(25, 60);
  return {
    z,
    draw({ cam, canvas: c, tex }) {
      const shade = solid(body, tex, 12);
      c.polygon(sidePlane(cam, x + w / 2, 0.3, h, z, z + length), CLASS.train, shade);
      c.polygon(sidePlane(cam, x - w / 2, 0.3, h, z, z + length), CLASS.train, shade);
      c.polygon(facing(cam, x - w / 2, x + w / 2, 0.3, h, z), CLASS.train, shade);
      c.polygon(facing(cam, x - w / 2 + 0.25, x + w / 2 - 0.25, h * 0.5, h * 0.85, z - 0.01), CLASS.train, solid([30, 40, 50], tex, 8));
      const top = project(cam, x, h, z);
      const wire = project(cam, x, h + 1.2, z);
      const unit = cam.focal / depthOf(cam, z);
      c.line(top[0], top[1], wire[0], wire[1], 0.06 * unit, CLASS.train, solid([50, 50, 50], tex, 4));
    },
  };
}

export type SideVehicleClass = typeof CLASS.car | typeof CLASS.truck | typeof CLASS.bus | typeof CLASS.train;

/** A vehicle crossing the street in side view, its rear end at x; trucks have their cab at the far end. */
export function sideVehicle(rng: Prng, o: { kind: SideVehicleClass; x: number; z: number }): Thing {
  const { kind, x, z } = o;
  const body = randomPaint(rng);
  const length = kind === CLASS.car ? rng.range(3.8, 4.8) : kind === CLASS.truck ? rng.range(7, 12)
    : kind === CLASS.bus ? rng.range(11, 13.5) : rng.range(30, 50);
  const h = kind === CLASS.car ? 1.5 : kind === CLASS.train ? 3.7 : 3.2;
  return {
    z,
    draw({ cam, canvas: c, tex }) {
      const shade = solid(body, tex, 12);
      c.polygon(facing(cam, x, x + length, 0.3, h, z), kind, shade);
      const glass = solid([35, 45, 55], tex, 8);
      if (kind === CLASS.truck) {
        c.polygon(facing(cam, x + length - 2.2, x + length, 0.3, h * 0.95, z - 0.01), kind, solid([body[1], body[2], body[0]], tex, 10));
        c.polygon(facing(cam, x + length - 1.6, x + length - 0.3, h * 0.6, h * 0.85, z - 0.02), kind, glass);
      } else {
        const step = kind === CLASS.car ? length / 2 : 1.6;
        for (let u = x + 0.4; u + step * 0.7 < x + length - 0.2; u += step) {
          c.polygon(facing(cam, u, u + step * 0.7, h * (kind === CLASS.car ? 0.62 : 0.5), h * 0.88, z - 0.01), kind, glass);
        }
      }
      const wheels = kind === CLASS.train ? [] : [x + 0.9, x + length - 0.9];
      for (const u of wheels) {
        const p = project(cam, u, 0.35, z - 0.02);
        const r = (cam.focal * 0.35) / depthOf(cam, z);
        c.ellipse(p[0], p[1], r, r, kind, solid([20, 20, 20], tex, 6));
      }
    },
  };
}
