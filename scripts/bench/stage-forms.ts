// Times each form of a stage (dense-masked, plain, sparse head, native executor) on the
// inputs the CA run really gives it, at fixed computed shares, interleaving the forms.

import type { LoadedBundle } from '../../src/bundle/load-bundle.js';
import { stageForms } from '../../src/bundle/load-bundle.js';
import type { StageForm } from '../../src/bundle/crossovers.js';
import { nextStageInputs } from '../../src/bundle/stage-io.js';
import { nativeImportOf } from '../../src/native/native-executor.js';
import { floatTensor, type Tensor } from '../../src/runtime/onnx.js';
import { median, thresholdForShare } from './stats.js';

/** One image and every stage's onnxruntime outputs along its CA run (outputs[k-1] = stage k). */
export interface StageChain {
  readonly image: Tensor;
  readonly outputs: Record<string, Tensor>[];
}

export async function stageChain(bundle: LoadedBundle, image: Float32Array, threshold: number): Promise<StageChain> {
  const { input } = bundle.manifest;
  const thresholdTensor = floatTensor(Float32Array.of(threshold), [1]);
  const chain: StageChain = { image: floatTensor(image, [1, 3, input.height, input.width]), outputs: [] };
  let feeds: Record<string, Tensor> = { image: chain.image };
  for (let k = 1; k <= 4; k++) {
    const out = await bundle.stages[k - 1]!.masked.session.run(feeds);
    chain.outputs.push(out);
    feeds = nextStageInputs(out, thresholdTensor);
  }
  return chain;
}

/** The image as the native executor takes it before stage 1. */
export function imageImport(image: Tensor) {
  return { features: [image.data as Float32Array], shapes: [[image.dims[1]!, image.dims[2]!, image.dims[3]!] as const] };
}

export interface FormTiming {
  stage: number;
  share: number;
  /** Median ms per form that can run at this share (plain only at share 1). */
  ms: Partial<Record<StageForm, number>>;
  /** The native form's import of stage k-1's onnxruntime outputs (NCHW -> NHWC), paid when the stage before ran in onnxruntime. */
  native_import_ms: number | null;
}

/** Runs `fn` once untimed, then `repeats` times; the times in ms. */
async function timed(repeats: number, fn: () => Promise<unknown>): Promise<number[]> {
  await fn();
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return times;
}

export async function timeStageForms(bundle: LoadedBundle, chains: StageChain[], k: number, share: number, repeats: number): Promise<FormTiming> {
  const forms = stageForms(bundle, k).filter((f) => f !== 'plain' || share >= 1);
  const samples: Partial<Record<StageForm, number[]>> = {};
  const imports: number[] = [];
  for (const chain of chains) {
    if (k === 1) {
      // nothing is masked: onnxruntime's graph against the native program, image taken in
      for (const form of forms) {
        let times: number[];
        if (form === 'native') {
          const native = bundle.native!;
          const run = native.newRun();
          times = await timed(repeats, async () => {
            await native.importState(run, 0, imageImport(chain.image));
            await native.runStage(run, 1, 1, true);
          });
          native.releaseRun(run);
        } else {
          const session = bundle.stages[0]!.masked.session;
          times = await timed(repeats, () => session.run({ image: chain.image }));
        }
        (samples[form] ??= []).push(...times);
      }
      continue;
    }
    const previous = chain.outputs[k - 2]!;
    // the threshold at which `share` of this input's positions are still unconfident
    const threshold = thresholdForShare(previous.confidence!.data as Float32Array, share);
    const feeds = nextStageInputs(previous, floatTensor(Float32Array.of(threshold), [1]));
    for (const form of forms) {
      let times: number[];
      if (form === 'native') {
        const native = bundle.native!;
        const from = nativeImportOf(previous);
        const run = native.newRun();
        imports.push(...await timed(repeats, () => native.importState(run, k - 1, from)));
        times = [];
        for (let r = 0; r <= repeats; r++) {
          await native.importState(run, k - 1, from);
          const started = performance.now();
          await native.runStage(run, k, threshold, k < 4);
          if (r > 0) times.push(performance.now() - started);
        }
        native.releaseRun(run);
      } else {
        const session = bundle.stages[k - 1]![form]!.session;
        const input = Object.fromEntries(session.inputNames.map((n) => [n, feeds[n]!]));
        times = await timed(repeats, () => session.run(input));
      }
      (samples[form] ??= []).push(...times);
    }
  }
  return {
    stage: k,
    share,
    ms: Object.fromEntries(Object.entries(samples).map(([f, t]) => [f, median(t)])),
    native_import_ms: imports.length ? median(imports) : null,
  };
}

/** The largest measured share at which `form` beat dense-masked (0: never; null: not measured). */
export function crossover(timings: readonly FormTiming[], k: number, form: StageForm): number | null {
  const rows = timings.filter((t) => t.stage === k && t.ms[form] !== undefined && t.ms.masked !== undefined);
  if (!rows.length) return null;
  const winning = rows.filter((t) => t.ms[form]! < t.ms.masked!).map((t) => t.share);
  return winning.length ? Math.max(...winning) : 0;
}
