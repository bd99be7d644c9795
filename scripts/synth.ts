// npm run synth -- --out DIR --count N [--split train|val|test] [--height H --width W] [--color]
//                  [--sequence static|moving --frames F] [--stats]
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { z } from 'zod';
import { Progress } from '../src/progress.js';
import {
  SPLIT_SEED_BASE, sampleName, sequenceFolder, writeSample, writeSequenceMeta, type Split,
} from '../src/synth/cityscapes-layout.js';
import { generateScene, type SceneSize } from '../src/synth/generate.js';
import { SequenceStatsCollector } from '../src/synth/sequence/stats.js';
import { MAX_SEQUENCE_FRAMES, SEQUENCE_GENERATORS, planSequence, type SequenceKind } from '../src/synth/sequences.js';
import { optionProblems } from './option-problems.js';

const Options = z.object({
  out: z.string().min(1).optional(),
  count: z.coerce.number().int().min(1).max(1_000_000),
  split: z.enum(['train', 'val', 'test']),
  height: z.coerce.number().int().min(16).max(4096),
  width: z.coerce.number().int().min(16).max(4096),
  sequence: z.enum(['static', 'moving']).optional(),
  frames: z.coerce.number().int().min(1).max(MAX_SEQUENCE_FRAMES).optional(),
  color: z.boolean(),
  stats: z.boolean(),
}).refine((o) => o.sequence !== undefined || (o.frames === undefined && !o.stats), {
  message: '--frames and --stats need --sequence', path: ['sequence'],
}).refine((o) => o.stats || o.out !== undefined, { message: 'required unless --stats', path: ['out'] });

const program = new Command()
  .name('synth')
  .description('Write procedural street scenes, or clips of them, in the Cityscapes layout')
  .option('--out <dir>', 'output root')
  .requiredOption('--count <n>', 'images, or clips with --sequence')
  .option('--split <split>', 'train | val | test (fixes the seeds)', 'train')
  .option('--height <px>', 'image height', '256')
  .option('--width <px>', 'image width', '512')
  .option('--sequence <kind>', 'clips: static (fixed camera, traffic) | moving (driving camera)')
  .option('--frames <n>', 'frames per clip (default 100)')
  .option('--color', 'also write _gtFine_color.png palette images', false)
  .option('--stats', 'print figures of the clips as JSON (moving things, coverage, events, ms per frame); writes nothing', false)
  .parse();

const parsed = Options.safeParse(program.opts());
if (!parsed.success) {
  console.error(`synth: ${optionProblems(parsed.error)}`);
  process.exit(2);
}
const opts = parsed.data;
const split: Split = opts.split;
const base = SPLIT_SEED_BASE[split];
const size: SceneSize = { height: opts.height, width: opts.width };
const seeds = `seeds ${base}..${base + opts.count - 1}`;

/** Writes run beside painting, at most four at a time. */
class Writes {
  private readonly pending: Promise<unknown>[] = [];
  async add(job: Promise<unknown>): Promise<void> {
    this.pending.push(job);
    if (this.pending.length >= 4) await this.pending.shift();
  }
  async drain(): Promise<void> {
    await Promise.all(this.pending);
  }
}

async function writeScenes(out: string): Promise<void> {
  const progress = new Progress(`synth ${split}`, opts.count);
  const writes = new Writes();
  for (let i = 0; i < opts.count; i++) {
    const sample = generateScene(base + i, size);
    await writes.add(writeSample({ root: out, split, name: sampleName(i, 0), color: opts.color }, sample).then(() => progress.tick()));
  }
  await writes.drain();
  console.log(`wrote ${opts.count} images to ${out} (${split}, ${seeds})`);
}

async function sequences(kind: SequenceKind, frames: number, out: string | undefined): Promise<void> {
  const progress = new Progress(`synth ${kind} ${split}`, opts.count * frames);
  const writes = new Writes();
  const stats = new SequenceStatsCollector();
  let paintMs = 0;
  for (let i = 0; i < opts.count; i++) {
    const seed = base + i;
    const folder = sequenceFolder(kind, i);
    const frameMeta: unknown[] = [];
    const plan = planSequence(kind, seed, frames, size);
    stats.startSequence(plan);
    const clip = SEQUENCE_GENERATORS[kind](seed, frames, size);
    for (;;) {
      const started = performance.now();
      const next = clip.next();
      paintMs += performance.now() - started;
      if (next.done) break;
      const frame = next.value;
      stats.add(frame);
      const { index, shot, events, offset, exposure, objects } = frame;
      frameMeta.push({ index, shot, events, offset, exposure, objects });
      if (out === undefined) {
        progress.tick();
        continue;
      }
      const name = sampleName(i, index, kind);
      await writes.add(writeSample({ root: out, split, folder, name, color: opts.color }, frame).then(() => progress.tick()));
    }
    if (out !== undefined) {
      await writes.add(writeSequenceMeta(out, split, folder, { kind, seed, ...size, fps: plan.fps, actors: plan.actors, frames: frameMeta }));
    }
  }
  await writes.drain();
  const figures = stats.result();
  if (out === undefined) {
    const msPerFrame = paintMs / (opts.count * frames);
    console.log(JSON.stringify({ kind, split, ...size, frames_per_sequence: frames, ms_per_frame: msPerFrame, ...figures }, null, 2));
    return;
  }
  console.log(`wrote ${opts.count} ${kind} clips of ${frames} frames to ${out} (${split}, ${seeds}); ` +
    `moving things in view ${figures.movingInView.toFixed(1)}, covering ${(100 * figures.movingCoverage).toFixed(1)}% of the picture`);
}

if (opts.sequence) await sequences(opts.sequence, opts.frames ?? 100, opts.stats ? undefined : opts.out);
else await writeScenes(opts.out!);
