// The JSON a stream client sends and receives (docs/PROTOCOL.md; schemas at GET /v1/asyncapi.json).

import type { CaptureTs } from '../server/stream/frame-message.js';
import type { Budget } from '../src/engine/budget.js';
import type { ModelDescription } from '../src/model-description.js';
import type { ClassSummary } from '../src/output/class-summary.js';
import type { ReuseFields } from '../server/exit-answer.js';

export type { CaptureTs } from '../server/stream/frame-message.js';
export type { Budget } from '../src/engine/budget.js';
export type { ModelDescription } from '../src/model-description.js';
export type { ClassSummary } from '../src/output/class-summary.js';
export type { ReuseFields } from '../server/exit-answer.js';

/** The stream's options: every field optional, the server keeps what is not given. */
export interface StreamConfig {
  readonly budget?: Budget;
  readonly size?: 'stride' | 'frame';
  readonly labels?: 'png' | 'raw';
  readonly encoding?: 'grayscale' | 'palette';
  readonly summary?: 'none' | 'classes' | 'regions';
  readonly confidence?: boolean;
  /** Region reuse for a fixed camera: only what changed is recomputed. */
  readonly reuse?: boolean;
}

export interface Hello {
  readonly type: 'hello';
  readonly protocol: number;
  readonly request_id: string;
  readonly stream_id: number;
  readonly model: ModelDescription;
  readonly reuse: { readonly enabled: boolean; readonly regions: boolean; readonly margin: number; readonly label_margin: number; readonly keyframe_interval: number };
}

export interface ConfigReply extends Required<StreamConfig> {
  readonly type: 'config';
}

export type FrameStop = 'final_exit' | 'max_exit' | 'gflops' | 'deadline' | 'superseded' | 'cancelled' | 'unchanged';

export interface ExitMetadata {
  readonly type: 'exit';
  readonly frame_id: number;
  readonly capture_ts?: CaptureTs;
  readonly exit: number;
  readonly exits: number;
  readonly width: number;
  readonly height: number;
  readonly labels: { readonly encoding: 'png' | 'raw'; readonly palette: boolean; readonly bytes: number };
  readonly confidence: { readonly bytes: number; readonly width: number; readonly height: number } | null;
  readonly form: string;
  readonly gflops: number;
  readonly cumulative_gflops: number;
  readonly computed_share: number;
  readonly timing_ms: { readonly queue: number; readonly decode: number; readonly compute: number; readonly encode: number };
  readonly stop: FrameStop | null;
  readonly summary: ClassSummary | null;
  readonly reuse: ReuseFields | null;
}

export interface Dropped {
  readonly type: 'dropped';
  readonly frame_id: number;
  readonly reason: 'superseded' | 'slow_reader' | 'deadline';
  readonly capture_ts?: CaptureTs;
}

export interface Stopped {
  readonly type: 'stopped';
  readonly frame_id: number;
  readonly reason: 'superseded' | 'cancelled' | 'deadline';
  readonly last_exit: number;
  readonly capture_ts?: CaptureTs;
}

export interface StreamErrorMessage {
  readonly type: 'error';
  readonly code: string;
  readonly message: string;
  readonly frame_id: number | null;
  readonly capture_ts?: CaptureTs;
}

export type Notice = Hello | ConfigReply | Dropped | Stopped | StreamErrorMessage;
