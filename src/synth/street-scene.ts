// Procedural street scenes seen from a car: a layout in world coordinates (metres), drawn
// through a pinhole camera with the painter's algorithm. Large regions (road, sky, facades)
// are easy; thin, small and look-alike things (poles, signs, bicycles, rider vs person,
// wall vs building, truck vs bus vs train) need depth and context to tell apart.

import { CLASS } from '../classes.js';
import { Canvas, noiseField, type Point, type Shader } from './canvas.js';
import { Prng } from './prng.js';

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

type Rgb = readonly [number, number, number];

interface Street {
  roadHalf: number;
  sidewalk: number;
  terrain: number;
  curbHeight: number;
  roadTone: number;
  sidewalkTint: Rgb;
  terrainTint: Rgb;
  overcast: boolean;
  skyTop: Rgb;
  skyBottom: Rgb;
  hasTram: boolean;
}

/** Something standing in the world, drawn in depth order. */
interface Thing {
  z: number;
  draw: (cam: Camera, c: Canvas, tex: Textures) => void;
}

interface Textures {
  fine: Float32Array;
  medium: Float32Array;
  coarse: Float32Array;
  width: number;
}

export interface Layout {
  street: Street;
  things: Thing[];
  seed: number;
}

const NEAR = 0.8;
const FAR = 400;

// ------------------------------------------------------------------ projection helpers

function project(cam: Camera, x: number, y: number, z: number): Point {
  const depth = Math.max(z - cam.z, NEAR);
  return [cam.cx + (cam.focal * (x - cam.x)) / depth, cam.horizon + (cam.focal * (cam.height - y)) / depth];
}

function depthOf(cam: Camera, z: number): number {
  return Math.max(z - cam.z, NEAR);
}

/** A rectangle in a plane facing the camera (constant z). */
function facing(cam: Camera, x0: number, x1: number, y0: number, y1: number, z: number): Point[] {
  const a = project(cam, x0, y0, z);
  const b = project(cam, x1, y1, z);
  return [[a[0], b[1]], [b[0], b[1]], [b[0], a[1]], [a[0], a[1]]];
}

/** A quad on a vertical plane x = const between depths z0 and z1. */
function sidePlane(cam: Camera, x: number, y0: number, y1: number, z0: number, z1: number): Point[] {
  return [project(cam, x, y0, z0), project(cam, x, y0, z1), project(cam, x, y1, z1), project(cam, x, y1, z0)];
}

/** A quad on the ground between lateral bounds and depths. */
function ground(cam: Camera, x0: number, x1: number, z0: number, z1: number, y = 0): Point[] {
  return [project(cam, x0, y, z0), project(cam, x1, y, z0), project(cam, x1, y, z1), project(cam, x0, y, z1)];
}

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

function solid(color: Rgb, tex: Textures, grain = 18, field: keyof Omit<Textures, 'width'> = 'fine'): Shader {
  const noise = tex[field];
  return (x, y, rgb) => {
    const n = (noise[y * tex.width + x]! - 0.5) * grain;
    rgb[0] = color[0] + n;
    rgb[1] = color[1] + n;
    rgb[2] = color[2] + n;
  };
}

function randomPaint(rng: Prng): Rgb {
  const palette: Rgb[] = [
    [200, 200, 205], [30, 30, 35], [150, 20, 25], [25, 50, 120], [90, 95, 100],
    [230, 230, 225], [60, 90, 60], [180, 140, 40], [120, 60, 30], [70, 70, 140], [15, 80, 110],
  ];
  const base = rng.pick(palette);
  const j = rng.range(-20, 20);
  return [base[0] + j, base[1] + j, base[2] + j];
}

/** Concrete, brick and plaster tones shared by buildings, walls and fences on purpose. */
function masonry(rng: Prng): Rgb {
  const tones: Rgb[] = [
    [150, 140, 128], [120, 115, 110], [170, 160, 145], [140, 90, 70], [110, 100, 95],
    [185, 175, 160], [95, 90, 92], [160, 120, 95], [130, 130, 135],
  ];
  const t = rng.pick(tones);
  const j = rng.range(-15, 15);
  return [t[0] + j, t[1] + j, t[2] + j];
}

