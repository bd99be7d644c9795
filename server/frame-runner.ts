// The one path of a frame, for POST /v1/segment and WS /v1/stream alike: decode in a bounded
// set of decode slots, the output-size bound, the engine's exits with the device scheduler,
// metrics, and failure handling with one log line per refused or failed frame. The faces
// only turn exits into bytes and answers.

import type { ExitResult, RunOptions } from '../src/engine/anytime-engine.js';
import type { Budget, StopReason } from '../src/engine/budget.js';
import { AdpcError, asAdpcError, isAdpcError } from '../src/errors.js';
import { prepareFrame, type FrameInput, type PreparedFrame } from '../src/image/preprocess.js';
import type { RegionReuse, ReuseReport, ReuseStop } from '../src/reuse/region-reuse.js';
import type { ErrorReporter, RequestContext } from './error-report.js';
import type { ServerMetrics, Queue } from './metrics.js';
import type { FrameEngine } from './model-info.js';
import type { Release, SlotScheduler } from './slot-scheduler.js';

/** The abort reason of a frame that a newer one supersedes; any other reason is 'cancelled'. */
export const SUPERSEDED = 'superseded';

/** 'unchanged': region reuse found nothing changed and answered with the reference. */
export type FrameStop = StopReason | 'superseded' | 'unchanged';

/** An exit as the faces see it: the engine's, or region reuse's with its report. */
export type FrameResult = Omit<ExitResult, 'stop'> & { readonly stop: ReuseStop | null; readonly reuse?: ReuseReport };

export interface FrameLimits {
  readonly maxFramePixels: number;
  readonly maxFrameSide: number;
  /** Largest label map a frame-size answer may have (pixels). */
  readonly maxOutputPixels: number;
}

export interface FrameExit {
  readonly result: FrameResult;
  /** Why the frame ends with this exit; null when more may follow. */
  readonly stop: FrameStop | null;
  readonly frameWidth: number;
  readonly frameHeight: number;
  /** Milliseconds waited for a decode slot and the device so far. */
  readonly queueMs: number;
  readonly decodeMs: number;
}

export interface FrameJob {
  readonly engine: FrameEngine;
  readonly input: FrameInput;
  readonly budget: Budget;
  /** performance.now() at arrival: the deadline and every timing count from here. */
  readonly arrivedAt: number;
  /** Label maps will be scaled to the frame (bounded by maxOutputPixels). */
  readonly frameSize: boolean;
  readonly withConfidence?: boolean;
  /** The stream's region reuse, when it has it on: the frame runs through it. */
  readonly reuse?: RegionReuse;
  /** Aborted with SUPERSEDED when a newer frame wins; the frame stops after its current stage. */
  readonly signal?: AbortSignal;
  readonly context: RequestContext;
  /** Turns one exit into bytes; a throw fails the frame. */
  readonly onExit: (exit: FrameExit) => void | Promise<void>;
}

export type FrameEnd =
  // dropped: it waited for the device past its deadline and gave way before its first exit (lastExit 0)
  | { readonly outcome: 'completed' | 'superseded' | 'cancelled' | 'dropped'; readonly stop: FrameStop; readonly lastExit: number;
      /** Whether the last exit handed to onExit carried `stop` (else the face must say it). */
      readonly stopSent: boolean }
  | { readonly outcome: 'rejected' | 'failed'; readonly error: AdpcError };

/** Input buffers kept between frames: a fresh 1.5 MB one cost 1.1-1.4 ms of page faults and zeroing a frame (0.11 ms into a kept one). */
const SPARE_INPUTS = 4;

export class FrameRunner {
  private readonly running = new Set<AbortController>();
  private readonly spareInputs: Float32Array[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly deps: {
    metrics: ServerMetrics;
    reporter: ErrorReporter;
    device: SlotScheduler;
    decode: SlotScheduler;
    limits: FrameLimits;
  }) {}

  get inFlight(): number {
    return this.running.size;
  }

  /** Resolves once no frame is running. */
  idle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops every running frame after its current stage (server drain). */
  cancelAll(): void {
    for (const controller of this.running) controller.abort('cancelled');
  }

  /** Runs one frame to its end; never throws: a refusal or failure is the returned end. */
  async run(job: FrameJob): Promise<FrameEnd> {
    const own = new AbortController();
    this.running.add(own);
    this.deps.metrics.inFlight.inc();
    const { width, height } = job.engine.manifest.input;
    const spare = this.spareInputs.pop();
    // the frame's input lives until its run has ended: no stage holds it after that
    const input = spare?.length === 3 * width * height ? spare : new Float32Array(3 * width * height);
    try {
      return await this.execute(job, job.signal ? AbortSignal.any([job.signal, own.signal]) : own.signal, input);
    } finally {
      if (this.spareInputs.length < SPARE_INPUTS) this.spareInputs.push(input);
      this.deps.metrics.inFlight.dec();
      this.running.delete(own);
      if (this.running.size === 0) {
        for (const resolve of this.idleWaiters.splice(0)) resolve();
      }
    }
  }

