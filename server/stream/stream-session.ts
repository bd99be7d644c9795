// One WebSocket stream: the protocol (frames, config, notices) and latest frame wins. A new
// frame replaces the one waiting (reported as dropped) and supersedes the one running, which
// stops after its current stage. Frames run through the server's FrameRunner; what goes back
// passes the Outbox, which bounds what a slow reader can make the server hold.

import type { WebSocket } from 'ws';
import { z } from 'zod';
import { BudgetSchema, mergeBudgets, type Budget } from '../../src/engine/budget.js';
import { AdpcError, ERROR_CATALOGUE, asAdpcError, type ErrorCode, type ErrorSpec } from '../../src/errors.js';
import { SUMMARY_LEVELS, type SummaryLevel } from '../../src/output/class-summary.js';
import type { LabelEncoding } from '../../src/output/label-map.js';
import type { ErrorReporter, RequestContext } from '../error-report.js';
import { renderExit, type ExitFormat } from '../exit-answer.js';
import { SUPERSEDED, type FrameExit, type FrameRunner } from '../frame-runner.js';
import type { ServerMetrics } from '../metrics.js';
import { modelInfo, type FrameEngine } from '../model-info.js';
import { RegionReuse, type ReuseSettings } from '../../src/reuse/region-reuse.js';
import { PROTOCOL_VERSION, encodeExitMessage, parseFrameMessage, type CaptureTs, type FrameMessage } from './frame-message.js';
import { Outbox } from './outbox.js';
import { TokenBucket } from './token-bucket.js';

export const StreamOptions = z.object({
  type: z.literal('config'),
  budget: BudgetSchema.optional(),
  size: z.enum(['stride', 'frame']).optional(),
  labels: z.enum(['png', 'raw']).optional(),
  encoding: z.enum(['grayscale', 'palette']).optional(),
  summary: z.enum(SUMMARY_LEVELS).optional(),
  confidence: z.boolean().optional(),
  /** Region reuse for a fixed camera (docs/PROTOCOL.md). */
  reuse: z.boolean().optional(),
}).strict();

/** The capture timestamp a frame came with, as the field every answer for it repeats. */
const echo = (captureTs: CaptureTs | undefined) => (captureTs !== undefined ? { capture_ts: captureTs } : {});

export interface StreamLimits {
  maxFramePixels: number;
  maxFrameSide: number;
  /** Above this many bytes unsent in the socket, only answers and final exits are sent. */
  slowReaderBytes: number;
  /** Above this many bytes unsent (socket and queue), the stream is closed. */
  maxUnsentBytes: number;
  /** 'stage': a new frame stops the running one after its current stage; 'frame': after it ends. */
  supersede: 'stage' | 'frame';
  /** Frames per second a stream may send (0 = no limit); faster frames are refused. */
  maxFps: number;
  /** Close a stream that sent nothing for this long while no frame was in flight (0 = never). */
  idleMs: number;
}

export interface StreamReuse {
  /** Whether a new stream has region reuse on before it says otherwise. */
  readonly byDefault: boolean;
  readonly settings: ReuseSettings;
}

export interface StreamIds {
  readonly requestId: string;
  readonly streamId: number;
}

interface Pending extends FrameMessage {
  readonly arrivedAt: number;
}

interface Running {
  readonly frameId: number;
  readonly controller: AbortController;
}

/** After a close frame, how long a peer has to answer it before its socket is dropped. */
export const CLOSE_GRACE_MS = 1000;

/** ws errors on a bad incoming message (ws closes the socket itself) and the code they count as. */
const WS_ERROR_CODES: Readonly<Record<string, ErrorCode>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 'MESSAGE_TOO_LARGE',
};