// ------------------------------------------------------------------ the layout

function makeStreet(rng: Prng): Street {
  const overcast = rng.chance(0.3);
  return {
    roadHalf: rng.range(3.2, 7.5),
    sidewalk: rng.range(1.5, 4.5),
    terrain: rng.chance(0.45) ? rng.range(1, 5) : 0,
    curbHeight: rng.range(0.08, 0.18),
    roadTone: rng.range(60, 105),
    sidewalkTint: rng.pick<Rgb>([[150, 148, 145], [165, 150, 140], [135, 135, 140], [170, 165, 150]]),
    terrainTint: rng.pick<Rgb>([[110, 120, 60], [130, 115, 75], [95, 125, 55], [140, 130, 90]]),
    overcast,
    skyTop: overcast ? [170, 175, 180] : [rng.range(40, 90), rng.range(100, 140), rng.range(170, 220)],
    skyBottom: overcast ? [205, 208, 212] : [rng.range(170, 210), rng.range(195, 220), rng.range(220, 245)],
    hasTram: rng.chance(0.18),
  };
}

export function makeLayout(seed: number): Layout {
  const rng = new Prng(seed);
  const street = makeStreet(rng);
  const things: Thing[] = [];
  const side = (s: number) => s * (street.roadHalf + street.sidewalk + street.terrain);

  // Facades, walls and fences along both sides, from near to far.
  for (const s of [-1, 1]) {
    let z = rng.range(-2, 4);
    while (z < 160) {
      const length = rng.range(8, 30);
      const kind = rng.float();
      const x = side(s);
      if (kind < 0.12) {
        // an open lot: vegetation or terrain behind a fence or wall
        things.push(vegetationBlock(rng.fork(), x + s * rng.range(2, 8), z, z + length, rng.range(3, 10)));
        things.push(rng.chance(0.5)
          ? fence(rng.fork(), x - s * 0.3, z, z + length)
          : wall(rng.fork(), x - s * 0.2, z, z + length, rng.range(0.8, 2.4)));
      } else {
        things.push(facade(rng.fork(), x, z, z + length, rng.range(8, 32), s));
        if (rng.chance(0.22)) things.push(wall(rng.fork(), x - s * 0.4, z, z + length * rng.range(0.4, 1), rng.range(0.8, 2.6)));
        else if (rng.chance(0.18)) things.push(fence(rng.fork(), x - s * 0.5, z, z + length * rng.range(0.4, 1)));
        else if (rng.chance(0.2)) things.push(vegetationBlock(rng.fork(), x - s * 0.6, z, z + length * rng.range(0.3, 1), rng.range(0.8, 1.8)));
      }
      z += length + (rng.chance(0.15) ? rng.range(2, 8) : 0);
    }
  }
  // The end of the street: a skyline, sometimes trees.
  things.push(skyline(rng.fork()));

  // Street furniture on the sidewalks.
  for (const s of [-1, 1]) {
    let z = rng.range(3, 12);
    while (z < 80) {
      const x = s * (street.roadHalf + rng.range(0.3, 0.9));
      const r = rng.float();
      if (r < 0.35) things.push(pole(rng.fork(), x, z, 'light'));
      else if (r < 0.65) things.push(pole(rng.fork(), x, z, 'sign'));
      else if (r < 0.8) things.push(pole(rng.fork(), x, z, 'bare'));
      else things.push(tree(rng.fork(), s * (street.roadHalf + street.sidewalk * rng.range(0.4, 0.9)), z));
      z += rng.range(6, 22);
    }
  }
  if (rng.chance(0.35)) things.push(overheadLight(rng.fork(), street, rng.range(15, 45)));

  // People on the sidewalks.
  const people = rng.int(0, 9);
  for (let i = 0; i < people; i++) {
    const s = rng.chance(0.5) ? -1 : 1;
    things.push(person(rng.fork(), s * (street.roadHalf + rng.range(0.4, street.sidewalk)), rng.range(3, 45), CLASS.person));
  }
  // Crossing pedestrians.
  if (rng.chance(0.3)) {
    const zc = rng.range(8, 30);
    const n = rng.int(1, 4);
    for (let i = 0; i < n; i++) things.push(person(rng.fork(), rng.range(-street.roadHalf, street.roadHalf), zc + rng.range(-1, 1), CLASS.person));
  }

  // Traffic in the lanes, parked cars at the kerbs, bikes and riders.
  const lanes = Math.max(1, Math.floor(street.roadHalf / 1.8));
  const vehicles = rng.int(1, 8);
  for (let i = 0; i < vehicles; i++) {
    const lane = rng.int(0, 2 * lanes - 1);
    const x = -street.roadHalf + (lane + 0.5) * (2 * street.roadHalf / (2 * lanes));
    const r = rng.float();
    const kind = r < 0.42 ? CLASS.car : r < 0.56 ? CLASS.truck : r < 0.68 ? CLASS.bus : r < 0.84 ? CLASS.motorcycle : CLASS.bicycle;
    // two-wheelers ride nearer on average: far away they shrink below a pixel
    const z = kind === CLASS.motorcycle || kind === CLASS.bicycle ? rng.range(4, 30) : rng.range(5, 70);
    things.push(vehicle(rng.fork(), kind, x, z));
  }
  const parked = rng.int(0, 6);
  for (let i = 0; i < parked; i++) {
    const s = rng.chance(0.5) ? -1 : 1;
    const kind = rng.chance(0.85) ? CLASS.car : CLASS.truck;
    things.push(vehicle(rng.fork(), kind, s * (street.roadHalf - 1.2), rng.range(4, 70)));
  }
  // Parked bicycles and motorcycles on the sidewalk, without riders.
  const bikes = rng.int(0, 4);
  for (let i = 0; i < bikes; i++) {
    const s = rng.chance(0.5) ? -1 : 1;
    things.push(twoWheeler(rng.fork(), rng.chance(0.6) ? CLASS.bicycle : CLASS.motorcycle,
      s * (street.roadHalf + rng.range(0.3, street.sidewalk)), rng.range(4, 30), false));
  }
  if (street.hasTram || rng.chance(0.08)) {
    things.push(train(rng.fork(), rng.range(-1.5, 1.5), rng.range(12, 70)));
  }
  // Vehicles crossing far ahead, seen from the side: length tells bus, truck and train apart.
  if (rng.chance(0.35)) {
    const r = rng.float();
    const kind = r < 0.45 ? CLASS.car : r < 0.65 ? CLASS.truck : r < 0.85 ? CLASS.bus : CLASS.train;
    things.push(sideVehicle(rng.fork(), kind, rng.range(-12, 12), rng.range(20, 50)));
  }

  things.sort((a, b) => b.z - a.z);
  return { street, things, seed };
}

