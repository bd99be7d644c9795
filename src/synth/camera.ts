// The pinhole camera that looks down the street (world in metres: x lateral, y up, z forward),
// and the projections every painted thing is built from.

import type { Point } from './canvas.js';
import type { Prng } from './prng.js';

export interface Camera {
  /** Lateral position (m) and forward travel (m) of the camera. */
  x: number;
  z: number;
  height: number;
  /** Focal length in pixels, horizon row and vanishing column. */
  focal: number;
  horizon: number;
  cx: number;
}

/** Things closer than this are behind the image plane and not drawn. */
export const NEAR = 0.8;
/** The ground and road are drawn out to this depth. */
export const FAR = 400;

export function defaultCamera(width: number, height: number, rng: Prng): Camera {
  return {
    x: rng.range(-1.2, 1.2),
    z: 0,
    height: rng.range(1.2, 1.8),
    // Cityscapes' camera has a focal length of about 1.1 x the image width
    focal: width * rng.range(0.8, 1.2),
    horizon: height * rng.range(0.36, 0.5),
    cx: width * rng.range(0.4, 0.6),
  };
}

export function depthOf(cam: Camera, z: number): number {
  return Math.max(z - cam.z, NEAR);
}

export function project(cam: Camera, x: number, y: number, z: number): Point {
  const depth = depthOf(cam, z);
  return [cam.cx + (cam.focal * (x - cam.x)) / depth, cam.horizon + (cam.focal * (cam.height - y)) / depth];
}

/** A rectangle in a plane facing the camera (constant z). */
export function facing(cam: Camera, x0: number, x1: number, y0: number, y1: number, z: number): Point[] {
  const a = project(cam, x0, y0, z);
  const b = project(cam, x1, y1, z);
  return [[a[0], b[1]], [b[0], b[1]], [b[0], a[1]], [a[0], a[1]]];
}

/** A quad on a vertical plane x = const between depths z0 and z1. */
export function sidePlane(cam: Camera, x: number, y0: number, y1: number, z0: number, z1: number): Point[] {
  return [project(cam, x, y0, z0), project(cam, x, y0, z1), project(cam, x, y1, z1), project(cam, x, y1, z0)];
}

/** A quad on the ground between lateral bounds and depths. */
export function ground(cam: Camera, x0: number, x1: number, z0: number, z1: number, y = 0): Point[] {
  return [project(cam, x0, y, z0), project(cam, x1, y, z0), project(cam, x1, y, z1), project(cam, x0, y, z1)];
}