export class StreamSession {
  private budget: Budget = {};
  private size: 'stride' | 'frame' = 'stride';
  private labels: 'png' | 'raw' = 'png';
  private encoding: LabelEncoding = 'grayscale';
  private summary: SummaryLevel = 'none';
  private confidence = false;
  private reuse: RegionReuse | null;
  private pending: Pending | null = null;
  private running: Running | null = null;
  private draining = false;
  private closed = false;
  private alive = true;
  private idleWaiters: (() => void)[] = [];
  private readonly bucket: TokenBucket;
  private readonly outbox: Outbox;
  private readonly context: RequestContext;
  private readonly idleTimer: NodeJS.Timeout | null;

  constructor(
    private readonly ws: WebSocket,
    private readonly engine: FrameEngine,
    private readonly deps: { runner: FrameRunner; reporter: ErrorReporter; metrics: ServerMetrics; limits: StreamLimits; reuse: StreamReuse },
    ids: StreamIds,
  ) {
    const { limits } = deps;
    this.reuse = deps.reuse.byDefault ? new RegionReuse(deps.reuse.settings) : null;
    this.context = { route: 'WS /v1/stream', ...ids };
    this.bucket = new TokenBucket(limits.maxFps);
    this.outbox = new Outbox(ws, { softBytes: limits.slowReaderBytes, hardBytes: limits.maxUnsentBytes }, {
      onDrop: () => deps.metrics.slowReaderDrop(),
      onOverflow: (unsent) => this.giveUp(new AdpcError('STREAM_BACKLOG', `${unsent} bytes unsent, more than ${limits.maxUnsentBytes}`)),
    });
    this.idleTimer = limits.idleMs > 0 ? setTimeout(() => this.onIdle(), limits.idleMs) : null;
    this.sendJson({
      type: 'hello', protocol: PROTOCOL_VERSION, request_id: ids.requestId, stream_id: ids.streamId, model: modelInfo(engine),
      reuse: {
        enabled: this.reuse !== null, regions: engine.regionsSupported?.() ?? false, margin: deps.reuse.settings.margin,
        label_margin: deps.reuse.settings.labelMargin, keyframe_interval: deps.reuse.settings.keyframeInterval,
      },
    });
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('pong', () => (this.alive = true));
    ws.on('close', () => this.onClosed());
    ws.on('error', (e: Error & { code?: string }) => {
      const code = WS_ERROR_CODES[e.code ?? ''] ?? 'BAD_MESSAGE';
      this.deps.reporter.report(new AdpcError(code, e.message), this.context);
    });
  }

  get unsentBytes(): number {
    return this.outbox.unsentBytes;
  }

  /** No frame running or waiting. */
  get idle(): boolean {
    return !this.running && !this.pending;
  }

