// npm run bench -- [--json] [--quick] [--images N] [--repeats R] [--threads T] [--bundle DIR]
//                  [--thresholds 0.9,0.97,...] [--out DIR]
//
// The anytime engine side by side with the plain model a user would run themselves, in one
// run on the fixed synthetic test split, configurations interleaved frame by frame:
// baseline (dense.onnx in onnxruntime-node), the engine with CA off and with CA on (time to
// each exit, GFLOPs, mIoU per exit), and a threshold sweep. Writes bench.json and the anytime
// curve (anytime.png) into --out; prints a table, or the JSON with --json.

import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import { DEFAULT_BUNDLE } from '../src/bundle/default-bundle.js';
import { AnytimeEngine } from '../src/engine/anytime-engine.js';
import { syntheticSplit, type SplitImage } from '../src/eval/synthetic-split.js';
import { anytimeSvg, writeChartPng } from './bench/chart.js';
import { sideBySide, thresholdSweep } from './bench/engine-runs.js';
import { round } from './bench/stats.js';

const Options = z.object({
  bundle: z.string(),
  images: z.coerce.number().int().min(1).max(500),
  repeats: z.coerce.number().int().min(1).max(100),
  threads: z.coerce.number().int().min(0).max(256),
  thresholds: z.string().transform((s, ctx) => {
    const values = s.split(',').map(Number);
    if (values.some((v) => !(v > 0 && v <= 1))) ctx.addIssue({ code: 'custom', message: 'thresholds are numbers in (0, 1], comma separated' });
    return values;
  }),
  out: z.string(),
  json: z.boolean(),
  quick: z.boolean(),
});

function parseOptions() {
  const program = new Command()
    .option('--bundle <dir>', 'model bundle', DEFAULT_BUNDLE)
    .option('--images <n>', 'synthetic test images', '100')
    .option('--repeats <n>', 'passes over the images', '3')
    .option('--threads <n>', 'threads (0 = all cores)', '0')
    .option('--thresholds <list>', 'CA thresholds of the sweep', '0.9,0.97,0.99,0.995,0.999')
    .option('--out <dir>', 'where bench.json and anytime.png go', 'reports/bench')
    .option('--json', 'print the JSON report', false)
    .option('--quick', 'about a minute: 20 images, one pass', false)
    .parse();
  const parsed = Options.safeParse(program.opts());
  if (!parsed.success) {
    console.error(`bench: ${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}`);
    process.exit(2);
  }
  const o = parsed.data;
  return o.quick ? { ...o, images: Math.min(o.images, 20), repeats: 1 } : o;
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const threads = opts.threads || availableParallelism();
  const engine = await AnytimeEngine.load(resolve(opts.bundle), { threads });
  const images: SplitImage[] = [];
  for await (const image of syntheticSplit(engine.manifest.input, 'test', opts.images)) images.push(image);

  const side = await sideBySide(engine, images, threads, opts.repeats);
  const sweep = await thresholdSweep(engine, images.slice(0, opts.quick ? 10 : images.length), opts.thresholds);
  const info = engine.info();
  await engine.close();

  const base = side.baseline.p50_ms;
  const report = {
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism() },
    provider: info.provider,
    native: info.native,
    threads,
    bundle: info.name,
    images: images.length,
    repeats: opts.repeats,
    baseline: side.baseline,
    baselines: side.baselines,
    ca_off: { ...side.ca_off, full_ratio: round(side.ca_off.full_p50_ms / base, 3), exit1_ratio: round(side.ca_off.exit_p50_ms[0]! / base, 3) },
    ca_on: { ...side.ca_on, full_ratio: round(side.ca_on.full_p50_ms / base, 3), exit1_ratio: round(side.ca_on.exit_p50_ms[0]! / base, 3) },
    sweep,
  };
  await mkdir(opts.out, { recursive: true });
  await writeFile(join(opts.out, 'bench.json'), JSON.stringify(report, null, 1) + '\n');
  const curve = (r: typeof report.ca_on) => r.exit_p50_ms.map((ms, i) => ({ ms, miou: r.miou[i]!, tag: `exit ${i + 1}` }));
  await writeChartPng(join(opts.out, 'anytime.png'), anytimeSvg(
    `${info.name} (${info.arch}) on ${report.machine.cores} cores, ${threads} threads, ${info.provider}`,
    [
      { label: `engine, CA ${report.ca_on.threshold}`, color: '#d9480f', points: curve(report.ca_on) },
      { label: 'engine, CA off', color: '#1c7ed6', points: curve(report.ca_off) },
    ],
    { ms: base, miou: side.baseline.miou, label: 'plain model (dense.onnx, onnxruntime-node)' },
  ));
  if (opts.json) {
    console.log(JSON.stringify(report));
    return;
  }
  console.log(`${report.bundle} on ${report.machine.cpu} (${report.machine.cores} cores), ${threads} threads, provider ${report.provider}, native ${'isa' in info.native ? info.native.isa : `off (${info.native.unavailable})`}; ${report.images} images x ${report.repeats}`);
  for (const b of side.baselines) console.log(`plain model (${b.session}): p50 ${b.p50_ms} ms, p95 ${b.p95_ms} ms, ${b.fps} fps, mIoU ${b.miou}`);
  console.log(`ratios below are against the faster: ${base} ms`);
  console.log('| run | exit 1 ms | exit 2 ms | exit 3 ms | exit 4 ms | full vs plain | exit 1 vs plain | mIoU per exit | GFLOPs per exit |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const [name, r] of [['CA off', report.ca_off], [`CA ${report.ca_on.threshold}`, report.ca_on]] as const) {
    console.log(`| ${name} | ${r.exit_p50_ms.join(' | ')} | ${r.full_ratio}x | ${r.exit1_ratio}x | ${r.miou.join(' / ')} | ${r.gflops.join(' / ')} |`);
  }
  console.log('| threshold | exit-4 mIoU | GFLOPs | full run ms |');
  console.log('|---|---|---|---|');
  for (const s of sweep) console.log(`| ${s.threshold} | ${s.miou} | ${s.gflops} | ${s.full_p50_ms} |`);
  console.log(`wrote ${join(opts.out, 'bench.json')} and ${join(opts.out, 'anytime.png')}`);
}

await main();
