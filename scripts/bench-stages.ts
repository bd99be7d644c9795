// npm run bench:stages -- [--bundle DIR] [--images N] [--repeats R] [--threads T] [--json]
//                         [--write-crossover] [--profile]
//
// Times every stage of a bundle in each of its forms (dense-masked, plain, sparse head, native
// executor) at computed shares 100/75/50/25/10%, then the whole four-exit run on the synthetic
// test split with CA on (the bundle's threshold) and CA off, interleaved, and prints counted
// GFLOPs saved, wall-clock saved and the share of the counted saving that became real, and how
// the CA masks are laid out. --write-crossover records the measured times per form in the
// bundle's crossovers.json (for this provider), from which the engine picks a form per stage.
// --profile adds where the native executor's time goes per stage (op kind and resolution).

import { availableParallelism, cpus } from 'node:os';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import { writeCrossovers, type ProviderCrossovers } from '../src/bundle/crossovers.js';
import { DEFAULT_BUNDLE } from '../src/bundle/default-bundle.js';
import { loadBundle, type LoadedBundle } from '../src/bundle/load-bundle.js';
import { AnytimeEngine } from '../src/engine/anytime-engine.js';
import { maskGeometry, meanGeometry } from '../src/eval/mask-geometry.js';
import { syntheticSplit } from '../src/eval/synthetic-split.js';
import { nativeImportOf } from '../src/native/native-executor.js';
import { Progress } from '../src/progress.js';
import { PROVIDER_NAMES } from '../src/runtime/onnx.js';
import { crossover, imageImport, stageChain, timeStageForms, type FormTiming, type StageChain } from './bench/stage-forms.js';
import { round } from './bench/stats.js';
import { optionProblems } from './option-problems.js';

const SHARES = [1, 0.75, 0.5, 0.25, 0.1] as const;

const Options = z.object({
  bundle: z.string(),
  images: z.coerce.number().int().min(1).max(500),
  repeats: z.coerce.number().int().min(1).max(100),
  threads: z.coerce.number().int().min(0).max(256),
  provider: z.enum(PROVIDER_NAMES),
  json: z.boolean(),
  writeCrossover: z.boolean(),
  profile: z.boolean(),
});
type Options = z.infer<typeof Options>;

function parseOptions(): Options {
  const program = new Command()
    .option('--bundle <dir>', 'model bundle', DEFAULT_BUNDLE)
    .option('--images <n>', 'synthetic test images', '30')
    .option('--repeats <n>', 'timed runs per stage, form and share', '5')
    .option('--threads <n>', 'threads per operator (0 = all cores)', '0')
    .option('--provider <name>', 'execution provider (crossovers are recorded for it)', process.env.ADPC_PROVIDER ?? 'cpu')
    .option('--json', 'print one JSON object', false)
    .option('--write-crossover', 'record the measured form times in the bundle\'s crossovers.json', false)
    .option('--profile', 'where the native executor\'s time goes', false)
    .parse();
  const parsed = Options.safeParse(program.opts());
  if (!parsed.success) {
    console.error(`bench:stages: ${optionProblems(parsed.error)}`);
    process.exit(2);
  }
  return parsed.data;
}

async function formTimings(bundle: LoadedBundle, chains: StageChain[], repeats: number): Promise<FormTiming[]> {
  const timings: FormTiming[] = [await timeStageForms(bundle, chains, 1, 1, repeats)];
  const progress = new Progress('bench stages', 3 * SHARES.length);
  for (let k = 2; k <= 4; k++) {
    for (const share of SHARES) {
      timings.push(await timeStageForms(bundle, chains, k, share, repeats));
      progress.tick();
    }
  }
  return timings;
}

/**
 * The times the engine chooses from. Switching from onnxruntime to the native executor costs
 * an import (NCHW to NHWC): onnxruntime's stage 1 is charged with stage 2's import when stage 1
 * has a native form (so that the choice of stage 1 counts it), else the native stage 2 is.
 */