  /** Resolves once no frame is running or waiting. */
  settled(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Server drain: the waiting frame and every later one are answered DRAINING; the running one goes on. */
  drain(): void {
    this.draining = true;
    const pending = this.pending;
    this.pending = null;
    if (pending) this.refuse(new AdpcError('DRAINING', 'the server is shutting down; the frame was not started'), pending.frameId, pending.captureTs);
    if (this.idle) this.settle();
  }

  /** Heartbeat: a peer that did not answer the previous ping is dropped. */
  ping(): void {
    if (this.closed) return;
    if (!this.alive) {
      this.deps.reporter.report(new AdpcError('PING_TIMEOUT', 'no pong since the last ping'), this.context);
      this.ws.terminate();
      return;
    }
    this.alive = false;
    this.ws.ping();
  }

  /** Sends what is queued, then a close frame; the socket is dropped if the peer does not answer. */
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.outbox.flushAll();
    this.ws.close(code, reason);
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  terminate(): void {
    this.ws.terminate();
  }

  private giveUp(error: AdpcError): void {
    if (this.closed) return;
    this.deps.reporter.report(error, this.context);
    const spec: ErrorSpec = ERROR_CATALOGUE[error.code];
    this.closed = true;
    this.running?.controller.abort('cancelled');
    this.pending = null;
    // the reason must fit a control frame (123 bytes)
    this.ws.close(spec.closeCode ?? 1011, `${error.code}: ${error.message}`.slice(0, 120));
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  private onClosed(): void {
    this.closed = true;
    this.pending = null;
    this.running?.controller.abort('cancelled');
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (!this.running) this.settle();
  }

  private onIdle(): void {
    if (this.closed) return;
    if (!this.idle) {
      this.idleTimer!.refresh();
      return;
    }
    this.giveUp(new AdpcError('STREAM_IDLE', `no message for ${this.deps.limits.idleMs} ms`));
  }

  private settle(): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private sendJson(message: Record<string, unknown>, frameId: number | null = null): void {
    if (!this.closed) this.outbox.answer(JSON.stringify(message), frameId);
  }

  /** An error answer the session itself decided (the runner reports its own). */
  private refuse(error: AdpcError, frameId: number | null, captureTs?: CaptureTs): void {
    this.deps.reporter.report(error, { ...this.context, frameId });
    this.sendError(error, frameId, captureTs);
  }

  private sendError(error: AdpcError, frameId: number | null, captureTs?: CaptureTs): void {
    this.sendJson({ type: 'error', code: error.code, message: error.message, frame_id: frameId, ...echo(captureTs) }, frameId);
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    this.alive = true;
    this.idleTimer?.refresh();
    try {
      if (isBinary) this.onFrame(data);
      else this.onOptions(data.toString('utf8'));
    } catch (e) {
      // nothing a peer sends may end in an uncaught exception
      this.refuse(asAdpcError(e), null);
    }
  }

  private onFrame(data: Buffer): void {
    const { limits, metrics } = this.deps;
    const parsed = parseFrameMessage(data, { maxPixels: limits.maxFramePixels, maxSide: limits.maxFrameSide });
    if (!parsed.ok) {
      metrics.frame('rejected');
      return this.refuse(new AdpcError(parsed.error.code, parsed.error.message), parsed.error.frameId, parsed.error.captureTs);
    }
    const frame = parsed.frame;
    const refused = this.draining ? new AdpcError('DRAINING', 'the server is shutting down; no new frames')
      : !this.bucket.take() ? new AdpcError('RATE_LIMITED', `more than ${limits.maxFps} frames per second`)
      : this.inUse(frame.frameId) ? new AdpcError('FRAME_ID_REUSED', `frame ${frame.frameId} is still in flight on this stream`)
      : null;
    if (refused) {
      metrics.frame('rejected');
      return this.refuse(refused, frame.frameId, frame.captureTs);
    }
    if (this.pending) {
      metrics.frame('dropped');
      this.sendJson({ type: 'dropped', frame_id: this.pending.frameId, reason: 'superseded', ...echo(this.pending.captureTs) }, this.pending.frameId);
    }
    this.pending = { ...frame, arrivedAt: performance.now() };
    if (this.running && limits.supersede === 'stage') this.running.controller.abort(SUPERSEDED);
    void this.pump();
  }

  private inUse(frameId: number): boolean {
    return this.running?.frameId === frameId || this.pending?.frameId === frameId || this.outbox.holds(frameId);
  }

  private onOptions(text: string): void {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.refuse(new AdpcError('BAD_MESSAGE', 'a text message must be a JSON config message'), null);
    }
    const parsed = StreamOptions.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues;
      const detail = issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ');
      const code = issues.some((i) => (i.path.length === 0 && i.code !== 'unrecognized_keys') || i.path[0] === 'type') ? 'BAD_MESSAGE'
        : issues.some((i) => i.path[0] === 'budget') ? 'BUDGET_INVALID' : 'OPTION_INVALID';
      return this.refuse(new AdpcError(code, detail), null);
    }
    const o = parsed.data;
    if (o.budget) this.budget = o.budget;
    if (o.size) this.size = o.size;
    if (o.labels) this.labels = o.labels;
    if (o.encoding) this.encoding = o.encoding;
    if (o.summary) this.summary = o.summary;
    if (o.confidence !== undefined) this.confidence = o.confidence;
    // turning it on starts from a keyframe; a running frame keeps the instance it started with
    if (o.reuse !== undefined && o.reuse !== (this.reuse !== null)) this.reuse = o.reuse ? new RegionReuse(this.deps.reuse.settings) : null;
    this.sendJson({
      type: 'config', budget: this.budget, size: this.size, labels: this.labels, encoding: this.encoding, summary: this.summary, confidence: this.confidence,
      reuse: this.reuse !== null,
    });
  }

