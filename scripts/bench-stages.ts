// npm run bench:stages -- [--bundle DIR] [--images N] [--repeats R] [--threads T] [--json]
//                         [--write-crossover]
//
// Times every stage of a bundle in each of its forms (dense-masked, sparse, plain) at computed
// shares 100/75/50/25/10%, then the whole four-exit run on the synthetic test split with CA on
// (the bundle's threshold) and CA off, and prints counted GFLOPs saved, wall-clock saved and
// the share of the counted saving that became real, and how the CA masks of that run are laid
// out (computed share, rows, bounding box, active 8x8 and 16x16 tiles). --write-crossover records, per stage with
// a sparse form, the computed share below which that form was faster.

import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import { readManifest, type BundleManifest } from '../src/bundle/manifest.js';
import { maskGeometry, meanGeometry, type MaskGeometry } from '../src/eval/mask-geometry.js';
import { DEFAULT_BUNDLE } from '../src/bundle/default-bundle.js';
import { AnytimeEngine } from '../src/engine/anytime-engine.js';
import { prepareFrame } from '../src/image/preprocess.js';
import { Progress } from '../src/progress.js';
import { createSession, floatTensor, releaseSession, type Feeds, type LoadedSession } from '../src/runtime/onnx.js';
import { SPLIT_SEED_BASE } from '../src/synth/cityscapes-layout.js';
import { generateScene } from '../src/synth/generate.js';

const SHARES = [1, 0.75, 0.5, 0.25, 0.1] as const;

const Options = z.object({
  bundle: z.string(),
  images: z.coerce.number().int().min(1).max(500),
  repeats: z.coerce.number().int().min(1).max(100),
  threads: z.coerce.number().int().min(0).max(256),
  json: z.boolean(),
  writeCrossover: z.boolean(),
});

const opts = (() => {
  const program = new Command()
    .option('--bundle <dir>', 'model bundle', DEFAULT_BUNDLE)
    .option('--images <n>', 'synthetic test images', '50')
    .option('--repeats <n>', 'timed runs per stage, form and share', '5')
    .option('--threads <n>', 'threads per operator (0 = all cores)', '0')
    .option('--json', 'print one JSON object', false)
    .option('--write-crossover', 'record measured crossovers in the manifest', false)
    .parse();
  const parsed = Options.safeParse(program.opts());
  if (!parsed.success) {
    console.error(`bench:stages: ${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}`);
    process.exit(2);
  }
  return parsed.data;
})();

type Form = 'masked' | 'sparse' | 'plain';

