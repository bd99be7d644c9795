// What every painted thing is: a depth for the painter's algorithm and a draw call.

import type { Camera } from '../camera.js';
import type { Canvas } from '../canvas.js';
import type { Textures } from '../paint.js';

/** Where a thing is drawn: the camera, the canvas, and the scene's textures. */
export interface View {
  cam: Camera;
  canvas: Canvas;
  tex: Textures;
}

/** Something standing in the world, drawn far to near by its z. */
export interface Thing {
  z: number;
  /**
   * The far end of a strip along the street (facade, wall, fence, hedge). Sorting strips by
   * it draws them before whatever stands in the street beside them, which a sort by their
   * near end (z) gets wrong for a strip reaching past the thing; clips sort this way.
   * (Single scenes keep the near end: their pinned output depends on it.)
   */
  zFar?: number;
  /** Numbers the pixels this thing labels in Canvas.instances (clips' moving objects). */
  instance?: number;
  draw(view: View): void;
}
