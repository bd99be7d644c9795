// node --import tsx scripts/gpu/measure.ts [--bundle DIR] [--providers cpu,webgpu,cuda]
//                                         [--images N] [--repeats R] [--threads T] [--out FILE]
//
// The engine per execution provider on the synthetic test split, interleaved frame by frame so
// that machine noise hits every configuration alike: time to each exit (p50/p95 from the
// start of the run), the full four-exit run, CA on (the bundle's threshold) and off, and the
// plain model (the bundle's dense.onnx) on the same provider; and how many label pixels each
// provider's exits share with onnxruntime's CPU provider (scripts/gpu-check.sh wants >= 99.9%).
// Each provider runs every stage in onnxruntime (native executor off, so that the provider
// itself is measured); `cpu+native` is the CPU engine as shipped, with the native executor.

import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { z } from 'zod';
import { DEFAULT_BUNDLE } from '../../src/bundle/default-bundle.js';
import { readManifest } from '../../src/bundle/manifest.js';
import { AnytimeEngine, EXITS } from '../../src/engine/anytime-engine.js';
import { syntheticSplit } from '../../src/eval/synthetic-split.js';
import { Progress } from '../../src/progress.js';
import { PROVIDER_NAMES, createSession, floatTensor, releaseSession, type LoadedSession } from '../../src/runtime/onnx.js';
import type { ConcreteProvider } from '../../src/runtime/provider-check.js';
import { quantile, round } from '../bench/stats.js';

const Options = z.object({
  bundle: z.string(),
  providers: z.string().transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean))
    .pipe(z.array(z.enum(PROVIDER_NAMES).exclude(['auto'])).min(1)),
  images: z.coerce.number().int().min(1).max(500),
  repeats: z.coerce.number().int().min(1).max(100),
  threads: z.coerce.number().int().min(0).max(256),
  out: z.string().optional(),
});

interface Config {
  readonly name: string;
  readonly provider: ConcreteProvider;
  readonly native: boolean;
  engine?: AnytimeEngine;
  plain?: LoadedSession;
  error?: string;
}

interface ModeRecord {
  exitMs: number[][]; // [exit][sample]
  fullMs: number[];
  gflops: number[];
  share: number[][]; // [stage 2..4][sample]
  same: number[]; // identical label pixels per exit, summed over images
  total: number[];
  minShare: number[]; // worst image, per exit
}

const MODES = ['ca_on', 'ca_off'] as const;
type Mode = (typeof MODES)[number];

function newRecord(): ModeRecord {
  return {
    exitMs: Array.from({ length: EXITS }, () => []), fullMs: [], gflops: [],
    share: Array.from({ length: EXITS - 1 }, () => []),
    same: new Array<number>(EXITS).fill(0), total: new Array<number>(EXITS).fill(0), minShare: new Array<number>(EXITS).fill(1),
  };
}

