// npm run bench -- [--json] [--quick] [--images N] [--repeats R] [--threads T] [--bundle DIR]
//                  [--thresholds 0.9,0.97,...] [--soak-frames N] [--load-seconds S] [--out DIR]
//
// The anytime engine side by side with the plain model a user would run themselves, in one
// run on the fixed synthetic test split, configurations interleaved in blocks of a few frames:
// first the server as clients see it (a real server process on loopback): one stream end to end,
// 1-8 streams at once with and without a deadline, and a soak; then baseline (dense.onnx in
// onnxruntime-node), the engine with CA off and with CA on (time to each exit, GFLOPs, mIoU per
// exit), and a threshold sweep. Writes bench.json and the anytime curve (anytime.png)
// into --out; prints tables, or the JSON with --json.

import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { z } from 'zod';
import { DEFAULT_BUNDLE } from '../src/bundle/default-bundle.js';
import { readManifest } from '../src/bundle/manifest.js';
import { AnytimeEngine } from '../src/engine/anytime-engine.js';
import { splitSeed, syntheticSplit, type SplitImage } from '../src/eval/synthetic-split.js';
import { generateScene } from '../src/synth/generate.js';
import { anytimeSvg, writeChartPng } from './bench/chart.js';
import { sideBySide, thresholdSweep } from './bench/engine-runs.js';
import { load, oneStream, soak, startServer } from './bench/server-runs.js';
import { round } from './bench/stats.js';
import { optionProblems } from './option-problems.js';

/** The deadline of the load runs that count late answers (the review's setting). */
const DEADLINE_MS = 120;

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
  soakFrames: z.coerce.number().int().min(0).max(1_000_000),
  loadSeconds: z.coerce.number().min(0.5).max(600),
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
    .option('--soak-frames <n>', 'frames of the memory soak (0 = none)', '5000')
    .option('--load-seconds <s>', 'seconds of each load run', '6')
    .option('--json', 'print the JSON report', false)
    .option('--quick', 'about a minute: 20 images, one pass, short load runs, 500 soak frames', false)
    .parse();
  const parsed = Options.safeParse(program.opts());
  if (!parsed.success) {
    console.error(`bench: ${optionProblems(parsed.error)}`);
    process.exit(2);
  }
  const o = parsed.data;
  return o.quick ? { ...o, images: Math.min(o.images, 20), repeats: 1, loadSeconds: Math.min(o.loadSeconds, 2), soakFrames: Math.min(o.soakFrames, 500) } : o;
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const threads = opts.threads || availableParallelism();
  const manifest = await readManifest(resolve(opts.bundle));
  const { height, width } = manifest.input;

  // The server first, while this process (its clients) holds nothing else: the server process
  // and its clients share the cores, and the engine runs there alone.
  const frames = Array.from({ length: Math.min(10, opts.images) }, (_, i) => ({ rgb: generateScene(splitSeed('test', i), { height, width }).image, width, height }));
  const server = await startServer(resolve(dirname(fileURLToPath(import.meta.url)), '..'), { ADPC_BUNDLE: resolve(opts.bundle), ADPC_THREADS: String(threads), ADPC_MAX_STREAMS: '16' });
  let serverReport;
  const loadRuns = [];
  let soakReport = null;
  try {
    serverReport = await oneStream(server.url, frames, opts.quick ? 2 : 20);
    for (const streams of [1, 2, 4, 8]) {
      for (const mode of ['max', 'paced'] as const) loadRuns.push(await load(server.url, frames[0]!, streams, mode, opts.loadSeconds));
    }
    for (const streams of [1, 4]) {
      for (const mode of ['max', 'paced'] as const) loadRuns.push(await load(server.url, frames[0]!, streams, mode, opts.loadSeconds, DEADLINE_MS));
    }
    if (opts.soakFrames > 0) soakReport = await soak(server, frames[0]!, opts.soakFrames);
  } finally {
    await server.stop();
  }

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
    server: serverReport,
    load: loadRuns,
    soak: soakReport,
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
  const srv = report.server!;
  console.log(`server, one stream (raw RGB frames at the input size, raw label maps): exits at ${srv.exit_p50_ms.join(' / ')} ms; end to end ${srv.e2e_mean_ms} ms of which the engine ${srv.engine_mean_ms} ms: server overhead ${(100 * srv.overhead_share).toFixed(1)}%`);
  const o = srv.overhead_ms;
  console.log(`  overhead a frame: decode ${o.decode} ms, waits ${o.queue} ms, final exit's encoding ${o.final_encode} ms, the rest (sockets both ways, dispatch, turns between stages) ${o.rest} ms`);
  console.log('| streams | sending | deadline | fps served | dropped | exit 1 p95 ms | final p95 ms | late |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const l of loadRuns) console.log(`| ${l.streams} | ${l.mode === 'max' ? 'as fast as answered' : '10 fps'} | ${l.deadline_ms ?? '-'} | ${l.fps} | ${(100 * l.dropped_share).toFixed(1)}% | ${l.exit1_p95_ms} | ${l.final_p95_ms} | ${l.late_share === null ? '-' : `${(100 * l.late_share).toFixed(1)}%`} |`);
  if (soakReport) console.log(`soak: ${soakReport.frames} frames, RSS ${soakReport.rss_start_mb} -> ${soakReport.rss_end_mb} MB (${soakReport.growth_mb_per_1000} MB per 1,000 frames), heap ${soakReport.heap_start_mb} -> ${soakReport.heap_end_mb} MB`);
  console.log(`wrote ${join(opts.out, 'bench.json')} and ${join(opts.out, 'anytime.png')}`);
}

await main();