  private async execute(job: FrameJob, signal: AbortSignal, input: Float32Array): Promise<FrameEnd> {
    const { metrics, limits } = this.deps;
    const { engine, budget, arrivedAt } = job;
    const deadline = arrivedAt + (budget.deadline_ms ?? Infinity);
    let queueMs = 0;
    const slot = async (queue: Queue, slots: SlotScheduler): Promise<Release> => {
      const asked = performance.now();
      const release = await slots.acquire(deadline);
      const waited = performance.now() - asked;
      queueMs += waited;
      metrics.queued(queue, waited / 1000);
      return release;
    };

    let frame: PreparedFrame;
    let decodeMs: number;
    try {
      const release = await slot('decode', this.deps.decode);
      const started = performance.now();
      try {
        frame = await prepareFrame(job.input, engine.manifest.input, { maxPixels: limits.maxFramePixels, maxSide: limits.maxFrameSide, buffer: input });
      } finally {
        release();
      }
      decodeMs = performance.now() - started;
      metrics.decode(decodeMs / 1000);
      const pixels = frame.frameWidth * frame.frameHeight;
      if (job.frameSize && pixels > limits.maxOutputPixels) {
        throw new AdpcError('OUTPUT_TOO_LARGE',
          `label maps at the frame's size (${frame.frameWidth}x${frame.frameHeight}) would exceed ${limits.maxOutputPixels} pixels; ask for size=stride`);
      }
    } catch (e) {
      return this.refuse(e, job, isAdpcError(e) ? 'rejected' : 'failed');
    }

    const dense = engine.manifest.stages.map((s) => s.dense_gflops);
    const cancelledAs = (): FrameStop => (signal.reason === SUPERSEDED ? 'superseded' : 'cancelled');
    // frame-size answers take the engine's input-size labels (bilinearly upsampled logits)
    const options: RunOptions = {
      budget, signal, arrivedAt, withConfidence: job.withConfidence, fullLabels: job.frameSize, acquire: () => slot('device', this.deps.device),
      waiting: () => this.deps.device.depth > 0, whenWaiting: (listener) => this.deps.device.whenWaiting(listener),
    };
    const exits: AsyncGenerator<FrameResult, ReuseStop> = job.reuse ? job.reuse.run(engine, frame, options) : engine.run(frame.data, options);
    let lastExit = 0;
    let sent: FrameStop | null = null;
    let ended: ReuseStop;
    let report: ReuseReport | undefined;
    let lastExitAt = performance.now();
    try {
      for (;;) {
        const step = await exits.next();
        if (step.done) {
          ended = step.value;
          break;
        }
        const result = step.value;
        report = result.reuse;
        // a reused answer ran no stage: it would skew the per-stage figures
        if (report?.mode !== 'reused') metrics.exit(result, dense[result.exit - 1]!, (performance.now() - arrivedAt) / 1000);
        const stop = result.stop === 'cancelled' ? cancelledAs() : result.stop;
        lastExit = result.exit;
        await job.onExit({ result, stop, frameWidth: frame.frameWidth, frameHeight: frame.frameHeight, queueMs, decodeMs });
        lastExitAt = performance.now();
        sent = stop;
      }
    } catch (e) {
      await exits.return('cancelled').catch(() => undefined);
      return this.refuse(asAdpcError(e), job, 'failed');
    }
    const stop = sent ?? (ended === 'cancelled' ? cancelledAs() : ended);
    const outcome = lastExit === 0 ? 'dropped' : stop === 'superseded' ? 'superseded' : stop === 'cancelled' ? 'cancelled' : 'completed';
    metrics.frame(outcome);
    if (report) metrics.reuse(report);
    // late means the client's last answer came after the deadline, not the decision to stop
    if (budget.deadline_ms !== undefined && outcome === 'completed') metrics.deadline(lastExitAt > deadline);
    metrics.stop(stop);
    this.deps.reporter.log.debug({
      outcome, stop, exits: lastExit, route: job.context.route, request_id: job.context.requestId,
      ...(job.context.streamId !== undefined ? { stream_id: job.context.streamId, frame_id: job.context.frameId } : {}),
      ms: Math.round((performance.now() - arrivedAt) * 10) / 10,
    }, 'frame done');
    return { outcome, stop, lastExit, stopSent: sent !== null };
  }

  private refuse(e: unknown, job: FrameJob, outcome: 'rejected' | 'failed'): FrameEnd {
    // a failure inside the server is INTERNAL to the client, whatever threw it
    const error = outcome === 'failed' && !isAdpcError(e, 'INTERNAL') ? new AdpcError('INTERNAL', 'the server failed on this frame; its log has the cause', { cause: e }) : asAdpcError(e);
    this.deps.metrics.frame(outcome);
    this.deps.reporter.report(error, job.context, performance.now() - job.arrivedAt);
    return { outcome, error };
  }
}
