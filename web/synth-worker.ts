// Paints the built-in synthetic street clips in the browser, off the page's thread: the fixed
// test clips of src/synth (static or moving camera), one after another, a frame per request.
// About 36 ms per 256x512 frame, so the page can send them at the clips' 10 fps.

import { SEQUENCE_GENERATORS, TEST_SEQUENCES, type SequenceFrame } from '../src/synth/sequences.js';
import type { SynthReply, SynthRequest } from './synth-messages.js';

/** Frames of one clip before the next seed: 30 s at the clips' 10 fps. */
const CLIP_FRAMES = 300;

interface WorkerScope {
  onmessage: ((event: MessageEvent<SynthRequest>) => void) | null;
  postMessage(message: SynthReply, transfer?: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;

type Start = Extract<SynthRequest, { type: 'start' }>;

interface Clip {
  readonly start: Start;
  /** Index into the kind's test seeds. */
  readonly at: number;
  readonly frames: Generator<SequenceFrame, void>;
}

let clip: Clip | null = null;

function clipAt(start: Start, at: number): Clip {
  const seed = TEST_SEQUENCES[start.kind][at]!;
  return { start, at, frames: SEQUENCE_GENERATORS[start.kind](seed, CLIP_FRAMES, { width: start.width, height: start.height }) };
}

function nextFrame(current: Clip): { clip: Clip; frame: SequenceFrame } {
  for (let c = current; ; c = clipAt(c.start, (c.at + 1) % TEST_SEQUENCES[c.start.kind].length)) {
    const step = c.frames.next();
    if (!step.done) return { clip: c, frame: step.value };
  }
}

function reply(current: Clip): void {
  const next = nextFrame(current);
  clip = next.clip;
  const { frame } = next;
  const pixels = frame.width * frame.height;
  const rgba = new Uint8ClampedArray(pixels * 4);
  for (let i = 0; i < pixels; i++) {
    rgba[i * 4] = frame.image[i * 3]!;
    rgba[i * 4 + 1] = frame.image[i * 3 + 1]!;
    rgba[i * 4 + 2] = frame.image[i * 3 + 2]!;
    rgba[i * 4 + 3] = 255;
  }
  scope.postMessage({ type: 'frame', rgba: rgba.buffer, width: frame.width, height: frame.height, seed: TEST_SEQUENCES[clip.start.kind][clip.at]!, index: frame.index }, [rgba.buffer]);
}

scope.onmessage = ({ data }) => {
  try {
    if (data.type === 'start') clip = clipAt(data, 0);
    else if (clip) reply(clip);
  } catch (e) {
    scope.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  }
};
