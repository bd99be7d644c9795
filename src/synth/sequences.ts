// Clips for stream work: a fixed camera watching traffic (shakes, cuts, exposure jumps, a
// drifting light, fresh sensor noise in every frame), or a camera driving down the street.
// Frames come lazily from a generator, each with its labels, an instance map of the moving
// things, and what changed since the previous frame; planSequence gives the same metadata
// without painting. Pure: a seed, length and size give the same bytes.

import { checkSeed, checkSize, SynthInputError, type SceneSize, type SynthSample } from './generate.js';
import { develop } from './develop.js';
import { farToNear } from './layout.js';
import { makeTextures } from './paint.js';
import { Prng } from './prng.js';
import { render } from './render.js';
import { scheduleFrames, type FramePlan, type Schedule, type SequenceKind } from './sequence/events.js';
import { cameraAt, makeShot, type Shot } from './sequence/shot.js';
import { actorThing, exitFrame, poseAt, type Actor, type ActorKind, type Route } from './sequence/traffic.js';
import type { Thing } from './things/thing.js';

export type { FramePlan, SequenceEvent, SequenceKind } from './sequence/events.js';
export type { ActorKind, Route } from './sequence/traffic.js';
export { ACTOR_KINDS } from './sequence/traffic.js';

/** Frames per second the motion is planned for: speeds assume frames 0.1 s apart. */
export const SEQUENCE_FPS = 10;
export const MAX_SEQUENCE_FRAMES = 10_000;

/**
 * The fixed test sequences (seeds: the test split's base + index, as
 * `npm run synth -- --sequence KIND --split test --count N --frames 100` writes them).
 */
export const TEST_SEQUENCES = Object.freeze({
  frames: 100,
  size: Object.freeze({ height: 256, width: 512 }),
  static: Object.freeze(Array.from({ length: 10 }, (_, i) => 2_000_000 + i)),
  moving: Object.freeze(Array.from({ length: 2 }, (_, i) => 2_000_000 + i)),
});

/** A moving thing as it shows in one frame. */
export interface VisibleObject {
  readonly id: number;
  readonly kind: ActorKind;
  readonly route: Route;
  /** It moved since the previous frame (parked cars and waiting people have not yet). */
  readonly moving: boolean;
  /** Pixels it labels, after occlusion. */
  readonly pixels: number;
  /** Bounds of those pixels: [x0, y0, x1, y1], x1 and y1 exclusive. */
  readonly box: readonly [number, number, number, number];
}

export interface SequenceFrame extends SynthSample, FramePlan {
  /** Per pixel, the id of the moving thing it shows (0: none), length width * height. */
  readonly instances: Uint16Array;
  /** The moving things in view, by id. */
  readonly objects: readonly VisibleObject[];
}

export interface ActorSummary {
  readonly id: number;
  readonly kind: ActorKind;
  readonly route: Route;
  readonly shot: number;
  /** Cruising speed in km/h. */
  readonly kmh: number;
  /** Frames at which it appears (perhaps out of view), sets off, and has left (may lie outside the clip). */
  readonly enter: number;
  readonly go: number;
  readonly exit: number;
}

export interface SequencePlan {
  readonly kind: SequenceKind;
  readonly seed: number;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly frames: readonly FramePlan[];
  readonly actors: readonly ActorSummary[];
}

export type SequenceGenerator = (seed: number, frames: number, size: SceneSize) => Generator<SequenceFrame, void, undefined>;

const KIND_SALT: Readonly<Record<SequenceKind, number>> = { static: 0x51a71c, moving: 0x30d1e5 };

interface Built {
  kind: SequenceKind;
  seed: number;
  size: SceneSize;
  schedule: Schedule;
  shots: Shot[];
  noiseBase: number;
}

