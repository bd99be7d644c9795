// What happens to a clip's camera frame by frame: for a fixed camera, occasional shakes,
// scene cuts and exposure jumps on a slowly drifting light; for a driving camera, motion in
// every frame and a new street every 60 m. Events name what changed since the previous frame.

import type { Prng } from '../prng.js';

export type SequenceKind = 'static' | 'moving';

/**
 * A change of the whole picture since the previous frame: the camera moved away from or back
 * to its rest pose ('shake'), another scene began ('cut'), the exposure stepped ('exposure'),
 * or the camera drove on ('camera-motion', every frame of a moving clip).
 */
export type SequenceEvent = 'cut' | 'shake' | 'exposure' | 'camera-motion';

export interface FramePlan {
  readonly index: number;
  /** Scenes are numbered from 0; a cut starts the next. */
  readonly shot: number;
  readonly events: readonly SequenceEvent[];
  /** Image displacement (px) of a shake from the camera's rest pose; [0, 0] at rest. */
  readonly offset: readonly [number, number];
  /** Light relative to the scene's own: slow drift times the exposure jumps since its cut. */
  readonly exposure: number;
}

export interface ShotSpan {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
  /** Forward camera speed (m per frame); 0 for a fixed camera. */
  readonly cameraSpeed: number;
}

export interface Schedule {
  frames: FramePlan[];
  shots: ShotSpan[];
}

/** Chances per frame of starting an event (fixed camera); about 2.2 shakes, 0.8 cuts, 1.1 jumps per 100 frames. */
const SHAKE_CHANCE = 1 / 45;
const CUT_CHANCE = 1 / 130;
const EXPOSURE_CHANCE = 1 / 90;
/** Frames without events at the start of a clip and after each event. */
const QUIET = 8;
/** A driving camera moves on to another street after this many metres. */
const STREET_LENGTH = 60;

export function scheduleFrames(rng: Prng, kind: SequenceKind, frames: number, width: number): Schedule {
  const amplitude = rng.range(0.02, 0.06);
  const period = rng.range(150, 400);
  const phase = rng.range(0, 2 * Math.PI);
  const drift = (f: number) => 1 + amplitude * Math.sin((2 * Math.PI * f) / period + phase);
  return kind === 'static' ? fixedCamera(rng, frames, width, drift) : drivingCamera(rng, frames, drift);
}

function fixedCamera(rng: Prng, frames: number, width: number, drift: (f: number) => number): Schedule {
  const offsets: [number, number][] = Array.from({ length: frames }, () => [0, 0]);
  const shake = new Array<boolean>(frames).fill(false);
  const cut = new Array<boolean>(frames).fill(false);
  const jump = new Array<number>(frames).fill(1);
  let free = QUIET;
  for (let f = QUIET; f < frames; f++) {
    if (f < free) continue;
    const r = rng.float();
    if (r < SHAKE_CHANCE) {
      // displaced for 1-3 frames, back at rest on the frame after: every one of them changed
      const duration = rng.int(1, 3);
      for (let k = 0; k < duration && f + k < frames; k++) {
        const angle = rng.range(0, 2 * Math.PI);
        const px = (rng.range(3, 8) * width) / 512;
        offsets[f + k] = [px * Math.cos(angle), px * Math.sin(angle)];
      }
      for (let k = 0; k <= duration && f + k < frames; k++) shake[f + k] = true;
      free = f + duration + QUIET;
    } else if (r < SHAKE_CHANCE + CUT_CHANCE) {
      cut[f] = true;
      free = f + QUIET;
    } else if (r < SHAKE_CHANCE + CUT_CHANCE + EXPOSURE_CHANCE) {
      jump[f] = 0; // marked; the factor depends on the level reached
      free = f + QUIET;
    }
  }
  const plans: FramePlan[] = [];
  const shots: ShotSpan[] = [];
  let shot = 0;
  let level = 1;
  let shotStart = 0;
  for (let f = 0; f < frames; f++) {
    const events: SequenceEvent[] = [];
    if (cut[f]) {
      shots.push({ start: shotStart, end: f, cameraSpeed: 0 });
      shotStart = f;
      shot++;
      level = 1;
      events.push('cut');
    }
    if (shake[f]) events.push('shake');
    if (jump[f] === 0) {
      // auto-exposure steps back towards the middle once it has drifted far
      const up = level < 0.9 ? true : level > 1.1 ? false : rng.chance(0.5);
      level *= up ? rng.range(1.18, 1.38) : rng.range(0.72, 0.85);
      events.push('exposure');
    }
    plans.push({ index: f, shot, events, offset: offsets[f]!, exposure: level * drift(f) });
  }
  shots.push({ start: shotStart, end: frames, cameraSpeed: 0 });
  return { frames: plans, shots };
}

function drivingCamera(rng: Prng, frames: number, drift: (f: number) => number): Schedule {
  const shots: ShotSpan[] = [];
  for (let start = 0; start < frames;) {
    const cameraSpeed = rng.range(0.3, 0.8);
    const end = Math.min(frames, start + Math.ceil(STREET_LENGTH / cameraSpeed));
    shots.push({ start, end, cameraSpeed });
    start = end;
  }
  const plans: FramePlan[] = [];
  for (const [shot, span] of shots.entries()) {
    for (let f = span.start; f < span.end; f++) {
      const events: SequenceEvent[] = f === 0 ? [] : f === span.start ? ['cut'] : ['camera-motion'];
      plans.push({ index: f, shot, events, offset: [0, 0], exposure: drift(f) });
    }
  }
  return { frames: plans, shots };
}
