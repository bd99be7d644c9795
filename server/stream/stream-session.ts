// One WebSocket stream: frames in, exits out. Latest frame wins: a new frame replaces the
// one waiting (reported as dropped) and supersedes the one running, which stops after its
// current stage. A slow reader (send buffer above a bound) gets only final exits.

import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { AnytimeEngine, ExitResult } from '../../src/engine/anytime-engine.js';
import { BudgetSchema, mergeBudgets, type Budget, type StopReason } from '../../src/engine/budget.js';
import { isAdpcError } from '../../src/errors.js';
import { prepareFrame } from '../../src/image/preprocess.js';
import { encodeLabelPng, resizeLabels } from '../../src/output/label-map.js';
import type { StageScheduler } from '../stage-scheduler.js';
import type { ServerMetrics } from '../metrics.js';
import { PROTOCOL_VERSION, encodeExitMessage, parseFrameMessage, type FrameMessage } from './frame-message.js';

const StreamOptions = z.object({
  type: z.literal('config'),
  budget: BudgetSchema.optional(),
  size: z.enum(['stride', 'frame']).optional(),
  labels: z.enum(['png', 'raw']).optional(),
  confidence: z.boolean().optional(),
}).strict();

export interface StreamLimits {
  maxMessageBytes: number;
  maxFramePixels: number;
  /** Above this many bytes waiting in the socket, only final exits are sent. */
  slowReaderBytes: number;
  /** 'stage': a new frame stops the running one after its current stage; 'frame': after it ends. */
  supersede: 'stage' | 'frame';
  /** Frames per second a stream may send (0 = no limit); faster frames are refused. */
  maxFps: number;
}

interface Running {
  readonly frameId: number;
  readonly controller: AbortController;
  superseded: boolean;
}

export class StreamSession {
  private budget: Budget = {};
  private size: 'stride' | 'frame' = 'stride';
  private labels: 'png' | 'raw' = 'png';
  private confidence = false;
  private pending: (FrameMessage & { arrivedAt: number }) | null = null;
  private running: Running | null = null;
  private closed = false;
  private idle: (() => void) | null = null;
  private tokens: number;
  private lastRefill = performance.now();

  constructor(
    private readonly ws: WebSocket,
    private readonly engine: AnytimeEngine,
    private readonly scheduler: StageScheduler,
    private readonly metrics: ServerMetrics,
    private readonly limits: StreamLimits,
  ) {
    this.tokens = limits.maxFps;
    this.sendJson({ type: 'hello', protocol: PROTOCOL_VERSION, model: engine.info() });
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('close', () => this.close());
    ws.on('error', () => this.close());
  }

  /** Resolves once no frame is running or waiting (used when the server drains). */
  settled(): Promise<void> {
    this.pending = null;
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }

  private close(): void {
    this.closed = true;
    this.pending = null;
    this.running?.controller.abort();
  }

  private sendJson(message: Record<string, unknown>): void {
    if (!this.closed && this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }

  private error(code: string, message: string, frameId: number | null): void {
    this.sendJson({ type: 'error', code, message, frame_id: frameId });
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (!isBinary) return this.onOptions(data.toString('utf8'));
    const parsed = parseFrameMessage(data, { maxBytes: this.limits.maxMessageBytes, maxPixels: this.limits.maxFramePixels });
    if (!parsed.ok) {
      this.metrics.frame('rejected');
      return this.error(parsed.error.code, parsed.error.message, parsed.error.frameId);
    }
    if (!this.rateAllows(performance.now())) {
      this.metrics.frame('rejected');
      return this.error('RATE_LIMITED', `more than ${this.limits.maxFps} frames per second`, parsed.frame.frameId);
    }
    if (this.pending) {
      this.metrics.frame('dropped');
      this.sendJson({ type: 'dropped', frame_id: this.pending.frameId, reason: 'superseded' });
    }
    this.pending = { ...parsed.frame, arrivedAt: performance.now() };
    if (this.running && this.limits.supersede === 'stage') {
      this.running.superseded = true;
      this.running.controller.abort();
    }
    void this.pump();
  }

  /** A token bucket of one second's worth of frames. */
  private rateAllows(now: number): boolean {
    if (this.limits.maxFps <= 0) return true;
    this.tokens = Math.min(this.limits.maxFps, this.tokens + ((now - this.lastRefill) / 1000) * this.limits.maxFps);
    this.lastRefill = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private onOptions(text: string): void {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.error('BAD_MESSAGE', 'text messages must be JSON', null);
    }
    const parsed = StreamOptions.safeParse(json);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ');
      return this.error(parsed.error.issues.some((i) => i.path[0] === 'budget') ? 'INVALID_BUDGET' : 'BAD_MESSAGE', detail, null);
    }
    const o = parsed.data;
    if (o.budget) this.budget = o.budget;
    if (o.size) this.size = o.size;
    if (o.labels) this.labels = o.labels;
    if (o.confidence !== undefined) this.confidence = o.confidence;
    this.sendJson({ type: 'config', budget: this.budget, size: this.size, labels: this.labels, confidence: this.confidence });
  }

