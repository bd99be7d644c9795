// A pinhole camera on the car: position in world metres (x right, y up, z forward), a yaw,
// and the image-plane parameters in pixels. Pitch is folded into the horizon row.

export interface CameraPose {
  x: number;
  y: number;
  z: number;
  /** Radians, positive turns right. */
  yaw: number;
  focal: number;
  /** Principal point column and the horizon row. */
  cx: number;
  cy: number;
}

export interface Camera extends CameraPose {
  readonly cos: number;
  readonly sin: number;
  /** Geometry nearer than this (m) is clipped away. */
  readonly near: number;
}

export function makeCamera(pose: CameraPose): Camera {
  return { ...pose, cos: Math.cos(pose.yaw), sin: Math.sin(pose.yaw), near: 0.25 };
}

/** Camera-space depth of a world point (positive in front). */
export function depthOf(cam: Camera, x: number, z: number): number {
  return cam.sin * (x - cam.x) + cam.cos * (z - cam.z);
}

/** Screen position of a world point in front of the camera, or null behind it. */
export function project(cam: Camera, x: number, y: number, z: number): [number, number] | null {
  const dx = x - cam.x;
  const dz = z - cam.z;
  const zc = cam.sin * dx + cam.cos * dz;
  if (zc < cam.near) return null;
  const xc = cam.cos * dx - cam.sin * dz;
  return [cam.cx + (cam.focal * xc) / zc, cam.cy - (cam.focal * (y - cam.y)) / zc];
}
