// npm run synth -- --out DIR --count N --split train|val|test [--height H --width W]
//                  [--sequence-length L] [--color]
import { Command } from 'commander';
import { z } from 'zod';
import { Progress } from '../src/progress.js';
import { SPLIT_SEED_BASE, sampleName, writeSample } from '../src/synth/cityscapes-layout.js';
import { generateScene, generateSequence } from '../src/synth/generate.js';

const Options = z.object({
  out: z.string().min(1),
  count: z.coerce.number().int().min(1).max(1_000_000),
  split: z.enum(['train', 'val', 'test']),
  height: z.coerce.number().int().min(16).max(4096),
  width: z.coerce.number().int().min(16).max(4096),
  sequenceLength: z.coerce.number().int().min(1).max(1000),
  color: z.boolean(),
});

const program = new Command()
  .name('synth')
  .description('Write procedural street scenes in the Cityscapes layout')
  .requiredOption('--out <dir>', 'output root')
  .requiredOption('--count <n>', 'images (or clips with --sequence-length)')
  .option('--split <split>', 'train | val | test (fixes the seeds)', 'train')
  .option('--height <px>', 'image height', '256')
  .option('--width <px>', 'image width', '512')
  .option('--sequence-length <n>', 'frames per clip; 1 = single scenes', '1')
  .option('--color', 'also write _gtFine_color.png palette images', false)
  .parse();

const parsed = Options.safeParse(program.opts());
if (!parsed.success) {
  console.error(`synth: ${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}`);
  process.exit(2);
}
const opts = parsed.data;
const base = SPLIT_SEED_BASE[opts.split];
const size = { height: opts.height, width: opts.width };
const total = opts.count * opts.sequenceLength;
const progress = new Progress(`synth ${opts.split}`, total);
const pending: Promise<unknown>[] = [];

for (let i = 0; i < opts.count; i++) {
  const seed = base + i;
  const frames = opts.sequenceLength > 1 ? generateSequence(seed, opts.sequenceLength, size) : [generateScene(seed, size)];
  for (let f = 0; f < frames.length; f++) {
    pending.push(writeSample(opts.out, opts.split, sampleName(i, f), frames[f]!, opts.color).then(() => progress.tick()));
    if (pending.length >= 4) await pending.shift();
  }
}
await Promise.all(pending);
console.log(`wrote ${total} images to ${opts.out} (${opts.split}, seeds ${base}..${base + opts.count - 1})`);