  private async pump(): Promise<void> {
    while (!this.running && this.pending && !this.closed) {
      const frame = this.pending;
      this.pending = null;
      const running: Running = { frameId: frame.frameId, controller: new AbortController() };
      this.running = running;
      try {
        await this.process(frame, running);
      } catch (e) {
        this.refuse(asAdpcError(e), frame.frameId, frame.captureTs);
      } finally {
        this.running = null;
      }
    }
    if (this.idle) this.settle();
  }

  private async process(frame: Pending, running: Running): Promise<void> {
    const format: ExitFormat = { size: this.size, container: this.labels, encoding: this.encoding, summary: this.summary };
    const confidence = this.confidence;
    const end = await this.deps.runner.run({
      engine: this.engine,
      input: frame.format === 'encoded'
        ? { kind: 'encoded', bytes: frame.image }
        : { kind: 'raw', bytes: frame.image, width: frame.width, height: frame.height, channels: frame.format === 'rgb' ? 3 : 4 },
      budget: mergeBudgets(this.budget, frame.budget),
      arrivedAt: frame.arrivedAt,
      frameSize: format.size === 'frame',
      withConfidence: confidence,
      ...(this.reuse ? { reuse: this.reuse } : {}),
      signal: running.controller.signal,
      context: { ...this.context, frameId: frame.frameId },
      onExit: async (exit) => {
        const final = exit.stop !== null;
        // a slow reader gets final exits only: the others are not even encoded
        if (this.closed || (!final && this.outbox.slow)) return;
        const message = await this.encodeExit(frame, exit, format, confidence);
        if (this.closed) return;
        if (final) this.outbox.answer(message, frame.frameId, true, echo(frame.captureTs));
        else this.outbox.progress(message);
      },
    });
    if (this.closed) return;
    if ('error' in end) return this.sendError(end.error, frame.frameId, frame.captureTs);
    // no exit: it waited for the device past its deadline (RunOptions.waiting)
    if (end.outcome === 'dropped') {
      this.sendJson({ type: 'dropped', frame_id: frame.frameId, reason: end.stop, ...echo(frame.captureTs) }, frame.frameId);
      return;
    }
    // the last exit sent said nothing about stopping: say it now
    if (!end.stopSent) {
      this.sendJson({ type: 'stopped', frame_id: frame.frameId, reason: end.stop, last_exit: end.lastExit, ...echo(frame.captureTs) }, frame.frameId);
    }
  }

  private async encodeExit(frame: Pending, x: FrameExit, format: ExitFormat, withConfidence: boolean): Promise<Uint8Array> {
    const r = x.result;
    const rendered = await renderExit(x, format, this.engine, this.deps.metrics);
    const confidence = withConfidence && r.confidence ? Uint8Array.from(r.confidence, (c) => Math.round(c * 255)) : undefined;
    const { exit, exits, ...fields } = rendered.fields;
    return encodeExitMessage({
      type: 'exit',
      frame_id: frame.frameId,
      ...echo(frame.captureTs),
      exit,
      exits,
      width: rendered.width,
      height: rendered.height,
      labels: { encoding: format.container, palette: format.encoding === 'palette', bytes: rendered.bytes.length },
      confidence: confidence ? { bytes: confidence.length, width: r.width, height: r.height } : null,
      ...fields,
    }, rendered.bytes, confidence);
  }
}