interface StageTiming {
  stage: number;
  share: number;
  dense_ms: number;
  sparse_ms: number | null;
  plain_ms: number | null;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function quantile(values: Float32Array, q: number): number {
  const sorted = Float32Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

async function stageInputs(manifest: BundleManifest, sessions: LoadedSession[], images: Float32Array[]): Promise<Feeds[][]> {
  // per image, the feeds of stages 1..4 along the CA run at the bundle's threshold
  const threshold = floatTensor(Float32Array.of(manifest.threshold), [1]);
  const all: Feeds[][] = [];
  for (const image of images) {
    let feeds: Feeds = { image: floatTensor(image, [1, 3, manifest.input.height, manifest.input.width]) };
    const perStage: Feeds[] = [];
    for (let k = 0; k < 4; k++) {
      perStage.push(feeds);
      const out = await sessions[k]!.session.run(feeds);
      const next: Feeds = { logits_in: out.logits!, threshold, confidence_in: out.confidence! };
      for (const [name, tensor] of Object.entries(out)) if (name.startsWith('feat')) next[name.replace('feat', 'feat_in')] = tensor;
      feeds = next;
    }
    all.push(perStage);
  }
  return all;
}

async function timeRun(session: LoadedSession, feeds: Feeds, repeats: number): Promise<number> {
  const input = Object.fromEntries(session.session.inputNames.map((n) => [n, feeds[n]!]));
  await session.session.run(input);
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const started = performance.now();
    await session.session.run(input);
    times.push(performance.now() - started);
  }
  return median(times);
}

async function main(): Promise<void> {
  const dir = resolve(opts.bundle);
  const manifest = await readManifest(dir);
  const { input } = manifest;
  const images: Float32Array[] = [];
  for (let i = 0; i < opts.images; i++) {
    const scene = generateScene(SPLIT_SEED_BASE.test + i, { height: input.height, width: input.width });
    images.push((await prepareFrame({ kind: 'raw', bytes: scene.image, width: scene.width, height: scene.height, channels: 3 }, input)).data);
  }

  // 1. each stage and form at fixed computed shares
  const forms: Record<Form, (LoadedSession | null)[]> = { masked: [], sparse: [], plain: [] };
  for (const stage of manifest.stages) {
    const open = async (file?: string) => (file ? createSession(join(dir, file), { provider: 'cpu', threads: opts.threads }) : null);
    forms.masked.push(await open(stage.file));
    forms.sparse.push(await open(stage.sparse_file));
    forms.plain.push(await open(stage.plain_file));
  }
  const allInputs = await stageInputs(manifest, forms.masked as LoadedSession[], images);
  const masks: Array<{ stage: number } & MaskGeometry> = [];
  for (let k = 2; k <= 4; k++) {
    const geometry = allInputs.map((perStage) => {
      const confidence = perStage[k - 1]!.confidence_in!;
      const [, h, w] = confidence.dims as number[];
      return maskGeometry(confidence.data as Float32Array, h!, w!, manifest.threshold);
    });
    const mean = meanGeometry(geometry);
    masks.push({
      stage: k,
      computed: round(mean.computed, 3),
      rows: round(mean.rows, 3),
      bbox: round(mean.bbox, 3),
      tiles8: round(mean.tiles8, 3),
      tiles16: round(mean.tiles16, 3),
    });
  }
  const inputs = allInputs.slice(0, 10);
  const timings: StageTiming[] = [];
  const progress = new Progress('bench stages', 3 * SHARES.length);
  for (let k = 2; k <= 4; k++) {
    for (const share of SHARES) {
      const sample: Record<Form, number[]> = { masked: [], sparse: [], plain: [] };
      for (const perStage of inputs) {
        const feeds = { ...perStage[k - 1]! };
        // the threshold at which `share` of this input's pixels are still unconfident
        const confidence = feeds.confidence_in!.data as Float32Array;
        feeds.threshold = floatTensor(Float32Array.of(share >= 1 ? 1 : quantile(confidence, share)), [1]);
        for (const form of ['masked', 'sparse'] as const) {
          const session = forms[form][k - 1];
          if (session) sample[form].push(await timeRun(session, feeds, opts.repeats));
        }
        const plain = forms.plain[k - 1];
        if (plain && share >= 1) sample.plain.push(await timeRun(plain, feeds, opts.repeats));
      }
      timings.push({
        stage: k,
        share,
        dense_ms: round(median(sample.masked)),
        sparse_ms: sample.sparse.length ? round(median(sample.sparse)) : null,
        plain_ms: sample.plain.length ? round(median(sample.plain)) : null,
      });
      progress.tick();
    }
  }
  await Promise.all(Object.values(forms).flat().filter((s): s is LoadedSession => s !== null).map(releaseSession));

  // 2. crossovers: the largest measured share at which the sparse form beat dense-masked
  const crossovers: Record<number, number> = {};
  for (let k = 2; k <= 4; k++) {
    const rows = timings.filter((t) => t.stage === k && t.sparse_ms !== null);
    if (!rows.length) continue;
    const winning = rows.filter((t) => t.sparse_ms! < t.dense_ms).map((t) => t.share);
    crossovers[k] = winning.length ? Math.max(...winning) : 0;
  }
  if (opts.writeCrossover) {
    const path = join(dir, 'manifest.json');
    const json = JSON.parse(await readFile(path, 'utf8'));
    for (const [k, share] of Object.entries(crossovers)) json.stages[Number(k) - 1].sparse_crossover = share;
    await writeFile(path, JSON.stringify(json, null, 1) + '\n');
  }

  // 3. the whole four-exit run, CA on (bundle threshold, forms chosen by the engine) vs off
  const engine = await AnytimeEngine.load(dir, { provider: 'cpu', threads: opts.threads });
  const totals = { on: { ms: 0, gflops: 0 }, off: { ms: 0, gflops: 0 } };
  const runProgress = new Progress('bench runs', images.length);
  for (const image of images) {
    for (const [key, threshold] of [['on', manifest.threshold], ['off', 1]] as const) {
      for (let r = 0; r < opts.repeats; r++) {
        const started = performance.now();
        let gflops = 0;
        for await (const result of engine.run(image, { budget: { threshold } })) gflops = result.cumulativeGflops;
        totals[key].ms += performance.now() - started;
        totals[key].gflops += gflops;
      }
    }
    runProgress.tick();
  }
  await engine.close();
  const counted = 1 - totals.on.gflops / totals.off.gflops;
  const wallclock = 1 - totals.on.ms / totals.off.ms;
  const runs = images.length * opts.repeats;
  const report = {
    bundle: manifest.name,
    images: images.length,
    threshold: manifest.threshold,
    ca_ms: round(totals.on.ms / runs),
    ca_off_ms: round(totals.off.ms / runs),
    counted_saving: round(counted, 3),
    wallclock_saving: round(wallclock, 3),
    realized_ratio: counted > 0 ? round(wallclock / counted, 3) : null,
    crossovers,
    masks,
    stages: timings,
  };
  if (opts.json) {
    console.log(JSON.stringify(report));
    return;
  }
  console.log(`${report.bundle}: CA ${report.threshold} ${report.ca_ms} ms vs CA off ${report.ca_off_ms} ms per frame (${report.images} images)`);
  console.log(`counted GFLOPs saved ${(100 * counted).toFixed(1)}%, wall-clock saved ${(100 * wallclock).toFixed(1)}%, realized ${report.realized_ratio}`);
  console.log('| stage | share | dense-masked ms | sparse ms | plain ms |');
  console.log('|---|---|---|---|---|');
  for (const t of timings) console.log(`| ${t.stage} | ${t.share} | ${t.dense_ms} | ${t.sparse_ms ?? '-'} | ${t.plain_ms ?? '-'} |`);
  console.log(`masks at threshold ${report.threshold} (1/4 resolution, mean over ${report.images} images)`);
  console.log('| stage | computed | rows with any | bounding box | active 8x8 tiles | active 16x16 tiles |');
  console.log('|---|---|---|---|---|---|');
  for (const m of masks) console.log(`| ${m.stage} | ${m.computed} | ${m.rows} | ${m.bbox} | ${m.tiles8} | ${m.tiles16} |`);
}

function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

await main();
