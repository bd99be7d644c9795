// npm run bench:stream -- [--json] [--sequences N] [--frames F] [--moving N] [--margins 8,16,24,32]
//                         [--label-margins 0,8] [--threads T] [--bundle DIR] [--keyframe-interval N]
//                         [--margin PX] [--label-margin PX] [--max-share S]
//
// Region reuse on the fixed static-camera test clips (src/synth/sequences.ts TEST_SEQUENCES),
// full-frame processing and reuse interleaved frame by frame in one run (their order swapped
// every frame): compute per frame from the decoded frame to the final exit (change detection,
// crops and pasting included), mIoU of the final labels over all frames against the clips'
// ground truth, the share of the frame recomputed, keyframes, and the slowest reuse frame
// against the median full frame. Then the moving-camera clips (reuse must fall back to full
// frames at no extra cost), and with --margins the accuracy and cost per margin.

import { availableParallelism, cpus } from 'node:os';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import { DEFAULT_BUNDLE } from '../src/bundle/default-bundle.js';
import { AnytimeEngine, type ExitResult } from '../src/engine/anytime-engine.js';
import { Confusion } from '../src/eval/segmentation-metrics.js';
import { prepareFrame, type PreparedFrame } from '../src/image/preprocess.js';
import { resizeLabels } from '../src/output/label-map.js';
import { Progress } from '../src/progress.js';
import { DEFAULT_REUSE, RegionReuse, type ReuseExit, type ReuseSettings } from '../src/reuse/region-reuse.js';
import { SEQUENCE_GENERATORS, TEST_SEQUENCES, type SequenceKind } from '../src/synth/sequences.js';
import { fitTwo, median, quantile, round } from './bench/stats.js';
import { optionProblems } from './option-problems.js';

const list = (s: string) => (s === '' ? [] : s.split(',').map(Number));

const Options = z.object({
  bundle: z.string(),
  sequences: z.coerce.number().int().min(1).max(TEST_SEQUENCES.static.length),
  frames: z.coerce.number().int().min(2).max(TEST_SEQUENCES.frames),
  moving: z.coerce.number().int().min(0).max(TEST_SEQUENCES.moving.length),
  margins: z.string().transform(list).pipe(z.array(z.number().int().min(0).max(256))),
  margin: z.coerce.number().int().min(0).max(256),
  labelMargins: z.string().transform(list).pipe(z.array(z.number().int().min(0).max(256))),
  labelMargin: z.coerce.number().int().min(0).max(256),
  keyframeInterval: z.coerce.number().int().min(1).max(10_000),
  maxShare: z.coerce.number().min(0).max(1),
  threads: z.coerce.number().int().min(0).max(256),
  json: z.boolean(),
});

function parseOptions() {
  const program = new Command()
    .option('--bundle <dir>', 'model bundle', DEFAULT_BUNDLE)
    .option('--sequences <n>', 'static test clips', String(TEST_SEQUENCES.static.length))
    .option('--frames <n>', 'frames per clip', String(TEST_SEQUENCES.frames))
    .option('--moving <n>', 'moving-camera test clips', String(TEST_SEQUENCES.moving.length))
    .option('--margins <list>', 'margins (px) to compare, comma separated', '')
    .option('--margin <px>', 'pixels around the changed blocks that a frame recomputes', String(DEFAULT_REUSE.margin))
    .option('--label-margin <px>', 'pixels around the changed blocks whose labels a frame replaces', String(DEFAULT_REUSE.labelMargin))
    .option('--label-margins <list>', 'label margins to compare with each of --margins', '')
    .option('--keyframe-interval <n>', 'frames between keyframes', String(DEFAULT_REUSE.keyframeInterval))
    .option('--max-share <s>', 'recomputed share above which a frame runs whole', String(DEFAULT_REUSE.maxShare))
    .option('--threads <n>', 'threads (0 = all cores)', '0')
    .option('--json', 'print the JSON report', false)
    .parse();
  const parsed = Options.safeParse(program.opts());
  if (!parsed.success) {
    console.error(`bench:stream: ${optionProblems(parsed.error)}`);
    process.exit(2);
  }
  return parsed.data;
}

interface Clip {
  readonly frames: { readonly prepared: PreparedFrame; readonly truth: Uint8Array }[];
  readonly width: number;
  readonly height: number;
}

async function paintClip(engine: AnytimeEngine, kind: SequenceKind, seed: number, frames: number): Promise<Clip> {
  const out: Clip['frames'][number][] = [];
  const { height, width } = TEST_SEQUENCES.size;
  for (const f of SEQUENCE_GENERATORS[kind](seed, frames, { height, width })) {
    const prepared = await prepareFrame({ kind: 'raw', bytes: f.image, width: f.width, height: f.height, channels: 3 }, engine.manifest.input);
    out.push({ prepared, truth: f.label });
  }
  return { frames: out, width, height };
}

