// The moving things of a clip: vehicles in the lanes, traffic and people on a side street
// crossing ahead, pedestrians on the sidewalks, and parked cars and waiting people that start
// to move. Each actor follows a path of way points at its own speed; at frame f its thing is
// placed where the path has brought it, with looks drawn from its own seed every frame.
// Frames are 1/10 s apart, so speeds are in metres per frame (1 m/frame = 36 km/h).

import { CLASS } from '../../classes.js';
import { NEAR, type Camera } from '../camera.js';
import { laneCentre, laneCount, type Gap, type Street } from '../layout.js';
import { Prng } from '../prng.js';
import { person } from '../things/people.js';
import type { Thing } from '../things/thing.js';
import { twoWheeler } from '../things/two-wheelers.js';
import { sideVehicle, vehicle } from '../things/vehicles.js';

export const ACTOR_KINDS = ['car', 'bus', 'truck', 'motorcycle', 'bicycle', 'person'] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];

/** How an actor moves: along a lane, across on the side street, along a sidewalk, or from a standstill. */
export type Route = 'lane' | 'crossing' | 'sidewalk' | 'pulling-out' | 'waiting';

type Waypoint = readonly [x: number, z: number];

export interface Actor {
  readonly id: number;
  readonly kind: ActorKind;
  readonly route: Route;
  /** Seeds its looks: the same car in every frame. */
  readonly looks: number;
  /** Way points (x, z) in metres; it is gone when it reaches the last. */
  readonly path: readonly Waypoint[];
  /** First frame it exists (possibly out of view). */
  readonly enter: number;
  /** Frame it starts moving: later than enter for parked cars and waiting people. */
  readonly go: number;
  /** Cruising speed (m per frame). */
  readonly speed: number;
  /** Acceleration from standstill (m per frame²); Infinity: at cruising speed from the start. */
  readonly accel: number;
  /** Crossing vehicles and two-wheelers are seen from the side. */
  readonly sideView: boolean;
}

export interface Pose {
  x: number;
  z: number;
  /** Distance travelled along the path (m). */
  travelled: number;
  /** It moved since the previous frame. */
  moving: boolean;
}

function pathLength(path: readonly Waypoint[]): number {
  let length = 0;
  for (let i = 1; i < path.length; i++) length += Math.hypot(path[i]![0] - path[i - 1]![0], path[i]![1] - path[i - 1]![1]);
  return length;
}

function travelledAt(a: Actor, f: number): number {
  const t = f - a.go;
  if (t <= 0) return 0;
  if (!Number.isFinite(a.accel)) return a.speed * t;
  const rampTime = a.speed / a.accel;
  return t < rampTime ? 0.5 * a.accel * t * t : 0.5 * a.speed * rampTime + a.speed * (t - rampTime);
}

/** The first frame at which the actor has reached the end of its path. */
export function exitFrame(a: Actor): number {
  const length = pathLength(a.path);
  if (!Number.isFinite(a.accel)) return a.go + length / a.speed;
  const rampTime = a.speed / a.accel;
  const ramp = 0.5 * a.speed * rampTime;
  return a.go + (length <= ramp ? Math.sqrt((2 * length) / a.accel) : rampTime + (length - ramp) / a.speed);
}

/** Where the actor is at frame f, or undefined before it enters and after it leaves. */
export function poseAt(a: Actor, f: number): Pose | undefined {
  if (f < a.enter) return undefined;
  const travelled = travelledAt(a, f);
  let left = travelled;
  for (let i = 1; i < a.path.length; i++) {
    const [x0, z0] = a.path[i - 1]!;
    const [x1, z1] = a.path[i]!;
    const leg = Math.hypot(x1 - x0, z1 - z0);
    if (left < leg) {
      const t = leg > 0 ? left / leg : 0;
      return { x: x0 + (x1 - x0) * t, z: z0 + (z1 - z0) * t, travelled, moving: travelled > travelledAt(a, f - 1) };
    }
    left -= leg;
  }
  return undefined;
}