function parseOptions() {
  const program = new Command()
    .option('--bundle <dir>', 'model bundle', DEFAULT_BUNDLE)
    .option('--providers <list>', 'execution providers, comma-separated (cpu is always the reference)', 'cpu')
    .option('--images <n>', 'synthetic test images', '30')
    .option('--repeats <n>', 'timed runs per image and configuration', '3')
    .option('--threads <n>', 'threads per operator (0 = all cores)', '0')
    .option('--out <file>', 'write the JSON there as well as to stdout')
    .parse();
  const parsed = Options.safeParse(program.opts());
  if (!parsed.success) {
    console.error(`gpu measure: ${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}`);
    process.exit(2);
  }
  return parsed.data;
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const dir = resolve(opts.bundle);
  const manifest = await readManifest(dir);
  const providers = [...new Set<ConcreteProvider>(['cpu', ...opts.providers])];
  const configs: Config[] = [
    ...providers.map((provider) => ({ name: provider, provider, native: false })),
    { name: 'cpu+native', provider: 'cpu', native: true },
  ];
  for (const c of configs) {
    try {
      c.engine = await AnytimeEngine.load(dir, { provider: c.provider, threads: opts.threads, native: c.native });
      if (!c.native) c.plain = await createSession(join(dir, manifest.baseline.file), { provider: c.provider, threads: opts.threads });
    } catch (e) {
      c.error = (e as Error).message;
      console.error(`gpu measure: ${c.name}: ${c.error}`);
    }
  }
  const running = configs.filter((c) => c.engine);
  const reference = running.find((c) => c.name === 'cpu');
  if (!reference) throw new Error('the CPU provider did not start: nothing to compare with');

  const inputs: Float32Array[] = [];
  for await (const image of syntheticSplit(manifest.input, 'test', opts.images)) inputs.push(image.input);
  const records = new Map(running.map((c) => [c.name, { ca_on: newRecord(), ca_off: newRecord() } as Record<Mode, ModeRecord>]));
  const plainMs = new Map<string, number[]>(running.filter((c) => c.plain).map((c) => [c.name, []]));
  const [, , height, width] = manifest.baseline.inputs[0]!.shape;
  const progress = new Progress('gpu measure', inputs.length * opts.repeats);

  for (const input of inputs) {
    const referenceLabels = new Map<Mode, Uint8Array[]>();
    for (let r = 0; r < opts.repeats; r++) {
      for (const c of running) {
        for (const mode of MODES) {
          const threshold = mode === 'ca_on' ? manifest.threshold : 1;
          const rec = records.get(c.name)![mode];
          const started = performance.now();
          const labels: Uint8Array[] = [];
          let gflops = 0;
          for await (const result of c.engine!.run(input, { budget: { threshold } })) {
            rec.exitMs[result.exit - 1]!.push(performance.now() - started);
            if (result.exit > 1) rec.share[result.exit - 2]!.push(result.computedShare);
            labels.push(result.labels);
            gflops = result.cumulativeGflops;
          }
          rec.fullMs.push(performance.now() - started);
          rec.gflops.push(gflops);
          if (r > 0) continue;
          if (c === reference) referenceLabels.set(mode, labels);
          const ref = referenceLabels.get(mode)!;
          labels.forEach((l, k) => {
            let same = 0;
            for (let i = 0; i < l.length; i++) if (l[i] === ref[k]![i]) same++;
            rec.same[k]! += same;
            rec.total[k]! += l.length;
            rec.minShare[k] = Math.min(rec.minShare[k]!, same / l.length);
          });
        }
        if (c.plain) {
          const started = performance.now();
          await c.plain.session.run({ [manifest.baseline.inputs[0]!.name]: floatTensor(input, [1, 3, height!, width!]) });
          plainMs.get(c.name)!.push(performance.now() - started);
        }
      }
      progress.tick();
    }
  }

  const summary = (rec: ModeRecord) => ({
    exit_p50_ms: rec.exitMs.map((v) => round(quantile(v, 0.5))),
    exit_p95_ms: rec.exitMs.map((v) => round(quantile(v, 0.95))),
    full_p50_ms: round(quantile(rec.fullMs, 0.5)),
    gflops: round(rec.gflops.reduce((a, b) => a + b, 0) / rec.gflops.length, 3),
    computed_share: rec.share.map((v) => round(v.reduce((a, b) => a + b, 0) / (v.length || 1), 3)),
    labels_identical_share: rec.same.map((s, k) => round(s / (rec.total[k] || 1), 5)),
    labels_worst_image_share: rec.minShare.map((s) => round(s, 5)),
  });
  const report = {
    measured_at: new Date().toISOString(),
    bundle: manifest.name,
    arch: manifest.arch,
    input: [manifest.input.height, manifest.input.width],
    threshold: manifest.threshold,
    machine: `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores`,
    threads: opts.threads || availableParallelism(),
    images: inputs.length,
    repeats: opts.repeats,
    configs: configs.map((c) => c.error
      ? { name: c.name, provider: c.provider, native: c.native, error: c.error }
      : {
          name: c.name, provider: c.provider, native: c.native,
          engine_provider: c.engine!.provider,
          ca_on: summary(records.get(c.name)!.ca_on),
          ca_off: summary(records.get(c.name)!.ca_off),
          ...(plainMs.has(c.name) ? { plain: { p50_ms: round(quantile(plainMs.get(c.name)!, 0.5)), p95_ms: round(quantile(plainMs.get(c.name)!, 0.95)) } } : {}),
        }),
  };
  for (const c of running) {
    await c.engine!.close();
    if (c.plain) await releaseSession(c.plain);
  }
  const json = JSON.stringify(report, null, 2);
  if (opts.out) writeFileSync(opts.out, `${json}\n`);
  console.log(json);
}

await main();