  private async pump(): Promise<void> {
    while (!this.running && this.pending && !this.closed) {
      const frame = this.pending;
      this.pending = null;
      const running: Running = { frameId: frame.frameId, controller: new AbortController(), superseded: false };
      this.running = running;
      this.metrics.inFlight.inc();
      try {
        await this.process(frame, running);
      } finally {
        this.metrics.inFlight.dec();
        this.running = null;
      }
    }
    if (!this.running && !this.pending) {
      this.idle?.();
      this.idle = null;
    }
  }

  private async process(frame: FrameMessage & { arrivedAt: number }, running: Running): Promise<void> {
    const { engine } = this;
    const decodeStarted = performance.now();
    let prepared;
    try {
      prepared = await prepareFrame(frame.format === 'encoded'
        ? { kind: 'encoded', bytes: frame.image }
        : { kind: 'raw', bytes: frame.image, width: frame.width, height: frame.height, channels: frame.format === 'rgb' ? 3 : 4 },
      engine.manifest.input, { maxPixels: this.limits.maxFramePixels });
    } catch (e) {
      this.metrics.frame('rejected');
      return this.error(isAdpcError(e) ? e.code : 'INTERNAL', (e as Error).message, frame.frameId);
    }
    const decodeMs = performance.now() - decodeStarted;
    this.metrics.decode(decodeMs / 1000);
    const budget = mergeBudgets(this.budget, frame.budget);
    const dense = engine.manifest.stages.map((s) => s.dense_gflops);
    let lastExit = 0;
    let lastStop: string | null = null;
    const deadline = frame.arrivedAt + (budget.deadline_ms ?? Infinity);
    let queueMs = 0;
    const acquire = async () => {
      const asked = performance.now();
      const release = await this.scheduler.acquire(deadline);
      queueMs += performance.now() - asked;
      return release;
    };
    const ended = await (async () => {
      const gen = engine.run(prepared.data, { budget, signal: running.controller.signal, arrivedAt: frame.arrivedAt, withConfidence: this.confidence, acquire });
      for (;;) {
        const step = await gen.next();
        if (step.done) return step.value;
        const result = step.value;
        lastExit = result.exit;
        lastStop = result.stop;
        this.metrics.exit(result, dense[result.exit - 1]!, (performance.now() - frame.arrivedAt) / 1000);
        const stop = result.stop === 'cancelled' && running.superseded ? 'superseded' : result.stop;
        // a slow reader gets final exits only; the others are never buffered
        if (stop === null && this.ws.bufferedAmount > this.limits.slowReaderBytes) continue;
        await this.sendExit(frame, prepared.frameWidth, prepared.frameHeight, result, stop, { queue: queueMs, decode: decodeMs });
      }
    })();
    if (this.closed) return;
    const finalStop = lastStop ?? ended;
    if (finalStop === 'cancelled' && running.superseded) {
      this.metrics.frame('superseded');
      this.metrics.stop('superseded');
      // the last exit sent said nothing about stopping: say it now
      if (lastStop === null) this.sendJson({ type: 'stopped', frame_id: frame.frameId, reason: 'superseded', last_exit: lastExit });
      return;
    }
    this.metrics.frame('completed');
    this.metrics.stop(finalStop as StopReason);
  }

  private async sendExit(frame: FrameMessage, frameWidth: number, frameHeight: number, r: ExitResult,
    stop: string | null, timing: { queue: number; decode: number }): Promise<void> {
    const encodeStarted = performance.now();
    const map = this.size === 'frame' ? resizeLabels(r, frameWidth, frameHeight) : r;
    const labels = this.labels === 'png' ? new Uint8Array(await encodeLabelPng(map)) : map.labels;
    const confidence = this.confidence && r.confidence ? Uint8Array.from(r.confidence, (c) => Math.round(c * 255)) : undefined;
    const encodeMs = performance.now() - encodeStarted;
    this.metrics.encode(encodeMs / 1000);
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(encodeExitMessage({
      type: 'exit',
      frame_id: frame.frameId,
      exit: r.exit,
      exits: r.exits,
      width: map.width,
      height: map.height,
      labels: { encoding: this.labels, bytes: labels.length },
      confidence: confidence ? { bytes: confidence.length, width: r.width, height: r.height } : null,
      gflops: r.gflops,
      cumulative_gflops: r.cumulativeGflops,
      computed_share: r.computedShare,
      form: r.form,
      timing_ms: { queue: timing.queue, decode: timing.decode, compute: r.computeMs, encode: encodeMs },
      stop,
    }, labels, confidence));
  }
}