/** One configuration over the clips: time per frame and the final labels' confusion. */
class Arm {
  readonly ms: number[] = [];
  readonly confusion: Confusion;
  readonly modes = { full: 0, regions: 0, reused: 0 };
  readonly keyframes: Record<string, number> = {};
  readonly shares: number[] = [];
  /** Each frame's mode, in the order of `ms`. */
  readonly frameModes: string[] = [];

  constructor(classes: number, readonly settings: ReuseSettings | null) {
    this.confusion = new Confusion(classes);
  }

  private reuse: RegionReuse | null = null;

  /** A new clip: a new stream. */
  startClip(): void {
    this.reuse = this.settings ? new RegionReuse(this.settings) : null;
  }

  async frame(engine: AnytimeEngine, prepared: PreparedFrame, truth: Uint8Array, width: number, height: number): Promise<void> {
    const started = performance.now();
    let last: ExitResult | ReuseExit | null = null;
    if (this.reuse) {
      for await (const r of this.reuse.run(engine, prepared)) last = r;
    } else {
      for await (const r of engine.run(prepared.data)) last = r;
    }
    this.ms.push(performance.now() - started);
    if (!last) throw new Error('a frame gave no result');
    this.confusion.add(truth, resizeLabels(last, width, height).labels);
    if ('reuse' in last) {
      this.modes[last.reuse.mode]++;
      this.frameModes.push(last.reuse.mode);
      this.shares.push(last.reuse.recomputedShare);
      if (last.reuse.keyframe) this.keyframes[last.reuse.keyframe] = (this.keyframes[last.reuse.keyframe] ?? 0) + 1;
    }
  }

  /**
   * Each frame against the same frame's full run (they ran next to each other): by mode, the
   * share above 1.15x, and what a regions frame costs against the full run fitted to its
   * recomputed share: fixed + per_share x share (what ReuseSettings.maxShare weighs).
   */
  paired(full: Arm) {
    const ratios = this.ms.map((ms, i) => ms / full.ms[i]!);
    const regions = ratios.map((_, i) => i).filter((i) => this.frameModes[i] === 'regions');
    const fit = regions.length >= 10 ? fitTwo(regions.map((i) => this.shares[i]!), regions.map(() => 1), regions.map((i) => ratios[i]!)) : null;
    const of = (mode: string) => ratios.filter((_, i) => this.frameModes[i] === mode);
    return {
      cost_fit: fit ? { per_share: round(fit.a, 3), fixed: round(fit.b, 4), frames: fit.points } : null,
      keyframe_median: round(median(of('full')), 3),
      regions_median: round(median(of('regions')), 3),
      regions_p99: round(quantile(of('regions'), 0.99), 3),
      share_over_1_15: round(ratios.filter((r) => r > 1.15).length / ratios.length, 4),
      full_share_over_1_15: round(of('full').filter((r) => r > 1.15).length / Math.max(1, of('full').length), 4),
    };
  }

  summary(fullMedianMs?: number) {
    const mean = this.ms.reduce((a, b) => a + b, 0) / this.ms.length;
    return {
      ms_per_frame: round(mean, 2),
      p50_ms: round(median(this.ms), 2),
      p99_ms: round(quantile(this.ms, 0.99), 2),
      max_ms: round(Math.max(...this.ms), 2),
      miou: round(this.confusion.meanIou(), 2),
      ...(this.settings ? {
        recomputed_share: round(this.shares.reduce((a, b) => a + b, 0) / this.shares.length, 4),
        keyframes: Object.values(this.keyframes).reduce((a, b) => a + b, 0),
        keyframe_reasons: this.keyframes,
        modes: this.modes,
        ...(fullMedianMs ? { slowest_vs_full_median: round(Math.max(...this.ms) / fullMedianMs, 3) } : {}),
      } : {}),
    };
  }
}

/** Runs the arms over the clips, interleaved frame by frame, the order swapped every frame. */
async function interleave(engine: AnytimeEngine, clips: Clip[], arms: Arm[], label: string): Promise<void> {
  const progress = new Progress(label, clips.reduce((n, c) => n + c.frames.length, 0));
  let turn = 0;
  for (const clip of clips) {
    for (const arm of arms) arm.startClip();
    for (const f of clip.frames) {
      const order = turn++ % 2 === 0 ? arms : [...arms].reverse();
      for (const arm of order) await arm.frame(engine, f.prepared, f.truth, clip.width, clip.height);
      progress.tick();
    }
  }
}

