// What the layout is made of: things that can draw themselves for a camera at a time t and
// say where they stand (for draw order) and what shadow they cast.

import type { Camera } from './camera.js';
import type { Frame, Painter } from './draw3d.js';
import type { Street } from './street.js';

export interface DrawContext {
  painter: Painter;
  cam: Camera;
  street: Street;
  /** Seconds since the first frame of the clip. */
  t: number;
}

/** Shadow-casting volumes, in world metres. */
export type Caster =
  | { kind: 'box'; f: Frame; a0: number; a1: number; b0: number; b1: number; h0: number; h1: number }
  | { kind: 'blob'; x: number; y: number; z: number; r: number }
  | { kind: 'stick'; x: number; z: number; base: number; top: number; width: number };

export interface SceneObject {
  /** Drawn after the solid things, far to near: it lets what is behind show through. */
  readonly late: boolean;
  /** World x, z of its base at time t. */
  anchor(t: number): { x: number; z: number };
  draw(ctx: DrawContext): void;
  casters?(t: number): Caster[];
}