/** The actor's thing at frame f, numbered with its id for the instance map. */
export function actorThing(a: Actor, f: number): Thing | undefined {
  const pose = poseAt(a, f);
  if (!pose) return undefined;
  const { x, z } = pose;
  const rng = new Prng(a.looks);
  let thing: Thing;
  if (a.kind === 'person') {
    // feet swing with the distance walked, a step every 0.7 m
    const stride = pose.travelled > 0 ? 0.14 * Math.sin((Math.PI * pose.travelled) / 0.7) : 0.06;
    thing = person(rng, { x, z, stride });
  } else if (a.kind === 'bicycle' || a.kind === 'motorcycle') {
    thing = twoWheeler(rng, { kind: CLASS[a.kind], x, z, ridden: true, sideways: a.sideView });
  } else {
    const kind = CLASS[a.kind];
    thing = a.sideView ? sideVehicle(rng, { kind, x, z }) : vehicle(rng, { kind, x, z });
  }
  return { ...thing, instance: a.id };
}

// ------------------------------------------------------------------ planning

/** What traffic is planned against: the street, the camera at rest and the frames of the shot. */
export interface TrafficContext {
  street: Street;
  camera: Camera;
  /** Forward camera speed (m per frame): 0 for a fixed camera. */
  cameraSpeed: number;
  width: number;
  /** The side street, free of buildings. */
  crossing: Gap;
  start: number;
  end: number;
  /** The id of the first actor; ids count up from here. */
  firstId: number;
}

/** Half widths (m) of each kind seen from behind, rider's arms included. */
const HALF_WIDTH: Readonly<Record<ActorKind, number>> = { car: 1, bus: 1.3, truck: 1.3, motorcycle: 0.5, bicycle: 0.5, person: 0.35 };

/** Lane traffic appears and disappears this far ahead (m): a car there covers about 0.1% of the picture. */
const FAR_END = 70;
/** The same for pedestrians on the sidewalks. */
const SIDEWALK_END = 35;

/** Streams run this long before a shot starts, so that its first frame already has traffic. */
const WARM_UP = 400;

/**
 * Whether a thing at lateral position x passes the camera outside the picture: by the time it
 * is closer than NEAR (and no longer drawn) its inner edge must be past the image border,
 * with room for a camera shake. Things that would pass through the camera are not planned.
 */
function passesOutside(ctx: TrafficContext, x: number, kind: ActorKind): boolean {
  const cam = ctx.camera;
  const inner = Math.abs(x - cam.x) - HALF_WIDTH[kind];
  const border = x > cam.x ? ctx.width - cam.cx : cam.cx;
  return (inner * cam.focal) / NEAR >= border + (12 * ctx.width) / 512;
}

/** The lateral range (m) the picture covers at a depth, widened by a margin. */
function viewAt(ctx: TrafficContext, z: number, margin: number): [number, number] {
  const cam = ctx.camera;
  const d = z - cam.z;
  return [cam.x - (cam.cx * d) / cam.focal - margin, cam.x + ((ctx.width - cam.cx) * d) / cam.focal + margin];
}

interface Stream {
  route: Route;
  /** Frames between two entries. */
  headway: readonly [number, number];
  next(rng: Prng, enter: number): { kind: ActorKind; path: Waypoint[]; speed: number; sideView: boolean };
}

/**
 * Actors of one stream, entering one after another. An actor enters no sooner than the
 * headway after the one before it and late enough to reach the end 20 frames after it:
 * on a shared path it then never catches up with the one ahead.
 */
function runStream(rng: Prng, stream: Stream, ctx: TrafficContext, ids: { next: number }): Actor[] {
  const actors: Actor[] = [];
  let enter = ctx.start - WARM_UP + rng.range(0, stream.headway[1]);
  let previousExit = -Infinity;
  while (enter < ctx.end) {
    const { kind, path, speed, sideView } = stream.next(rng, Math.max(enter, ctx.start));
    const travel = pathLength(path) / speed;
    const at = Math.max(enter, previousExit + 20 - travel);
    const actor: Actor = {
      id: 0, kind, route: stream.route, looks: Math.floor(rng.float() * 4294967296), path,
      enter: Math.floor(at), go: Math.floor(at), speed, accel: Infinity, sideView,
    };
    if (exitFrame(actor) > ctx.start && actor.enter < ctx.end) actors.push({ ...actor, id: ids.next++ });
    previousExit = exitFrame(actor);
    enter = at + rng.range(stream.headway[0], stream.headway[1]);
  }
  return actors;
}