async function main(): Promise<void> {
  const o = parseOptions();
  const threads = o.threads || availableParallelism();
  const engine = await AnytimeEngine.load(resolve(o.bundle), { threads });
  if (!engine.regionsSupported()) throw new Error(`this bundle runs no regions here: ${JSON.stringify(engine.info().native)}`);
  const classes = engine.manifest.classes.length;
  const settings: ReuseSettings = {
    ...DEFAULT_REUSE, margin: o.margin, labelMargin: o.labelMargin, keyframeInterval: o.keyframeInterval, maxShare: o.maxShare,
  };

  const painting = new Progress('painting clips', o.sequences + o.moving);
  const staticClips: Clip[] = [];
  for (const seed of TEST_SEQUENCES.static.slice(0, o.sequences)) {
    staticClips.push(await paintClip(engine, 'static', seed, o.frames));
    painting.tick();
  }
  const movingClips: Clip[] = [];
  for (const seed of TEST_SEQUENCES.moving.slice(0, o.moving)) {
    movingClips.push(await paintClip(engine, 'moving', seed, o.frames));
    painting.tick();
  }

  const full = new Arm(classes, null);
  const reuse = new Arm(classes, settings);
  await interleave(engine, staticClips, [full, reuse], 'static clips');
  const fullSummary = full.summary();
  const reuseSummary = { ...reuse.summary(median(full.ms)), vs_same_frame_full: reuse.paired(full) };

  let moving = null;
  if (movingClips.length > 0) {
    const mFull = new Arm(classes, null);
    const mReuse = new Arm(classes, settings);
    await interleave(engine, movingClips, [mFull, mReuse], 'moving clips');
    const f = mFull.summary();
    const r = { ...mReuse.summary(median(mFull.ms)), vs_same_frame_full: mReuse.paired(mFull) };
    moving = { full: f, reuse: r, ratio: round(r.ms_per_frame / f.ms_per_frame, 3) };
  }

  // each setting against full frames again, interleaved: the machine's speed drifts between passes
  const margins = [];
  for (const margin of o.margins) {
    for (const labelMargin of o.labelMargins.length > 0 ? o.labelMargins : [o.labelMargin]) {
      const base = new Arm(classes, null);
      const arm = new Arm(classes, { ...settings, margin, labelMargin });
      await interleave(engine, staticClips, [base, arm], `margin ${margin}, labels ${labelMargin}`);
      const s = arm.summary();
      const b = base.summary();
      margins.push({
        margin, label_margin: labelMargin, miou: s.miou, miou_vs_full: round(s.miou - b.miou, 2), recomputed_share: s.recomputed_share,
        ms_vs_full: round(s.ms_per_frame / b.ms_per_frame, 3),
      });
    }
  }

  const info = engine.info();
  await engine.close();
  const report = {
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism() },
    native: info.native,
    threads,
    bundle: info.name,
    clips: { static: staticClips.length, moving: movingClips.length, frames: o.frames, size: TEST_SEQUENCES.size },
    settings,
    full: fullSummary,
    reuse: reuseSummary,
    ratio: round(reuseSummary.ms_per_frame / fullSummary.ms_per_frame, 3),
    miou_delta: round(reuseSummary.miou - fullSummary.miou, 2),
    moving,
    margins,
  };
  if (o.json) {
    console.log(JSON.stringify(report));
    return;
  }
  console.log(`${report.bundle}, ${threads} threads, native ${'isa' in info.native ? info.native.isa : 'off'}; ${staticClips.length} static clips x ${o.frames} frames`);
  console.log('| run | ms per frame | p99 ms | max ms | mIoU | recomputed share | keyframes |');
  console.log('|---|---|---|---|---|---|---|');
  console.log(`| full frames | ${fullSummary.ms_per_frame} | ${fullSummary.p99_ms} | ${fullSummary.max_ms} | ${fullSummary.miou} | 1 | - |`);
  console.log(`| reuse | ${reuseSummary.ms_per_frame} | ${reuseSummary.p99_ms} | ${reuseSummary.max_ms} | ${reuseSummary.miou} | ${reuseSummary.recomputed_share} | ${reuseSummary.keyframes} ${JSON.stringify(reuseSummary.keyframe_reasons)} |`);
  console.log(`reuse vs full: ${report.ratio}x compute per frame, mIoU ${report.miou_delta}, slowest reuse frame ${reuseSummary.slowest_vs_full_median}x the median full frame; modes ${JSON.stringify(reuseSummary.modes)}`);
  console.log(`each frame against its own full run: ${JSON.stringify(reuseSummary.vs_same_frame_full)}`);
  if (moving) console.log(`moving camera: reuse ${moving.reuse.ms_per_frame} ms vs full ${moving.full.ms_per_frame} ms per frame (${moving.ratio}x), modes ${JSON.stringify(moving.reuse.modes)}`);
  if (margins.length > 0) {
    console.log('| margin px | label margin px | mIoU | vs full | recomputed share | compute vs full |');
    console.log('|---|---|---|---|---|---|');
    for (const m of margins) console.log(`| ${m.margin} | ${m.label_margin} | ${m.miou} | ${m.miou_vs_full} | ${m.recomputed_share} | ${m.ms_vs_full}x |`);
  }
}

await main();