function crossoverTable(bundle: LoadedBundle, timings: FormTiming[], threads: number): ProviderCrossovers {
  const stages: ProviderCrossovers['stages'] = {};
  const nativeStage1 = timings.some((t) => t.stage === 1 && t.ms.native !== undefined);
  const import2 = timings.find((t) => t.stage === 2 && t.share === 1)?.native_import_ms ?? 0;
  for (let k = 1; k <= 4; k++) {
    const rows = timings.filter((t) => t.stage === k);
    const forms = [...new Set(rows.flatMap((r) => Object.keys(r.ms)))] as (keyof FormTiming['ms'])[];
    stages[String(k)] = {
      shares: rows.map((r) => r.share),
      ms: Object.fromEntries(forms.map((f) => [f, rows.map((r) => {
        const ms = r.ms[f];
        if (ms === undefined) return null;
        if (k === 1 && f === 'masked' && nativeStage1) return round(ms + import2, 3);
        if (k === 2 && f === 'native' && !nativeStage1) return round(ms + (r.native_import_ms ?? 0), 3);
        return round(ms, 3);
      })])),
    };
  }
  return {
    measured_at: new Date().toISOString(),
    machine: `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores`,
    threads: threads || availableParallelism(),
    native_isa: bundle.native?.isa ?? null,
    stages,
  };
}

async function wholeRuns(engine: AnytimeEngine, images: Float32Array[], threshold: number, repeats: number) {
  const totals = { on: { ms: 0, gflops: 0 }, off: { ms: 0, gflops: 0 } };
  const progress = new Progress('bench runs', images.length);
  for (const image of images) {
    for (let r = 0; r < repeats; r++) {
      for (const [key, t] of [['on', threshold], ['off', 1]] as const) {
        const started = performance.now();
        let gflops = 0;
        for await (const result of engine.run(image, { budget: { threshold: t } })) gflops = result.cumulativeGflops;
        totals[key].ms += performance.now() - started;
        totals[key].gflops += gflops;
      }
    }
    progress.tick();
  }
  const runs = images.length * repeats;
  return { on: { ms: totals.on.ms / runs, gflops: totals.on.gflops / runs }, off: { ms: totals.off.ms / runs, gflops: totals.off.gflops / runs } };
}

