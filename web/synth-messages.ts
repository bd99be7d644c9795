// What the page and the synthetic-clip worker say to each other.

import type { SequenceKind } from '../src/synth/sequences.js';

export type SynthRequest =
  | { readonly type: 'start'; readonly kind: SequenceKind; readonly width: number; readonly height: number }
  | { readonly type: 'next' };

export type SynthReply =
  | { readonly type: 'frame'; readonly rgba: ArrayBuffer; readonly width: number; readonly height: number; readonly seed: number; readonly index: number }
  | { readonly type: 'error'; readonly message: string };