// ------------------------------------------------------------------ rendering

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

export function render(layout: Layout, cam: Camera, width: number, height: number): Canvas {
  const c = new Canvas(width, height);
  const rng = new Prng(layout.seed ^ 0x5bd1e995);
  const scale = Math.max(1, width / 512);
  const tex: Textures = {
    fine: noiseField(width, height, 2 * scale, rng),
    medium: noiseField(width, height, 9 * scale, rng),
    coarse: noiseField(width, height, 40 * scale, rng),
    width,
  };
  const st = layout.street;
  drawSky(c, cam, st, tex);
  drawGround(c, cam, st, tex);
  for (const thing of layout.things) {
    if (thing.z - cam.z > NEAR) thing.draw(cam, c, tex);
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
  // Road, with a texture that fades with distance so far tarmac looks smooth.
  const tone = st.roadTone;
  c.polygon(ground(cam, -st.roadHalf, st.roadHalf, near, far), CLASS.road, (x, y, rgb) => {
    const n = (tex.fine[y * c.width + x]! - 0.5) * 22 + (tex.coarse[y * c.width + x]! - 0.5) * 18;
    rgb[0] = tone + n;
    rgb[1] = tone + n;
    rgb[2] = tone + 4 + n;
  });
  // Lane markings: dashed centre line and solid edge lines, labelled road.
  const paint = solid([215, 215, 205], tex, 10);
  const yellow = solid([200, 170, 60], tex, 10);
  const lanes = Math.max(1, Math.floor(st.roadHalf / 1.8));
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

// ------------------------------------------------------------------ things

function facade(rng: Prng, x: number, z0: number, z1: number, height: number, s: number): Thing {
  const color = masonry(rng);
  const winColor: Rgb = rng.pick<Rgb>([[40, 50, 60], [70, 85, 100], [25, 30, 35], [110, 120, 130]]);
  const floor = rng.range(2.8, 3.6);
  const bay = rng.range(2, 4);
  const winW = rng.range(0.35, 0.7);
  const winH = rng.range(0.35, 0.65);
  const shopfront = rng.chance(0.5);
  return {
    z: z0,
    draw(cam, c, tex) {
      c.polygon(sidePlane(cam, x, 0, height, z0, z1), CLASS.building, (px, py, rgb) => {
        // facade coordinates of this pixel: depth from the column, height from the row
        const depth = (cam.focal * (x - cam.x)) / (px + 0.5 - cam.cx || 1e-3);
        const h = cam.height - ((py + 0.5 - cam.horizon) * depth) / cam.focal;
        const u = (depth + cam.z - z0) / bay;
        const v = h / floor;
        const inWin = h > (shopfront ? floor : 0.8) && u - Math.floor(u) < winW && v - Math.floor(v) < winH;
        const shop = shopfront && h < floor * 0.85 && h > 0.3 && u - Math.floor(u) < 0.8;
        const n = (tex.fine[py * c.width + px]! - 0.5) * 20 + (tex.medium[py * c.width + px]! - 0.5) * 16;
        const base = inWin || shop ? winColor : color;
        const shade = 0.85 + 0.15 * s * 0.5;
        rgb[0] = (base[0] + n) * shade;
        rgb[1] = (base[1] + n) * shade;
        rgb[2] = (base[2] + n) * shade;
      });
    },
  };
}

function wall(rng: Prng, x: number, z0: number, z1: number, height: number): Thing {
  const color = masonry(rng);
  const capped = rng.chance(0.5);
  return {
    z: z0,
    draw(cam, c, tex) {
      c.polygon(sidePlane(cam, x, 0, height, z0, z1), CLASS.wall, solid(color, tex, 26, 'fine'));
      if (capped) c.polygon(sidePlane(cam, x, height - 0.15, height, z0, z1), CLASS.wall, solid([color[0] - 30, color[1] - 30, color[2] - 30], tex, 10));
    },
  };
}

function fence(rng: Prng, x: number, z0: number, z1: number): Thing {
  const metal = rng.chance(0.5);
  const color: Rgb = metal ? rng.pick<Rgb>([[60, 70, 65], [90, 90, 95], [40, 40, 45]]) : masonry(rng);
  const height = rng.range(1, 2.2);
  const gap = rng.range(0.12, 0.35);
  return {
    z: z0,
    draw(cam, c, tex) {
      const shade = solid(color, tex, 16);
      for (const h of [0.15, height * 0.55, height]) {
        const a = project(cam, x, h, z0);
        const b = project(cam, x, h, z1);
        c.line(a[0], a[1], b[0], b[1], Math.max(1, cam.focal * 0.08 / depthOf(cam, z0)), CLASS.fence, shade);
      }
      for (let z = z0; z < z1; z += gap) {
        const a = project(cam, x, 0, z);
        const b = project(cam, x, height, z);
        c.line(a[0], a[1], b[0], b[1], Math.max(1, (cam.focal * 0.07) / depthOf(cam, z)), CLASS.fence, shade);
      }
    },
  };
}

function vegetationBlock(rng: Prng, x: number, z0: number, z1: number, height: number): Thing {
  const green: Rgb = rng.pick<Rgb>([[60, 95, 40], [80, 110, 45], [50, 80, 45], [95, 105, 50]]);
  return {
    z: z0,
    draw(cam, c, tex) {
      const top = sidePlane(cam, x, 0, height, z0, z1);
      c.polygon(top, CLASS.vegetation, (px, py, rgb) => {
        const n = (tex.fine[py * c.width + px]! - 0.5) * 60 + (tex.medium[py * c.width + px]! - 0.5) * 40;
        rgb[0] = green[0] + n;
        rgb[1] = green[1] + n;
        rgb[2] = green[2] + n * 0.6;
      });
    },
  };
}

function tree(rng: Prng, x: number, z: number): Thing {
  const trunkH = rng.range(1.8, 3.5);
  const crown = rng.range(1.5, 3.2);
  const green: Rgb = rng.pick<Rgb>([[60, 95, 40], [85, 115, 50], [50, 75, 40], [110, 115, 55]]);
  const blobs = Array.from({ length: rng.int(3, 6) }, () => [rng.range(-0.6, 0.6), rng.range(-0.5, 0.6), rng.range(0.5, 0.9)] as const);
  return {
    z,
    draw(cam, c, tex) {
      const d = depthOf(cam, z);
      const base = project(cam, x, 0, z);
      const top = project(cam, x, trunkH + crown * 0.3, z);
      c.line(base[0], base[1], top[0], top[1], Math.max(1, (cam.focal * 0.25) / d), CLASS.vegetation, solid([80, 60, 45], tex, 20));
      for (const [dx, dy, r] of blobs) {
        const p = project(cam, x + dx * crown, trunkH + crown + dy * crown, z);
        const rad = (cam.focal * r * crown) / d;
        c.ellipse(p[0], p[1], rad, rad * 0.9, CLASS.vegetation, (px, py, rgb) => {
          const n = (tex.fine[py * c.width + px]! - 0.5) * 70 + (tex.medium[py * c.width + px]! - 0.5) * 30;
          rgb[0] = green[0] + n;
          rgb[1] = green[1] + n;
          rgb[2] = green[2] + n * 0.5;
        });
      }
    },
  };
}

function skyline(rng: Prng): Thing {
  const z = rng.range(140, 260);
  const blocks = Array.from({ length: rng.int(4, 10) }, () => ({
    x0: rng.range(-90, 80), w: rng.range(10, 40), h: rng.range(10, 60), color: masonry(rng),
    trees: rng.chance(0.3),
  }));
  return {
    z,
    draw(cam, c, tex) {
      for (const b of blocks) {
        c.polygon(facing(cam, b.x0, b.x0 + b.w, 0, b.h, z), CLASS.building, solid(b.color, tex, 14, 'medium'));
        if (b.trees) {
          c.polygon(facing(cam, b.x0, b.x0 + b.w, 0, b.h * 0.3, z - 5), CLASS.vegetation, solid([70, 100, 45], tex, 50, 'fine'));
        }
      }
    },
  };
}

function pole(rng: Prng, x: number, z: number, kind: 'light' | 'sign' | 'bare'): Thing {
  const height = kind === 'light' ? rng.range(3, 4.5) : kind === 'sign' ? rng.range(2.2, 3.2) : rng.range(4, 9);
  const width = rng.range(0.12, 0.26);
  const metal: Rgb = rng.pick<Rgb>([[110, 110, 115], [70, 75, 70], [150, 150, 150], [50, 50, 55]]);
  const signShape = rng.int(0, 2);
  const signColor: Rgb = rng.pick<Rgb>([[200, 30, 30], [30, 70, 170], [230, 230, 230], [240, 190, 20]]);
  const lamps = rng.int(0, 2);
  return {
    z,
    draw(cam, c, tex) {
      const d = depthOf(cam, z);
      const a = project(cam, x, 0, z);
      const b = project(cam, x, height, z);
      c.line(a[0], a[1], b[0], b[1], (cam.focal * width) / d, CLASS.pole, solid(metal, tex, 14));
      const unit = cam.focal / d;
      if (kind === 'light') {
        const w = 0.4 * unit;
        const h = 1.0 * unit;
        c.rect(b[0] - w / 2, b[1] - h, w, h, CLASS.trafficLight, solid([30, 32, 30], tex, 8));
        for (let i = 0; i < 3; i++) {
          const on = i === lamps;
          const col: Rgb = on ? ([[240, 40, 30], [250, 170, 20], [40, 220, 90]] as const)[i]! : [60, 60, 55];
          c.ellipse(b[0], b[1] - h + (i + 0.5) * (h / 3), w * 0.32, w * 0.32, CLASS.trafficLight, solid(col, tex, 6));
        }
      } else if (kind === 'sign') {
        const r = 0.35 * unit;
        const cy = b[1] - r;
        const shade = solid(signColor, tex, 10);
        if (signShape === 0) c.ellipse(b[0], cy, r, r, CLASS.trafficSign, shade);
        else if (signShape === 1) c.polygon([[b[0], cy - r], [b[0] + r, cy + r * 0.8], [b[0] - r, cy + r * 0.8]], CLASS.trafficSign, shade);
        else c.rect(b[0] - r, cy - r * 0.7, 2 * r, 1.4 * r, CLASS.trafficSign, shade);
      }
    },
  };
}

function overheadLight(rng: Prng, st: Street, z: number): Thing {
  const x = rng.range(-st.roadHalf * 0.5, st.roadHalf * 0.5);
  const y = rng.range(5, 6.5);
  return {
    z,
    draw(cam, c, tex) {
      const s = Math.sign(x) || 1;
      const a = project(cam, s * (st.roadHalf + 0.5), 0, z);
      const b = project(cam, s * (st.roadHalf + 0.5), y, z);
      const e = project(cam, x, y, z);
      const unit = cam.focal / depthOf(cam, z);
      c.line(a[0], a[1], b[0], b[1], 0.18 * unit, CLASS.pole, solid([90, 90, 95], tex, 10));
      c.line(b[0], b[1], e[0], e[1], 0.12 * unit, CLASS.pole, solid([90, 90, 95], tex, 10));
      c.rect(e[0] - 0.16 * unit, e[1], 0.32 * unit, 0.9 * unit, CLASS.trafficLight, solid([25, 28, 25], tex, 8));
      c.ellipse(e[0], e[1] + 0.15 * unit, 0.1 * unit, 0.1 * unit, CLASS.trafficLight, solid([240, 50, 30], tex, 6));
    },
  };
}

function person(rng: Prng, x: number, z: number, label: number): Thing {
  const height = rng.range(1.5, 1.95);
  const top: Rgb = randomPaint(rng);
  const legs: Rgb = rng.pick<Rgb>([[30, 35, 60], [40, 40, 40], [90, 80, 70], [20, 20, 25]]);
  const skin: Rgb = rng.pick<Rgb>([[230, 190, 160], [190, 140, 100], [120, 85, 60]]);
  const stride = rng.range(-0.15, 0.15);
  return { z, draw: (cam, c, tex) => drawPerson(cam, c, tex, x, 0, z, height, top, legs, skin, stride, label, false) };
}

function drawPerson(cam: Camera, c: Canvas, tex: Textures, x: number, y0: number, z: number,
  height: number, top: Rgb, legs: Rgb, skin: Rgb, stride: number, label: number, seated: boolean): void {
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

function twoWheeler(rng: Prng, kind: number, x: number, z: number, ridden: boolean): Thing {
  const motor = kind === CLASS.motorcycle;
  const frame: Rgb = randomPaint(rng);
  const top: Rgb = randomPaint(rng);
  const legs: Rgb = rng.pick<Rgb>([[30, 35, 60], [40, 40, 40], [20, 20, 25]]);
  const skin: Rgb = rng.pick<Rgb>([[230, 190, 160], [190, 140, 100], [120, 85, 60]]);
  const sideways = rng.chance(0.6);
  const riderHeight = rng.range(1.55, 1.9);
  return {
    z,
    draw(cam, c, tex) {
      const unit = cam.focal / depthOf(cam, z);
      const r = motor ? 0.33 : 0.34;
      const half = sideways ? 0.55 : 0.05;
      const wheelA = project(cam, x - half, r, z);
      const wheelB = project(cam, x + half, r, z);
      const tyre = solid([25, 25, 25], tex, 10);
      const rx = sideways ? r * unit : r * unit * 0.25;
      c.ellipse(wheelA[0], wheelA[1], rx, r * unit, kind, tyre, motor ? 0.45 : 0.72);
      c.ellipse(wheelB[0], wheelB[1], rx, r * unit, kind, tyre, motor ? 0.45 : 0.72);
      const seat = project(cam, x - half * 0.3, r * 2.1, z);
      const bars = project(cam, x + half * 0.8, r * 2.6, z);
      const shade = solid(frame, tex, 12);
      if (motor) {
        c.polygon([[wheelA[0], wheelA[1]], [seat[0], seat[1]], [bars[0], bars[1]], [wheelB[0], wheelB[1]]], kind, shade);
      } else {
        c.line(wheelA[0], wheelA[1], seat[0], seat[1], 0.08 * unit, kind, shade);
        c.line(seat[0], seat[1], wheelB[0], wheelB[1], 0.08 * unit, kind, shade);
        c.line(seat[0], seat[1], bars[0], bars[1], 0.08 * unit, kind, shade);
      }
      if (ridden) drawPerson(cam, c, tex, x - half * 0.2, r * 2.1, z, riderHeight, top, legs, skin, 0, CLASS.rider, true);
    },
  };
}

function vehicle(rng: Prng, kind: number, x: number, z: number): Thing {
  if (kind === CLASS.motorcycle || kind === CLASS.bicycle) return twoWheeler(rng, kind, x, z, true);
  const body = randomPaint(rng);
  const dims = kind === CLASS.car ? [rng.range(1.6, 1.95), rng.range(1.35, 1.7)]
    : kind === CLASS.truck ? [rng.range(2.2, 2.55), rng.range(2.6, 3.8)]
      : [rng.range(2.45, 2.6), rng.range(2.9, 3.4)];
  const [w, h] = dims as [number, number];
  const glass: Rgb = rng.pick<Rgb>([[35, 45, 55], [60, 70, 80], [20, 25, 30]]);
  return {
    z,
    draw(cam, c, tex) {
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

function train(rng: Prng, x: number, z: number): Thing {
  const body: Rgb = rng.pick<Rgb>([[220, 220, 215], [200, 40, 40], [240, 200, 40], [40, 90, 160], [90, 95, 100]]);
  const w = 2.65;
  const h = rng.range(3.4, 3.9);
  const length = rng.range(25, 60);
  return {
    z,
    draw(cam, c, tex) {
      // the long side recedes along the track, so depth shows its length
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

function sideVehicle(rng: Prng, kind: number, x: number, z: number): Thing {
  const body = randomPaint(rng);
  const length = kind === CLASS.car ? rng.range(3.8, 4.8) : kind === CLASS.truck ? rng.range(7, 12)
    : kind === CLASS.bus ? rng.range(11, 13.5) : rng.range(30, 50);
  const h = kind === CLASS.car ? 1.5 : kind === CLASS.train ? 3.7 : 3.2;
  return {
    z,
    draw(cam, c, tex) {
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