/** Per native stage: ms by op kind and output size, and the mask, needed-set and merge phases. */
async function nativeProfile(bundle: LoadedBundle, chains: StageChain[], threshold: number, repeats: number) {
  const native = bundle.native;
  if (!native) return null;
  native.setProfiling(true);
  for (const chain of chains) {
    for (let r = 0; r < repeats; r++) {
      const run = native.newRun();
      if (native.stages.includes(1)) {
        await native.importState(run, 0, imageImport(chain.image));
        await native.runStage(run, 1, 1, true);
      } else {
        await native.importState(run, 1, nativeImportOf(chain.outputs[0]!));
      }
      for (let k = 2; k <= 4; k++) await native.runStage(run, k, threshold, k < 4);
      native.releaseRun(run);
    }
  }
  const report = native.stages.map((k) => {
    // the executor names what each slot timed (its program after load-time rewrites), then three phases
    const timing = native.profile(k);
    const ops = timing.slice(0, -3);
    const runs = timing.at(-3)!.calls || 1;
    const groups = new Map<string, number>();
    for (const t of ops) groups.set(t.op, (groups.get(t.op) ?? 0) + t.ms / runs);
    const phases = ['masks', 'needed', 'merge'].map((name, j) => [name, round(timing[ops.length + j]!.ms / runs, 3)]);
    return {
      stage: k,
      ms: round([...groups.values()].reduce((a, b) => a + b, 0) + phases.reduce((a, [, ms]) => a + (ms as number), 0), 3),
      phases: Object.fromEntries(phases),
      ops: [...groups.entries()].sort((a, b) => b[1] - a[1]).map(([op, ms]) => ({ op, ms: round(ms, 3) })),
    };
  });
  native.setProfiling(false);
  return report;
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const dir = resolve(opts.bundle);
  const bundle = await loadBundle(dir, { threads: opts.threads, provider: opts.provider });
  const { manifest } = bundle;
  const images: Float32Array[] = [];
  for await (const scene of syntheticSplit(manifest.input, 'test', opts.images)) images.push(scene.input);
  const chains: StageChain[] = [];
  for (const image of images) chains.push(await stageChain(bundle, image, manifest.threshold));

  const masks = [2, 3, 4].map((k) => {
    const mean = meanGeometry(chains.map((chain) => {
      const confidence = chain.outputs[k - 2]!.confidence!;
      const [, h, w] = confidence.dims as number[];
      return maskGeometry(confidence.data as Float32Array, h!, w!, manifest.threshold);
    }));
    return { stage: k, computed: round(mean.computed, 3), rows: round(mean.rows, 3), bbox: round(mean.bbox, 3), tiles8: round(mean.tiles8, 3), tiles16: round(mean.tiles16, 3) };
  });

  const timings = await formTimings(bundle, chains.slice(0, 10), opts.repeats);
  const table = crossoverTable(bundle, timings, opts.threads);
  if (opts.writeCrossover) await writeCrossovers(dir, bundle.provider, table);
  const profile = opts.profile ? await nativeProfile(bundle, chains.slice(0, 10), manifest.threshold, opts.repeats) : null;
  await bundle.close();

  // the whole four-exit run, forms chosen by the engine from the (new) crossovers
  const engine = await AnytimeEngine.load(dir, { provider: opts.provider, threads: opts.threads });
  const runs = await wholeRuns(engine, images, manifest.threshold, opts.repeats);
  const forms = [] as string[][];
  for await (const r of engine.run(images[0]!)) (forms[0] ??= []).push(r.form);
  await engine.close();

  const counted = 1 - runs.on.gflops / runs.off.gflops;
  const wallclock = 1 - runs.on.ms / runs.off.ms;
  const crossovers = Object.fromEntries([1, 2, 3, 4].map((k) => [k, { sparse: crossover(timings, k, 'sparse'), native: crossover(timings, k, 'native') }]));
  const report = {
    bundle: manifest.name,
    images: images.length,
    threshold: manifest.threshold,
    provider: bundle.provider,
    native: bundle.native ? { isa: bundle.native.isa, threads: bundle.native.threads } : { unavailable: bundle.nativeUnavailable },
    forms_on_first_image: forms[0],
    ca_ms: round(runs.on.ms),
    ca_off_ms: round(runs.off.ms),
    counted_saving: round(counted, 3),
    wallclock_saving: round(wallclock, 3),
    realized_ratio: counted > 0 ? round(wallclock / counted, 3) : null,
    crossovers,
    masks,
    stages: timings.map((t) => ({
      stage: t.stage,
      share: t.share,
      dense_ms: t.ms.masked === undefined ? null : round(t.ms.masked),
      sparse_ms: t.ms.sparse === undefined ? null : round(t.ms.sparse),
      plain_ms: t.ms.plain === undefined ? null : round(t.ms.plain),
      native_ms: t.ms.native === undefined ? null : round(t.ms.native),
      native_import_ms: t.native_import_ms === null ? null : round(t.native_import_ms),
    })),
    ...(profile ? { native_profile: profile } : {}),
  };
  if (opts.json) {
    console.log(JSON.stringify(report));
    return;
  }
  console.log(`${report.bundle}: CA ${report.threshold} ${report.ca_ms} ms vs CA off ${report.ca_off_ms} ms per frame (${report.images} images, forms ${report.forms_on_first_image?.join('/')})`);
  console.log(`counted GFLOPs saved ${(100 * counted).toFixed(1)}%, wall-clock saved ${(100 * wallclock).toFixed(1)}%, realized ${report.realized_ratio}`);
  console.log('| stage | share | dense-masked ms | sparse ms | plain ms | native ms (import) |');
  console.log('|---|---|---|---|---|---|');
  for (const t of report.stages) console.log(`| ${t.stage} | ${t.share} | ${t.dense_ms ?? '-'} | ${t.sparse_ms ?? '-'} | ${t.plain_ms ?? '-'} | ${t.native_ms ?? '-'}${t.native_import_ms !== null ? ` (${t.native_import_ms})` : ''} |`);
  console.log(`masks at threshold ${report.threshold} (1/4 resolution, mean over ${report.images} images)`);
  console.log('| stage | computed | rows with any | bounding box | active 8x8 tiles | active 16x16 tiles |');
  console.log('|---|---|---|---|---|---|');
  for (const m of masks) console.log(`| ${m.stage} | ${m.computed} | ${m.rows} | ${m.bbox} | ${m.tiles8} | ${m.tiles16} |`);
  if (profile) {
    for (const p of profile) {
      console.log(`native stage ${p.stage}: ${p.ms} ms profiled; ${Object.entries(p.phases).map(([n, ms]) => `${n} ${ms}`).join(', ')}`);
      for (const o of p.ops.slice(0, 8)) console.log(`  ${o.ms.toFixed(3)} ms  ${o.op}`);
    }
  }
}

await main();
