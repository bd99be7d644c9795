// Paints a layout through a camera: sky, then the ground (terrain, road with markings,
// raised sidewalks), then the layout's things far to near.

import { CLASS } from '../classes.js';
import { FAR, NEAR, ground, sidePlane, type Camera } from './camera.js';
import { Canvas } from './canvas.js';
import { laneCount, type Layout, type Street } from './layout.js';
import { makeTextures, mix, solid, tarmac, type Textures } from './paint.js';

export interface RenderOptions {
  layout: Layout;
  camera: Camera;
  width: number;
  height: number;
  /** The layout's textures at this size, when a caller paints many frames of one layout. */
  textures?: Textures;
}

export function render(o: RenderOptions): Canvas {
  const { layout, camera: cam, width, height } = o;
  const c = new Canvas(width, height);
  const tex = o.textures ?? makeTextures(layout.seed, width, height);
  const st = layout.street;
  drawSky(c, cam, st, tex);
  drawGround(c, cam, st, tex);
  const view = { cam, canvas: c, tex };
  for (const thing of layout.things) {
    if (thing.z - cam.z <= NEAR) continue;
    c.instance = thing.instance ?? 0;
    thing.draw(view);
  }
  return c;
}

function drawSky(c: Canvas, cam: Camera, st: Street, tex: Textures): void {
  const clouds = tex.coarse;
  const horizon = Math.max(cam.horizon, 1);
  c.rect(0, 0, c.width, Math.min(c.height, horizon + 2), CLASS.sky, (x, y, rgb) => {
    const t = Math.min(1, y / horizon);
    const base = mix(st.skyTop, st.skyBottom, t);
    const cloud = Math.max(0, clouds[y * c.width + x]! - (st.overcast ? 0.35 : 0.55)) * (st.overcast ? 1.2 : 2.2);
    rgb[0] = base[0] + (235 - base[0]) * cloud;
    rgb[1] = base[1] + (235 - base[1]) * cloud;
    rgb[2] = base[2] + (238 - base[2]) * cloud;
  });
}

function drawGround(c: Canvas, cam: Camera, st: Street, tex: Textures): void {
  const far = cam.z + FAR;
  const near = cam.z + NEAR;
  const outer = st.roadHalf + st.sidewalk + st.terrain;
  // Beyond the street: terrain all the way to the sides (covered later by facades).
  c.polygon(ground(cam, -200, 200, near, far), CLASS.terrain, solid(st.terrainTint, tex, 40, 'medium'));
  // The road, then lane markings on it.
  c.polygon(ground(cam, -st.roadHalf, st.roadHalf, near, far), CLASS.road, tarmac(st.roadTone, tex));
  // Dashed centre line and solid edge lines, labelled road.
  const paint = solid([215, 215, 205], tex, 10);
  const yellow = solid([200, 170, 60], tex, 10);
  const lanes = laneCount(st);
  for (let l = -lanes + 1; l < lanes; l++) {
    const x = (l * st.roadHalf) / lanes;
    for (let z = Math.floor(cam.z / 9) * 9; z < cam.z + 120; z += 9) {
      c.polygon(ground(cam, x - 0.07, x + 0.07, z, z + 3.5), CLASS.road, l === 0 ? yellow : paint);
    }
  }
  for (const s of [-1, 1]) {
    const x = s * (st.roadHalf - 0.3);
    c.polygon(ground(cam, x - 0.06, x + 0.06, near, far), CLASS.road, paint);
  }
  if (st.hasTram) {
    for (const x of [-0.72, 0.72]) c.polygon(ground(cam, x - 0.04, x + 0.04, near, far), CLASS.road, solid([150, 150, 155], tex, 8));
  }
  // Sidewalks: raised, paved with joints; the curb face is sidewalk too.
  for (const s of [-1, 1]) {
    const a = s * st.roadHalf;
    const b = s * (st.roadHalf + st.sidewalk);
    const tint = st.sidewalkTint;
    c.polygon(sidePlane(cam, a, 0, st.curbHeight, near, far), CLASS.sidewalk, solid([tint[0] - 25, tint[1] - 25, tint[2] - 25], tex, 12));
    c.polygon(ground(cam, Math.min(a, b), Math.max(a, b), near, far, st.curbHeight), CLASS.sidewalk, (x, y, rgb) => {
      // joints every metre, found by inverse projection of the pixel onto the pavement
      const depth = (cam.focal * (cam.height - st.curbHeight)) / Math.max(y + 0.5 - cam.horizon, 0.01);
      const joint = (depth + cam.z) % 1.2 < 0.06 ? -22 : 0;
      const n = (tex.fine[y * c.width + x]! - 0.5) * 20 + joint;
      rgb[0] = tint[0] + n;
      rgb[1] = tint[1] + n;
      rgb[2] = tint[2] + n;
    });
    if (st.terrain > 0) {
      const t0 = s * (st.roadHalf + st.sidewalk);
      const t1 = s * outer;
      c.polygon(ground(cam, Math.min(t0, t1), Math.max(t0, t1), near, far, st.curbHeight), CLASS.terrain,
        solid(st.terrainTint, tex, 45, 'medium'));
    }
  }
}
