// Prometheus metrics on a private registry: labels from closed sets, names in base units.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ExitResult } from '../src/engine/anytime-engine.js';
import { ERROR_CODES, type ErrorCode } from '../src/errors.js';
import { KEYFRAME_REASONS, REUSE_MODES, type ReuseReport } from '../src/reuse/region-reuse.js';
import type { FrameStop } from './frame-runner.js';

const LATENCY_BUCKETS = [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5];
const SHARE_BUCKETS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

export type FrameOutcome = 'completed' | 'superseded' | 'cancelled' | 'dropped' | 'rejected' | 'failed';
export type Queue = 'decode' | 'device';

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly frames: Counter<'outcome'>;
  private readonly timeToExit: Histogram<'exit'>;
  private readonly stageSeconds: Histogram<'stage' | 'mode'>;
  private readonly gflopsExecuted: Counter<'stage'>;
  private readonly gflopsSkipped: Counter<'stage'>;
  private readonly computedShare: Histogram<'stage'>;
  private readonly budgetStops: Counter<'reason'>;
  private readonly decodeSeconds: Histogram;
  private readonly encodeSeconds: Histogram;
  private readonly queueWait: Histogram<'queue'>;
  private readonly errors: Counter<'code'>;
  private readonly slowReaderDrops: Counter;
  private readonly deadlineFrames: Counter<'late'>;
  private readonly reuseFrames: Counter<'mode'>;
  private readonly reuseKeyframes: Counter<'reason'>;
  private readonly recomputedShare: Histogram;
  readonly inFlight: Gauge;
  readonly streams: Gauge;
  private unsentBytes: () => number = () => 0;
  private readonly modelInfo: Gauge<'model' | 'version' | 'provider' | 'arch'>;

  constructor() {
    const registers = [this.registry];
    // stock dashboards look for process_* and nodejs_*: no prefix on these
    collectDefaultMetrics({ register: this.registry });
    this.frames = new Counter({ name: 'adpc_frames_total', help: 'Frames by outcome', labelNames: ['outcome'], registers });
    this.timeToExit = new Histogram({ name: 'adpc_time_to_exit_seconds', help: 'From frame arrival to each exit result', labelNames: ['exit'], buckets: LATENCY_BUCKETS, registers });
    this.stageSeconds = new Histogram({ name: 'adpc_stage_compute_seconds', help: 'Compute time per stage and form (masked, plain, sparse, native)', labelNames: ['stage', 'mode'], buckets: LATENCY_BUCKETS, registers });
    this.gflopsExecuted = new Counter({ name: 'adpc_gflops_executed_total', help: 'GFLOPs run (ADP-C convention), by stage', labelNames: ['stage'], registers });
    this.gflopsSkipped = new Counter({ name: 'adpc_gflops_skipped_total', help: 'Dense GFLOPs that CA skipped, by stage', labelNames: ['stage'], registers });
    this.computedShare = new Histogram({ name: 'adpc_computed_share_ratio', help: 'Share of positions each stage computed', labelNames: ['stage'], buckets: SHARE_BUCKETS, registers });
    this.budgetStops = new Counter({ name: 'adpc_budget_stops_total', help: 'Frames ended by each stop reason', labelNames: ['reason'], registers });
    this.decodeSeconds = new Histogram({ name: 'adpc_decode_seconds', help: 'Image decode, resize and normalisation', buckets: LATENCY_BUCKETS, registers });
    this.encodeSeconds = new Histogram({ name: 'adpc_encode_seconds', help: 'Label map encoding per exit', buckets: LATENCY_BUCKETS, registers });
    this.queueWait = new Histogram({ name: 'adpc_queue_wait_seconds', help: 'Time a frame waited for a decode slot or for the device (once per stage, or per native stages run back to back)', labelNames: ['queue'], buckets: LATENCY_BUCKETS, registers });
    this.errors = new Counter({ name: 'adpc_errors_total', help: 'Errors answered or logged, by code (src/errors.ts)', labelNames: ['code'], registers });
    this.slowReaderDrops = new Counter({ name: 'adpc_slow_reader_drops_total', help: 'Final results replaced by a newer frame\'s before a slow reader took them', registers });
    for (const code of ERROR_CODES) this.errors.inc({ code }, 0);
    this.deadlineFrames = new Counter({ name: 'adpc_deadline_frames_total', help: 'Frames that had a deadline, by whether their last result came after it', labelNames: ['late'], registers });
    for (const late of ['true', 'false']) this.deadlineFrames.inc({ late }, 0);
    this.reuseFrames = new Counter({ name: 'adpc_reuse_frames_total', help: 'Frames of streams with region reuse, by mode (full, regions, reused)', labelNames: ['mode'], registers });
    for (const mode of REUSE_MODES) this.reuseFrames.inc({ mode }, 0);
    this.reuseKeyframes = new Counter({ name: 'adpc_reuse_keyframes_total', help: 'Full frames of streams with region reuse, by why they ran', labelNames: ['reason'], registers });
    for (const reason of KEYFRAME_REASONS) this.reuseKeyframes.inc({ reason }, 0);
    this.recomputedShare = new Histogram({ name: 'adpc_reuse_recomputed_share_ratio', help: 'Share of the frame the network ran on, streams with region reuse', buckets: SHARE_BUCKETS, registers });
    this.inFlight = new Gauge({ name: 'adpc_frames_in_flight', help: 'Frames being processed', registers });
    this.streams = new Gauge({ name: 'adpc_active_streams', help: 'Open WebSocket streams', registers });
    const metrics = this;
    new Gauge({
      name: 'adpc_stream_unsent_bytes', help: 'Bytes all streams hold unsent (socket buffers and slow-reader queues)', registers,
      collect() {
        this.set(metrics.unsentBytes());
      },
    });
    this.modelInfo = new Gauge({ name: 'adpc_model_info', help: 'The loaded model (value 1)', labelNames: ['model', 'version', 'provider', 'arch'], registers });
  }

  setModel(model: string, version: number, provider: string, arch: string): void {
    this.modelInfo.set({ model, version: String(version), provider, arch }, 1);
  }

  /** A frame with a deadline ended: was its last result late? (late share = true / all) */
  deadline(late: boolean): void {
    this.deadlineFrames.inc({ late: String(late) });
  }

  frame(outcome: FrameOutcome): void {
    this.frames.inc({ outcome });
  }

  exit(result: Pick<ExitResult, 'exit' | 'form' | 'computeMs' | 'gflops' | 'computedShare'>, denseGflops: number, sinceArrivalSeconds: number): void {
    const stage = String(result.exit);
    this.timeToExit.observe({ exit: stage }, sinceArrivalSeconds);
    this.stageSeconds.observe({ stage, mode: result.form }, result.computeMs / 1000);
    this.gflopsExecuted.inc({ stage }, result.gflops);
    this.gflopsSkipped.inc({ stage }, Math.max(0, denseGflops - result.gflops));
    this.computedShare.observe({ stage }, result.computedShare);
  }

  /** Where the unsent-bytes gauge reads its value at scrape time. */
  watchUnsent(read: () => number): void {
    this.unsentBytes = read;
  }

  queued(queue: Queue, seconds: number): void {
    this.queueWait.observe({ queue }, seconds);
  }

  error(code: ErrorCode): void {
    this.errors.inc({ code });
  }

  slowReaderDrop(): void {
    this.slowReaderDrops.inc();
  }

  /** A frame of a stream with region reuse ended. */
  reuse(report: ReuseReport): void {
    this.reuseFrames.inc({ mode: report.mode });
    if (report.keyframe) this.reuseKeyframes.inc({ reason: report.keyframe });
    this.recomputedShare.observe(report.recomputedShare);
  }

  stop(reason: FrameStop): void {
    this.budgetStops.inc({ reason });
  }

  decode(seconds: number): void {
    this.decodeSeconds.observe(seconds);
  }

  encode(seconds: number): void {
    this.encodeSeconds.observe(seconds);
  }
}
