// A side street crossing the main one: tarmac across the whole width, over the sidewalks.

import { CLASS } from '../../classes.js';
import { FAR, ground } from '../camera.js';
import { tarmac } from '../paint.js';
import type { Thing } from './thing.js';

export function crossStreet(o: { z0: number; z1: number; tone: number }): Thing {
  return {
    // flat on the ground: drawn before anything that stands on it
    z: FAR,
    draw({ cam, canvas: c, tex }) {
      c.polygon(ground(cam, -200, 200, o.z0, o.z1), CLASS.road, tarmac(o.tone, tex));
    },
  };
}