function build(kind: SequenceKind, seed: number, frames: number, size: SceneSize): Built {
  checkSeed(seed);
  checkSize(size);
  if (!Number.isInteger(frames) || frames < 1 || frames > MAX_SEQUENCE_FRAMES) {
    throw new SynthInputError(`frames must be an integer from 1 to ${MAX_SEQUENCE_FRAMES}, got ${frames}`);
  }
  const rng = new Prng((seed ^ KIND_SALT[kind]) >>> 0);
  const schedule = scheduleFrames(rng.fork(), kind, frames, size.width);
  const noiseBase = Math.floor(rng.float() * 4294967296);
  let firstId = 1;
  const shots = schedule.shots.map((span) => {
    const shot = makeShot({ seed: Math.floor(rng.float() * 4294967296), span, width: size.width, height: size.height, firstId });
    firstId += shot.actors.length;
    return shot;
  });
  // ids live in a Uint16Array; MAX_SEQUENCE_FRAMES keeps them far below this
  if (firstId > 0xffff) throw new RangeError(`too many moving things for instance ids: ${firstId - 1}`);
  return { kind, seed, size, schedule, shots, noiseBase };
}

/** What a clip will hold, frame by frame and actor by actor, without painting it. */
export function planSequence(kind: SequenceKind, seed: number, frames: number, size: SceneSize): SequencePlan {
  const b = build(kind, seed, frames, size);
  const actors = b.shots.flatMap((shot, index) => shot.actors.map((a) => ({
    id: a.id, kind: a.kind, route: a.route, shot: index, kmh: a.speed * SEQUENCE_FPS * 3.6,
    enter: a.enter, go: a.go, exit: Math.ceil(exitFrame(a)),
  })));
  return { kind, seed, width: size.width, height: size.height, fps: SEQUENCE_FPS, frames: b.schedule.frames, actors };
}

/** A fixed camera watching traffic; frames are painted as they are asked for. */
export function generateStaticSequence(seed: number, frames: number, size: SceneSize): Generator<SequenceFrame, void, undefined> {
  return paint(build('static', seed, frames, size));
}

/** A camera driving down the street (a new street every 60 m), with traffic. */
export function generateMovingSequence(seed: number, frames: number, size: SceneSize): Generator<SequenceFrame, void, undefined> {
  return paint(build('moving', seed, frames, size));
}

export const SEQUENCE_GENERATORS: Readonly<Record<SequenceKind, SequenceGenerator>> = Object.freeze({
  static: generateStaticSequence,
  moving: generateMovingSequence,
});

function* paint(b: Built): Generator<SequenceFrame, void, undefined> {
  const { width, height } = b.size;
  let textures = makeTextures(b.shots[0]!.seed, width, height);
  let texturesOf = 0;
  for (const plan of b.schedule.frames) {
    const shot = b.shots[plan.shot]!;
    if (plan.shot !== texturesOf) {
      textures = makeTextures(shot.seed, width, height);
      texturesOf = plan.shot;
    }
    const things: Thing[] = [...shot.fixed];
    for (const actor of shot.actors) {
      const thing = actorThing(actor, plan.index);
      if (thing) things.push(thing);
    }
    const camera = cameraAt(shot, plan.index, plan.offset);
    const layout = { street: shot.street, things: farToNear(things), seed: shot.seed };
    const canvas = render({ layout, camera, width, height, textures });
    const look = { ...shot.look, light: shot.look.light * plan.exposure };
    // fresh sensor noise in every frame
    const { image, label } = develop(canvas, look, new Prng((b.noiseBase + plan.index) >>> 0));
    const objects = visibleObjects(canvas.instances, width, shot.actors, plan.index);
    yield { ...plan, width, height, image, label, instances: canvas.instances, objects };
  }
}

function visibleObjects(instances: Uint16Array, width: number, actors: readonly Actor[], f: number): VisibleObject[] {
  const seen = new Map<number, { pixels: number; box: [number, number, number, number] }>();
  for (let i = 0; i < instances.length; i++) {
    const id = instances[i]!;
    if (id === 0) continue;
    const x = i % width;
    const y = (i - x) / width;
    const o = seen.get(id);
    if (!o) {
      seen.set(id, { pixels: 1, box: [x, y, x + 1, y + 1] });
      continue;
    }
    o.pixels++;
    const b = o.box;
    if (x < b[0]) b[0] = x;
    if (x + 1 > b[2]) b[2] = x + 1;
    b[3] = y + 1; // rows come in order
  }
  const byId = new Map(actors.map((a) => [a.id, a]));
  return [...seen.entries()].sort(([a], [b]) => a - b).map(([id, o]) => {
    const actor = byId.get(id)!;
    return { id, kind: actor.kind, route: actor.route, moving: poseAt(actor, f)?.moving ?? false, pixels: o.pixels, box: o.box };
  });
}