function pickKind<K extends ActorKind>(rng: Prng, shares: readonly (readonly [K, number])[]): K {
  let r = rng.float() * shares.reduce((sum, [, p]) => sum + p, 0);
  for (const [kind, p] of shares) {
    r -= p;
    if (r < 0) return kind;
  }
  return shares[shares.length - 1]![0];
}

/** Where a camera driving forward is at frame f. */
function cameraZ(ctx: TrafficContext, f: number): number {
  return ctx.camera.z + ctx.cameraSpeed * (f - ctx.start);
}

/** Cars, buses, trucks and two-wheelers in a lane: right lanes drive away, left lanes come closer. */
function laneStream(ctx: TrafficContext, x: number, flow: number): Stream {
  const away = x > 0;
  const wide = passesOutside(ctx, x, 'bus');
  return {
    route: 'lane',
    headway: [30, 100],
    next(rng, enter) {
      const kind = pickKind(rng, [['car', 0.6], ['bus', wide ? 0.12 : 0], ['truck', wide ? 0.08 : 0], ['motorcycle', 0.08], ['bicycle', 0.12]] as const);
      const speed = kind === 'bicycle' ? rng.range(0.3, 0.6)
        : kind === 'bus' || kind === 'truck' ? Math.min(flow, rng.range(0.5, 1)) : flow * rng.range(0.9, 1.1);
      const z = cameraZ(ctx, enter);
      const path: Waypoint[] = away ? [[x, z + NEAR + 0.1], [x, z + FAR_END]] : [[x, z + FAR_END], [x, z - 10]];
      return { kind, path, speed, sideView: false };
    },
  };
}

/** Traffic on the side street, seen from the side: the near lane drives right, the far lane left. */
function crossingTrafficStream(ctx: TrafficContext, z: number, rightward: boolean): Stream {
  return {
    route: 'crossing',
    headway: [30, 120],
    next(rng) {
      const kind = pickKind(rng, [['car', 0.6], ['bus', 0.25], ['motorcycle', 0.05], ['bicycle', 0.1]] as const);
      const speed = kind === 'bus' ? rng.range(0.4, 0.9) : kind === 'bicycle' ? rng.range(0.3, 0.6) : rng.range(0.5, 1.2);
      // a side-view vehicle is placed by its rear end and is up to 14 m long
      const [left, right] = viewAt(ctx, z, 1);
      const back = kind === 'car' || kind === 'bus' ? 14 : 1;
      const path: Waypoint[] = rightward ? [[left - back, z], [right, z]] : [[right, z], [left - back, z]];
      return { kind, path, speed, sideView: true };
    },
  };
}

/** People crossing the main road at the side street, from one edge of the picture to the other. */
function crossingPeopleStream(ctx: TrafficContext, z: number): Stream {
  return {
    route: 'crossing',
    headway: [40, 140],
    next(rng) {
      const [left, right] = viewAt(ctx, z, 1);
      const zj = z + rng.range(-0.4, 0.4);
      const path: Waypoint[] = rng.chance(0.5) ? [[left, zj], [right, zj]] : [[right, zj], [left, zj]];
      return { kind: 'person', path, speed: rng.range(0.09, 0.17), sideView: false };
    },
  };
}

/** Pedestrians walking along one sidewalk, away from the camera or towards it. */
function sidewalkStream(ctx: TrafficContext, side: number): Stream {
  const st = ctx.street;
  return {
    route: 'sidewalk',
    headway: [100, 300],
    next(rng, enter) {
      const x = side * (st.roadHalf + rng.range(0.4, Math.max(0.5, st.sidewalk - 0.2)));
      const z0 = cameraZ(ctx, enter);
      const path: Waypoint[] = rng.chance(0.5) ? [[x, z0 + NEAR + 0.1], [x, z0 + SIDEWALK_END]] : [[x, z0 + SIDEWALK_END], [x, z0 - 5]];
      return { kind: 'person', path, speed: rng.range(0.09, 0.18), sideView: false };
    },
  };
}

