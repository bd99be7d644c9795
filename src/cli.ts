// adpc: segment an image, evaluate a bundle, describe a bundle.

import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_BUNDLE } from './bundle/default-bundle.js';
import { AnytimeEngine, type ExitResult } from './engine/anytime-engine.js';
import { parseBudget, type Budget } from './engine/budget.js';
import { isAdpcError } from './errors.js';
import { evaluateSynthetic } from './eval/evaluate-synthetic.js';
import { prepareFrame } from './image/preprocess.js';
import { describeModel } from './model-description.js';
import { encodeLabelPng, overlayPng, resizeLabels } from './output/label-map.js';
import { checkProviderName, type ProviderName } from './runtime/onnx.js';

function number(name: string, integer = false) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new InvalidArgumentError(`${name} must be a${integer ? 'n integer' : ' number'}`);
    return n;
  };
}

interface EngineFlags { bundle: string; provider: string; threads?: number }

async function loadEngine(flags: EngineFlags, warmup = true): Promise<AnytimeEngine> {
  return AnytimeEngine.load(resolve(flags.bundle), {
    provider: checkProviderName(flags.provider) as ProviderName,
    threads: flags.threads,
    warmup,
    log: (line) => console.error(`adpc: ${line}`),
  });
}

function engineOptions(cmd: Command): Command {
  return cmd
    .option('--bundle <dir>', 'model bundle', DEFAULT_BUNDLE)
    .option('--provider <name>', 'cpu | cuda | tensorrt | webgpu | auto', 'cpu')
    .option('--threads <n>', 'threads per operator (default: all cores)', number('threads', true));
}

const program = new Command().name('adpc').description('Anytime semantic segmentation with ADP-C');

engineOptions(program.command('segment').argument('<image>', 'JPEG, PNG or WebP file'))
  .description('segment one image, exit by exit')
  .option('--max-exit <n>', 'last exit to run (1-4)', number('max-exit', true))
  .option('--threshold <t>', 'CA threshold (1 = no skipping)', number('threshold'))
  .option('--gflops <g>', 'cumulative GFLOPs budget', number('gflops'))
  .option('--deadline-ms <ms>', 'time budget from the start of the run', number('deadline-ms'))
  .option('--out <file>', 'final label map as PNG at the image size')
  .option('--palette', 'write --out in palette colours instead of class ids', false)
  .option('--overlay <file>', 'the image with class colours blended over it (PNG)')
  .option('--json', 'print one JSON object', false)
  .action(async (image: string, flags: EngineFlags & { maxExit?: number; threshold?: number; gflops?: number; deadlineMs?: number; out?: string; palette: boolean; overlay?: string; json: boolean }) => {
    const budget: Budget = parseBudget({ max_exit: flags.maxExit, threshold: flags.threshold, gflops: flags.gflops, deadline_ms: flags.deadlineMs });
    const bytes = await readFile(image).catch((e: NodeJS.ErrnoException) => {
      throw new Error(`cannot read ${image}: ${e.code ?? e.message}`);
    });
    const engine = await loadEngine(flags);
    try {
      const arrivedAt = performance.now();
      const frame = await prepareFrame({ kind: 'encoded', bytes }, engine.manifest.input);
      const results: ExitResult[] = [];
      for await (const r of engine.run(frame.data, { budget, arrivedAt })) {
        results.push(r);
        if (!flags.json) {
          console.log(`exit ${r.exit}/${r.exits}: ${r.computeMs.toFixed(1)} ms, computed ${(100 * r.computedShare).toFixed(1)}%, ` +
            `${r.gflops.toFixed(3)} GFLOPs (cumulative ${r.cumulativeGflops.toFixed(3)})${r.stop ? `, stop: ${r.stop}` : ''}`);
        }
      }
      const last = results.at(-1)!;
      const full = resizeLabels(last, frame.frameWidth, frame.frameHeight);
      if (flags.out) await writeFile(flags.out, await encodeLabelPng(full, flags.palette ? 'palette' : 'grayscale', engine.palette));
      if (flags.overlay) await writeFile(flags.overlay, await overlayPng(bytes, full, engine.palette));
      if (flags.json) {
        console.log(JSON.stringify({
          image, width: frame.frameWidth, height: frame.frameHeight, provider: engine.provider,
          exits: results.map(({ exit, gflops, cumulativeGflops, computedShare, computeMs, stop }) => ({ exit, gflops, cumulative_gflops: cumulativeGflops, computed_share: computedShare, compute_ms: computeMs, stop })),
        }));
      }
    } finally {
      await engine.close();
    }
  });

engineOptions(program.command('eval'))
  .description('per-exit mIoU and GFLOPs on the synthetic split, CA on and off')
  .option('--split <split>', 'train | val | test', 'test')
  .option('--count <n>', 'images', number('count', true), 500)
  .option('--threshold <t>', 'CA threshold (default: the bundle\'s)', number('threshold'))
  .option('--json', 'print one JSON object', false)
  .action(async (flags: EngineFlags & { split: string; count: number; threshold?: number; json: boolean }) => {
    if (!['train', 'val', 'test'].includes(flags.split)) throw new InvalidArgumentError('split must be train, val or test');
    if (flags.count < 1) throw new InvalidArgumentError('count must be at least 1');
    const engine = await loadEngine(flags);
    try {
      const threshold = parseBudget({ threshold: flags.threshold }).threshold ?? engine.manifest.threshold;
      const report = await evaluateSynthetic(engine, { split: flags.split as 'test', count: flags.count, threshold, progress: true });
      if (flags.json) {
        console.log(JSON.stringify(report));
        return;
      }
      console.log(`${report.bundle} on synthetic ${report.split} (${report.images} images), provider ${engine.provider}`);
      console.log('| run | mIoU e1 | e2 | e3 | e4 | GFLOPs e1 | e2 | e3 | e4 |');
      console.log('|---|---|---|---|---|---|---|---|---|');
      for (const [name, exits] of [[`CA ${threshold}`, report.exits], ['CA off', report.ca_off.exits]] as const) {
        console.log(`| ${name} | ${exits.map((e) => e.miou.toFixed(2)).join(' | ')} | ${exits.map((e) => e.gflops.toFixed(3)).join(' | ')} |`);
      }
    } finally {
      await engine.close();
    }
  });

program.command('info')
  .argument('[dir]', 'model bundle', DEFAULT_BUNDLE)
  .description('what a bundle holds')
  .option('--provider <name>', 'cpu | cuda | tensorrt | webgpu | auto', 'cpu')
  .action(async (dir: string, flags: { provider: string }) => {
    const engine = await loadEngine({ bundle: dir, provider: flags.provider }, false);
    try {
      console.log(JSON.stringify(describeModel(engine, engine.dir), null, 2));
    } finally {
      await engine.close();
    }
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // A user error gets one line; ADPC_DEBUG=1 shows the stack of anything unexpected.
  if (process.env.ADPC_DEBUG) console.error(e);
  console.error(isAdpcError(e) ? `adpc: ${e.code}: ${e.message}` : `adpc: ${(e as Error).message}`);
  process.exit(2);
}
