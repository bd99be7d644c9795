// People: standing or walking pedestrians, and the seated figure that makes a rider.

import { CLASS } from '../../classes.js';
import { depthOf, project } from '../camera.js';
import { randomPaint, solid, type Rgb } from '../paint.js';
import type { Prng } from '../prng.js';
import type { Thing, View } from './thing.js';

/** How a figure looks: its height (m) and the colours of its clothes and skin. */
export interface Figure {
  height: number;
  top: Rgb;
  legs: Rgb;
  skin: Rgb;
}

/** Where and how a figure is drawn. */
export interface FigurePose {
  x: number;
  /** Height (m) of the feet, or of the seat for a seated figure. */
  y0: number;
  z: number;
  /** Lateral offset (m) of each foot from the hip; 0 for a seated figure. */
  stride: number;
  label: number;
  seated: boolean;
}

export const SKIN_TONES: readonly Rgb[] = [[230, 190, 160], [190, 140, 100], [120, 85, 60]];

/** A pedestrian seen from the front or back; a given stride animates walking. */
export function person(rng: Prng, o: { x: number; z: number; stride?: number }): Thing {
  const figure: Figure = {
    height: rng.range(1.5, 1.95),
    top: randomPaint(rng),
    legs: rng.pick<Rgb>([[30, 35, 60], [40, 40, 40], [90, 80, 70], [20, 20, 25]]),
    skin: rng.pick(SKIN_TONES),
  };
  const stride = o.stride ?? rng.range(-0.15, 0.15);
  const pose: FigurePose = { x: o.x, y0: 0, z: o.z, stride, label: CLASS.person, seated: false };
  return { z: o.z, draw: (view) => drawFigure(view, figure, pose) };
}

export function drawFigure({ cam, canvas: c, tex }: View, figure: Figure, pose: FigurePose): void {
  const { height, top, legs, skin } = figure;
  const { x, y0, z, stride, label, seated } = pose;
  const unit = cam.focal / depthOf(cam, z);
  const hip = seated ? y0 + 0.05 : y0 + height * 0.48;
  const shoulder = (seated ? y0 + height * 0.42 : y0 + height * 0.82);
  const head = shoulder + height * 0.1;
  const pHip = project(cam, x, hip, z);
  const pShoulder = project(cam, x, shoulder, z);
  const pHead = project(cam, x, head, z);
  const legShade = solid(legs, tex, 14);
  if (!seated) {
    const foot = project(cam, x, y0, z);
    c.line(pHip[0], pHip[1], foot[0] - stride * unit, foot[1], 0.16 * unit, label, legShade);
    c.line(pHip[0], pHip[1], foot[0] + stride * unit, foot[1], 0.16 * unit, label, legShade);
  } else {
    const knee = project(cam, x + 0.25, y0 - height * 0.1, z);
    c.line(pHip[0], pHip[1], knee[0], knee[1], 0.16 * unit, label, legShade);
  }
  c.line(pHip[0], pHip[1], pShoulder[0], pShoulder[1], 0.42 * unit, label, solid(top, tex, 16));
  const hand = project(cam, x + (seated ? 0.35 : 0.28), (seated ? shoulder - 0.1 : hip), z);
  c.line(pShoulder[0] + 0.15 * unit, pShoulder[1], hand[0], hand[1], 0.1 * unit, label, solid(top, tex, 16));
  c.ellipse(pHead[0], pHead[1], 0.11 * unit, 0.13 * unit, label, solid(skin, tex, 10));
}
