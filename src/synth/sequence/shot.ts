// One scene of a clip, between two cuts: a street with a side street crossing ahead, its
// fixed parts (buildings, furniture and, for a fixed camera, parked vehicles), the camera,
// its look, and the traffic planned for the scene's frames.

import { defaultCamera, type Camera } from '../camera.js';
import { makeLook, type Look } from '../develop.js';
import { makeStreet, placeBuildings, placeFurniture, placeParked, type Gap, type Street } from '../layout.js';
import { Prng } from '../prng.js';
import { crossStreet } from '../things/cross-street.js';
import type { Thing } from '../things/thing.js';
import type { ShotSpan } from './events.js';
import { planTraffic, type Actor } from './traffic.js';

export interface Shot extends ShotSpan {
  /** Seeds the scene's textures. */
  seed: number;
  street: Street;
  /** What does not move, in no particular order. */
  fixed: Thing[];
  /** The camera at the first frame, at rest. */
  camera: Camera;
  look: Look;
  actors: Actor[];
}

export function makeShot(o: { seed: number; span: ShotSpan; width: number; height: number; firstId: number }): Shot {
  const { span, width, height } = o;
  const rng = new Prng(o.seed);
  const seed = Math.floor(rng.float() * 4294967296);
  const layout = rng.fork();
  const street = makeStreet(layout);
  const driving = span.cameraSpeed > 0;
  // the side street lies ahead of a driving camera for most of its 60 m
  const centre = driving ? rng.range(25, 50) : rng.range(10, 22);
  const half = rng.range(4.5, 7);
  const crossing: Gap = { z0: centre - half, z1: centre + half };
  const inGap = (t: Thing) => t.z > crossing.z0 && t.z < crossing.z1;
  // nothing stands in the side street; a driving camera would run into parked cars
  const fixed = [
    crossStreet({ ...crossing, tone: street.roadTone }),
    // strips go by their far end: drawn before what stands beside them, and drawn on while
    // the camera is beside them (their near end clipped at the image plane)
    ...placeBuildings(layout, street, crossing).map((t) => ({ ...t, z: t.zFar ?? t.z })),
    ...placeFurniture(layout, street).filter((t) => !inGap(t)),
    ...(driving ? [] : placeParked(layout, street).filter((t) => !inGap(t))),
  ];
  const camera = defaultCamera(width, height, rng.fork());
  // a fixed camera, or one behind the windscreen: no bonnet in the picture
  const look = { ...makeLook(rng.fork(), height), hood: 0 };
  const actors = planTraffic(rng.fork(), {
    street, camera, cameraSpeed: span.cameraSpeed, width, crossing, start: span.start, end: span.end, firstId: o.firstId,
  });
  return { ...span, seed, street, fixed, camera, look, actors };
}

/** The camera at frame f: driven forward, displaced by a shake. */
export function cameraAt(shot: Shot, f: number, offset: readonly [number, number]): Camera {
  const cam = shot.camera;
  return { ...cam, z: cam.z + shot.cameraSpeed * (f - shot.start), cx: cam.cx + offset[0], horizon: cam.horizon + offset[1] };
}
