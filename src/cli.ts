// adpc: segment an image, evaluate a bundle, describe a bundle, stream a video to a server.

import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { AdpcClientError } from '../client/index.js';
import { DEFAULT_BUNDLE } from './bundle/default-bundle.js';
import { AnytimeEngine, type ExitResult } from './engine/anytime-engine.js';
import { parseBudget, type Budget } from './engine/budget.js';
import { isAdpcError } from './errors.js';
import { evaluateSynthetic } from './eval/evaluate-synthetic.js';
import { runStream } from './ingest/stream-run.js';
import { prepareFrame } from './image/preprocess.js';
import { describeModel } from './model-description.js';
import { encodeLabelPng, frameLabels, overlayPng } from './output/label-map.js';
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
      for await (const r of engine.run(frame.data, { budget, arrivedAt, fullLabels: Boolean(flags.out || flags.overlay) })) {
        results.push(r);
        if (!flags.json) {
          console.log(`exit ${r.exit}/${r.exits}: ${r.computeMs.toFixed(1)} ms, computed ${(100 * r.computedShare).toFixed(1)}%, ` +
            `${r.gflops.toFixed(3)} GFLOPs (cumulative ${r.cumulativeGflops.toFixed(3)})${r.stop ? `, stop: ${r.stop}` : ''}`);
        }
      }
      const last = results.at(-1)!;
      const full = frameLabels(last, frame.frameWidth, frame.frameHeight);
      if (flags.out) await writeFile(flags.out, await encodeLabelPng(full, flags.palette ? 'palette' : 'grayscale', engine.palette));
      if (flags.overlay) await writeFile(flags.overlay, await overlayPng(bytes, full, engine.palette));
      if (flags.json) {
        console.log(JSON.stringify({
          image, width: frame.frameWidth, height: frame.frameHeight, provider: engine.provider,
          exits: results.map(({ exit, gflops, cumulativeGflops, computedShare, computeMs, form, stop }) => ({ exit, gflops, cumulative_gflops: cumulativeGflops, computed_share: computedShare, form, timing_ms: { compute: computeMs }, stop })),
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
      console.log('mIoU of the labels at the frame\'s size from bilinear logits (what size=frame answers return); in brackets the 1/4 label map scaled by nearest');
      console.log('| run | mIoU e1 | e2 | e3 | e4 | GFLOPs e1 | e2 | e3 | e4 |');
      console.log('|---|---|---|---|---|---|---|---|---|');
      for (const [name, exits] of [[`CA ${threshold}`, report.exits], ['CA off', report.ca_off.exits]] as const) {
        console.log(`| ${name} | ${exits.map((e) => `${e.miou.toFixed(2)} (${e.miou_label_map.toFixed(2)})`).join(' | ')} | ${exits.map((e) => e.gflops.toFixed(3)).join(' | ')} |`);
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

program.command('stream')
  .argument('<source>', 'a video file, a camera URL (rtsp://, http://, ...) or a folder of images')
  .description('send frames to a server over the stream protocol (ffmpeg decodes them) and print each exit\'s time')
  .option('--server <url>', 'the stream endpoint', 'ws://localhost:8080/v1/stream')
  .option('--token <token>', 'bearer token (default: $ADPC_TOKEN)')
  .option('--fps <n>', 'frames per second to send; 0: a file\'s frames one at a time, every frame of a camera', number('fps'), 10)
  .option('--frames <n>', 'stop after this many frames', number('frames', true))
  .option('--width <px>', 'scale frames to this width (default: the source\'s, at most 1920 on the longest side)', number('width', true))
  .option('--encode <how>', 'raw (RGB, exact) or jpeg', 'raw')
  .option('--max-exit <n>', 'last exit to run (1-4)', number('max-exit', true))
  .option('--threshold <t>', 'CA threshold (1 = no skipping)', number('threshold'))
  .option('--gflops <g>', 'cumulative GFLOPs budget', number('gflops'))
  .option('--deadline-ms <ms>', 'time budget from each frame\'s arrival', number('deadline-ms'))
  .option('--overlay <file>', 'write the frames with their final labels blended over them as a video (ffmpeg picks the codec from the extension)')
  .option('--json', 'one JSON line per exit and a summary line', false)
  .action(async (source: string, flags: { server: string; token?: string; fps: number; frames?: number; width?: number; encode: string; maxExit?: number; threshold?: number; gflops?: number; deadlineMs?: number; overlay?: string; json: boolean }) => {
    if (flags.fps < 0) throw new InvalidArgumentError('fps must be 0 or more');
    if (flags.encode !== 'raw' && flags.encode !== 'jpeg') throw new InvalidArgumentError('encode must be raw or jpeg');
    if (flags.frames !== undefined && flags.frames < 1) throw new InvalidArgumentError('frames must be at least 1');
    if (flags.width !== undefined && (flags.width < 2 || flags.width > 16384)) throw new InvalidArgumentError('width must be 2-16384');
    const budget = parseBudget({ max_exit: flags.maxExit, threshold: flags.threshold, gflops: flags.gflops, deadline_ms: flags.deadlineMs });
    // Ctrl-C stops taking frames; those sent still end and the summary is printed
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    await runStream(source, {
      server: flags.server, token: flags.token ?? process.env.ADPC_TOKEN, fps: flags.fps, frames: flags.frames, width: flags.width,
      budget, overlay: flags.overlay, encode: flags.encode, json: flags.json, print: (line) => console.log(line), signal: stop.signal,
    });
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // A user error gets one line; ADPC_DEBUG=1 shows the stack of anything unexpected.
  if (process.env.ADPC_DEBUG) console.error(e);
  console.error(isAdpcError(e) || e instanceof AdpcClientError ? `adpc: ${e.code}: ${e.message}` : `adpc: ${(e as Error).message}`);
  process.exit(2);
}
