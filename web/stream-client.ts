// The page's side of WS /v1/stream (docs/PROTOCOL.md), with the server's own codec: frames go
// out with their budget in the header, every answer comes back as one typed event. Each frame
// sent ends in exactly one `end` (its last exit, a stopped or dropped notice, an error, or the
// socket closing).

import { decodeExitMessage, encodeFrameMessage, type FrameFormat } from '../server/stream/frame-message.js';
import type { Budget } from '../src/engine/budget.js';

export interface ExitMetadata {
  readonly frame_id: number;
  readonly exit: number;
  readonly exits: number;
  readonly width: number;
  readonly height: number;
  readonly labels: { readonly encoding: 'png' | 'raw'; readonly bytes: number };
  readonly confidence: { readonly bytes: number } | null;
  readonly gflops: number;
  readonly cumulative_gflops: number;
  readonly computed_share: number;
  readonly form: string;
  readonly timing_ms: { readonly queue: number; readonly decode: number; readonly compute: number; readonly encode: number };
  readonly stop: string | null;
  /** What region reuse computed (docs/PROTOCOL.md); null when the stream has it off. */
  readonly reuse: {
    readonly mode: 'full' | 'regions' | 'reused';
    readonly keyframe: string | null;
    readonly regions: readonly { readonly x: number; readonly y: number; readonly width: number; readonly height: number }[];
    readonly recomputed_share: number;
  } | null;
}

export interface StreamExit {
  readonly meta: ExitMetadata;
  /** Class ids at output stride, width x height. */
  readonly labels: Uint8Array;
  /** Max softmax probability per position, 255 = 1.0. */
  readonly confidence: Uint8Array | null;
  /** performance.now() at arrival. */
  readonly receivedAt: number;
}

export type FrameOutcome = 'completed' | 'superseded' | 'dropped' | 'cancelled' | 'error' | 'lost';

export interface StreamEvents {
  open(): void;
  exit(exit: StreamExit): void;
  end(frameId: number, outcome: FrameOutcome): void;
  error(code: string, message: string, frameId: number | null): void;
  /** An answer the page cannot read (a server speaking another protocol). */
  unreadable(message: string): void;
  close(code: number, reason: string): void;
}

/** The options the page streams with: stride label maps, raw ids, confidence for the skip view. */
const STREAM_OPTIONS = { type: 'config', size: 'stride', labels: 'raw', confidence: true } as const;

export interface PageOptions {
  /** Region reuse: the server recomputes only what changed. */
  readonly reuse: boolean;
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function exitOf(data: ArrayBuffer, receivedAt: number): StreamExit {
  const { metadata, payload } = decodeExitMessage(new Uint8Array(data));
  const m = metadata as unknown as ExitMetadata;
  if (!isNumber(m.frame_id) || !isNumber(m.exit) || !isNumber(m.width) || !isNumber(m.height) || m.labels?.encoding !== 'raw') {
    throw new Error('an exit message without frame id, exit, size or raw labels');
  }
  const labelBytes = m.width * m.height;
  const confidenceBytes = m.confidence ? labelBytes : 0;
  if (m.labels.bytes !== labelBytes || payload.length !== labelBytes + confidenceBytes) throw new Error(`exit ${m.exit} of frame ${m.frame_id}: payload does not match its size`);
  return {
    meta: m,
    labels: payload.subarray(0, labelBytes),
    confidence: m.confidence ? payload.subarray(labelBytes) : null,
    receivedAt,
  };
}

export class StreamClient {
  private readonly ws: WebSocket;
  private readonly inFlight = new Set<number>();
  private nextId = 1;
  /** The server acknowledged STREAM_OPTIONS: exits will come in the shape the page reads. */
  private configured = false;

  constructor(url: string, private readonly events: StreamEvents, options: PageOptions) {
    this.ws = new WebSocket(url);
    this.ws.binaryType = 'arraybuffer';
    this.ws.onopen = () => this.ws.send(JSON.stringify({ ...STREAM_OPTIONS, reuse: options.reuse }));
    this.ws.onmessage = (e: MessageEvent<ArrayBuffer | string>) => this.onMessage(e.data);
    this.ws.onclose = (e) => {
      for (const id of this.inFlight) events.end(id, 'lost');
      this.inFlight.clear();
      events.close(e.code, e.reason);
    };
  }

  get ready(): boolean {
    return this.ws.readyState === WebSocket.OPEN && this.configured;
  }

  /** Bytes handed to the socket and not yet sent. */
  get buffered(): number {
    return this.ws.bufferedAmount;
  }

  get framesInFlight(): number {
    return this.inFlight.size;
  }

  /** Sends one frame; returns its id. */
  send(format: FrameFormat, image: Uint8Array, width: number, height: number, budget: Budget): number {
    const frameId = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    this.ws.send(encodeFrameMessage({ frameId, format, width, height, budget, image }));
    this.inFlight.add(frameId);
    return frameId;
  }

  /** Turns region reuse on or off for the frames sent from now on. */
  setReuse(on: boolean): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'config', reuse: on }));
  }

  close(): void {
    this.ws.close(1000, 'page closed the stream');
  }

  private ended(frameId: number, outcome: FrameOutcome): void {
    if (this.inFlight.delete(frameId)) this.events.end(frameId, outcome);
  }

  private onMessage(data: ArrayBuffer | string): void {
    try {
      if (typeof data !== 'string') {
        const exit = exitOf(data, performance.now());
        if (!this.inFlight.has(exit.meta.frame_id)) return;
        this.events.exit(exit);
        const stop = exit.meta.stop;
        if (stop !== null) this.ended(exit.meta.frame_id, stop === 'superseded' ? 'superseded' : stop === 'cancelled' ? 'cancelled' : 'completed');
        return;
      }
      const m = JSON.parse(data) as { type?: string; frame_id?: number | null; reason?: string; code?: string; message?: string };
      if (m.type === 'config' && !this.configured) {
        this.configured = true;
        this.events.open();
      } else if (m.type === 'stopped' && isNumber(m.frame_id)) {
        // a deadline stop after the device wait: the exits already drawn are the frame's answer
        this.ended(m.frame_id, m.reason === 'cancelled' ? 'cancelled' : m.reason === 'deadline' ? 'completed' : 'superseded');
      } else if (m.type === 'dropped' && isNumber(m.frame_id)) {
        this.ended(m.frame_id, 'dropped');
      } else if (m.type === 'error') {
        const frameId = isNumber(m.frame_id) ? m.frame_id : null;
        this.events.error(String(m.code), String(m.message), frameId);
        if (frameId !== null) this.ended(frameId, 'error');
      }
    } catch (e) {
      this.events.unreadable(e instanceof Error ? e.message : String(e));
    }
  }
}