/** A car parked at the kerb that pulls out into the lane and drives off at a random frame. */
function pullingOut(rng: Prng, ctx: TrafficContext, id: number): Actor | undefined {
  const st = ctx.street;
  const side = rng.chance(0.6) ? 1 : -1;
  const kerb = side * (st.roadHalf - 1.2);
  const lane = laneCentre(st, side > 0 ? 2 * laneCount(st) - 1 : 0);
  const z = ctx.camera.z + rng.range(8, 35);
  // driving away needs no room; coming closer it has to pass the camera outside the picture
  if (side < 0 && !passesOutside(ctx, lane, 'car')) return undefined;
  const path: Waypoint[] = side > 0
    ? [[kerb, z], [lane, z + 8], [lane, z + FAR_END]]
    : [[kerb, z], [lane, z - 8], [lane, ctx.camera.z - 10]];
  return {
    id, kind: 'car', route: 'pulling-out', looks: Math.floor(rng.float() * 4294967296), path,
    enter: ctx.start - 1, go: startFrame(rng, ctx), speed: rng.range(0.5, 1), accel: rng.range(0.015, 0.03), sideView: false,
  };
}

/** Someone standing on a sidewalk who sets off walking at a random frame. */
function waiting(rng: Prng, ctx: TrafficContext, id: number): Actor {
  const st = ctx.street;
  const side = rng.chance(0.5) ? 1 : -1;
  const x = side * (st.roadHalf + rng.range(0.4, Math.max(0.5, st.sidewalk - 0.2)));
  const z = ctx.camera.z + rng.range(6, 30);
  const path: Waypoint[] = rng.chance(0.5) ? [[x, z], [x, z + SIDEWALK_END]] : [[x, z], [x, ctx.camera.z - 5]];
  return {
    id, kind: 'person', route: 'waiting', looks: Math.floor(rng.float() * 4294967296), path,
    enter: ctx.start - 1, go: startFrame(rng, ctx), speed: rng.range(0.09, 0.16), accel: 0.01, sideView: false,
  };
}

function startFrame(rng: Prng, ctx: TrafficContext): number {
  const span = ctx.end - ctx.start;
  return ctx.start + Math.floor(span * rng.range(0.1, 0.85));
}

/** Every actor of one shot, ids from ctx.firstId up. */
export function planTraffic(rng: Prng, ctx: TrafficContext): Actor[] {
  const st = ctx.street;
  const streams: Stream[] = [];
  const lanes: number[] = [];
  for (let lane = 0; lane < 2 * laneCount(st); lane++) {
    const x = laneCentre(st, lane);
    if (passesOutside(ctx, x, 'car')) lanes.push(x);
  }
  const flow = rng.range(0.6, 1.3);
  const chosen = lanes.filter(() => rng.chance(0.4));
  if (chosen.length === 0 && lanes.length > 0) chosen.push(rng.pick(lanes));
  for (const x of chosen) streams.push(laneStream(ctx, x, flow));
  const { z0, z1 } = ctx.crossing;
  const width = z1 - z0;
  if (rng.chance(0.85)) streams.push(crossingTrafficStream(ctx, z0 + width * 0.3, true));
  if (rng.chance(0.85)) streams.push(crossingTrafficStream(ctx, z0 + width * 0.7, false));
  if (rng.chance(0.8)) streams.push(crossingPeopleStream(ctx, z0 + 1));
  if (rng.chance(0.5)) streams.push(crossingPeopleStream(ctx, z1 - 1));
  for (const side of [-1, 1]) if (rng.chance(0.7)) streams.push(sidewalkStream(ctx, side));

  const ids = { next: ctx.firstId };
  const actors = streams.flatMap((s) => runStream(rng.fork(), s, ctx, ids));
  const parked = rng.int(0, 2);
  for (let i = 0; i < parked; i++) {
    const a = pullingOut(rng.fork(), ctx, ids.next);
    if (a) {
      actors.push(a);
      ids.next++;
    }
  }
  if (rng.chance(0.6)) actors.push(waiting(rng.fork(), ctx, ids.next++));
  return actors;
}
