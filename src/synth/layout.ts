// A street laid out in world coordinates (metres): its cross-section and colours, then what
// stands along it, placed from one seeded stream. The placement steps are separate so that
// clips can reuse the street's fixed parts and bring their own traffic.

import { CLASS } from '../classes.js';
import type { Rgb } from './paint.js';
import { Prng } from './prng.js';
import { person } from './things/people.js';
import { pole, overheadLight } from './things/street-furniture.js';
import { facade, fence, skyline, wall } from './things/structures.js';
import type { Thing } from './things/thing.js';
import { twoWheeler } from './things/two-wheelers.js';
import { vegetationBlock, tree } from './things/vegetation.js';
import { sideVehicle, train, vehicle } from './things/vehicles.js';

/** The street's cross-section (m), surfaces and sky. */
export interface Street {
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

export interface Layout {
  street: Street;
  /** In drawing order: far to near. */
  things: Thing[];
  /** Seeds the scene's textures. */
  seed: number;
}

export function makeStreet(rng: Prng): Street {
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

/** Lanes per direction. */
export function laneCount(street: Street): number {
  return Math.max(1, Math.floor(street.roadHalf / 1.8));
}

/** Lateral centre of lane 0 .. 2 * laneCount - 1, counted from the left kerb. */
export function laneCentre(street: Street, lane: number): number {
  const lanes = laneCount(street);
  return -street.roadHalf + (lane + 0.5) * (2 * street.roadHalf / (2 * lanes));
}

/** Painter's order: far things first; the sort is stable, so ties keep their placing order. */
export function farToNear(things: Thing[]): Thing[] {
  return things.sort((a, b) => b.z - a.z);
}

/** One street scene: the fixed parts, then people and traffic. */
export function makeLayout(seed: number): Layout {
  const rng = new Prng(seed);
  const street = makeStreet(rng);
  const things = [
    ...placeBuildings(rng, street),
    ...placeFurniture(rng, street),
    ...placePedestrians(rng, street),
    ...placeLaneTraffic(rng, street),
    ...placeParked(rng, street),
    ...placeRailAndCrossing(rng, street),
  ];
  return { street, things: farToNear(things), seed };
}

/** A stretch of depth kept free of buildings: where a side street crosses. */
export interface Gap {
  z0: number;
  z1: number;
}

/** Facades, walls, fences and lots along both sides from near to far, and the skyline. */
export function placeBuildings(rng: Prng, street: Street, gap?: Gap): Thing[] {
  const things: Thing[] = [];
  const side = (s: number) => s * (street.roadHalf + street.sidewalk + street.terrain);
  for (const s of [-1, 1]) {
    let z = rng.range(-2, 4);
    while (z < 160) {
      if (gap && z >= gap.z0 && z < gap.z1) z = gap.z1;
      let length = rng.range(8, 30);
      if (gap && z < gap.z0 && z + length > gap.z0) length = gap.z0 - z;
      const kind = rng.float();
      const x = side(s);
      if (kind < 0.12) {
        // an open lot: vegetation or terrain behind a fence or wall
        things.push(vegetationBlock(rng.fork(), { x: x + s * rng.range(2, 8), z0: z, z1: z + length, height: rng.range(3, 10) }));
        things.push(rng.chance(0.5)
          ? fence(rng.fork(), { x: x - s * 0.3, z0: z, z1: z + length })
          : wall(rng.fork(), { x: x - s * 0.2, z0: z, z1: z + length, height: rng.range(0.8, 2.4) }));
      } else {
        things.push(facade(rng.fork(), { x, z0: z, z1: z + length, height: rng.range(8, 32), side: s }));
        if (rng.chance(0.22)) {
          things.push(wall(rng.fork(), { x: x - s * 0.4, z0: z, z1: z + length * rng.range(0.4, 1), height: rng.range(0.8, 2.6) }));
        } else if (rng.chance(0.18)) {
          things.push(fence(rng.fork(), { x: x - s * 0.5, z0: z, z1: z + length * rng.range(0.4, 1) }));
        } else if (rng.chance(0.2)) {
          things.push(vegetationBlock(rng.fork(), { x: x - s * 0.6, z0: z, z1: z + length * rng.range(0.3, 1), height: rng.range(0.8, 1.8) }));
        }
      }
      z += length + (rng.chance(0.15) ? rng.range(2, 8) : 0);
    }
  }
  // The end of the street: a skyline, sometimes trees.
  things.push(skyline(rng.fork()));
  return things;
}

/** Poles, signs, traffic lights and trees on the sidewalks, up to 80 m ahead. */
export function placeFurniture(rng: Prng, street: Street): Thing[] {
  const things: Thing[] = [];
  for (const s of [-1, 1]) {
    let z = rng.range(3, 12);
    while (z < 80) {
      const x = s * (street.roadHalf + rng.range(0.3, 0.9));
      const r = rng.float();
      if (r < 0.35) things.push(pole(rng.fork(), { x, z, kind: 'light' }));
      else if (r < 0.65) things.push(pole(rng.fork(), { x, z, kind: 'sign' }));
      else if (r < 0.8) things.push(pole(rng.fork(), { x, z, kind: 'bare' }));
      else things.push(tree(rng.fork(), { x: s * (street.roadHalf + street.sidewalk * rng.range(0.4, 0.9)), z }));
      z += rng.range(6, 22);
    }
  }
  if (rng.chance(0.35)) things.push(overheadLight(rng.fork(), { roadHalf: street.roadHalf, z: rng.range(15, 45) }));
  return things;
}

/** People on the sidewalks and, sometimes, a group on a crossing. */
function placePedestrians(rng: Prng, street: Street): Thing[] {
  const things: Thing[] = [];
  const people = rng.int(0, 9);
  for (let i = 0; i < people; i++) {
    const s = rng.chance(0.5) ? -1 : 1;
    things.push(person(rng.fork(), { x: s * (street.roadHalf + rng.range(0.4, street.sidewalk)), z: rng.range(3, 45) }));
  }
  if (rng.chance(0.3)) {
    const zc = rng.range(8, 30);
    const n = rng.int(1, 4);
    for (let i = 0; i < n; i++) {
      things.push(person(rng.fork(), { x: rng.range(-street.roadHalf, street.roadHalf), z: zc + rng.range(-1, 1) }));
    }
  }
  return things;
}

/** Vehicles and ridden two-wheelers in the lanes. */
function placeLaneTraffic(rng: Prng, street: Street): Thing[] {
  const things: Thing[] = [];
  const lanes = laneCount(street);
  const vehicles = rng.int(1, 8);
  for (let i = 0; i < vehicles; i++) {
    const x = laneCentre(street, rng.int(0, 2 * lanes - 1));
    const r = rng.float();
    const kind = r < 0.42 ? CLASS.car : r < 0.56 ? CLASS.truck : r < 0.68 ? CLASS.bus : r < 0.84 ? CLASS.motorcycle : CLASS.bicycle;
    // two-wheelers ride nearer on average: far away they shrink below a pixel
    const z = kind === CLASS.motorcycle || kind === CLASS.bicycle ? rng.range(4, 30) : rng.range(5, 70);
    things.push(vehicle(rng.fork(), { kind, x, z }));
  }
  return things;
}

/** Cars and trucks parked at the kerbs; bicycles and motorcycles without riders on the sidewalks. */
export function placeParked(rng: Prng, street: Street): Thing[] {
  const things: Thing[] = [];
  const parked = rng.int(0, 6);
  for (let i = 0; i < parked; i++) {
    const s = rng.chance(0.5) ? -1 : 1;
    const kind = rng.chance(0.85) ? CLASS.car : CLASS.truck;
    things.push(vehicle(rng.fork(), { kind, x: s * (street.roadHalf - 1.2), z: rng.range(4, 70) }));
  }
  const bikes = rng.int(0, 4);
  for (let i = 0; i < bikes; i++) {
    const s = rng.chance(0.5) ? -1 : 1;
    things.push(twoWheeler(rng.fork(), {
      kind: rng.chance(0.6) ? CLASS.bicycle : CLASS.motorcycle,
      x: s * (street.roadHalf + rng.range(0.3, street.sidewalk)),
      z: rng.range(4, 30),
      ridden: false,
    }));
  }
  return things;
}

/** A tram on its rails (or, rarely, on a street without), and a vehicle crossing far ahead. */
function placeRailAndCrossing(rng: Prng, street: Street): Thing[] {
  const things: Thing[] = [];
  if (street.hasTram || rng.chance(0.08)) {
    things.push(train(rng.fork(), { x: rng.range(-1.5, 1.5), z: rng.range(12, 70) }));
  }
  // seen from the side: length tells bus, truck and train apart
  if (rng.chance(0.35)) {
    const r = rng.float();
    const kind = r < 0.45 ? CLASS.car : r < 0.65 ? CLASS.truck : r < 0.85 ? CLASS.bus : CLASS.train;
    things.push(sideVehicle(rng.fork(), { kind, x: rng.range(-12, 12), z: rng.range(20, 50) }));
  }
  return things;
}
