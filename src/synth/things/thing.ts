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
  draw(view: View): void;
}
