// Opens a bundle for running: the manifest, one onnxruntime session per stage graph form
// (each checked against the manifest's tensor names, dtypes and shapes), the native
// executor for the masked stages when the addon is built, and the measured form times.

import { access } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { AdpcError } from '../errors.js';
import { NativeExecutor } from '../native/native-executor.js';
import { createSession, releaseSession, type InferenceSessionMetadata, type LoadedSession, type ProviderName } from '../runtime/onnx.js';
import { readCrossovers, type ProviderCrossovers, type StageForm } from './crossovers.js';
import { readManifest, type BundleManifest, type StageManifest, type TensorSpec } from './manifest.js';

/** The onnxruntime sessions of one stage, by form. */
export interface StageSessions {
  readonly masked: LoadedSession;
  readonly plain?: LoadedSession;
  readonly sparse?: LoadedSession;
}

export interface LoadedBundle {
  readonly dir: string;
  readonly manifest: BundleManifest;
  readonly stages: readonly StageSessions[];
  /** Merged logits -> labels at the input size, upsampled bilinearly. */
  readonly fullLabels: LoadedSession;
  readonly provider: string;
  readonly native: NativeExecutor | null;
  /** Why the native executor does not run, when it does not (null when it runs). */
  readonly nativeUnavailable: string | null;
  readonly crossovers: ProviderCrossovers | null;
  close(): Promise<void>;
}

export interface BundleOptions {
  provider?: ProviderName;
  /** Threads for onnxruntime operators and the native executor; 0 = all cores. */
  threads?: number;
  /** Use the native executor when it is built (default true). */
  native?: boolean;
  log?: (line: string) => void;
}

type ValueMetadata = InferenceSessionMetadata[number];

/** Every tensor the graph declares must have the manifest's dtype and shape. */
function expectSpecs(file: string, declared: readonly ValueMetadata[], specs: readonly TensorSpec[]): void {
  for (const value of declared) {
    const spec = specs.find((t) => t.name === value.name);
    if (!spec || !value.isTensor) continue;
    const shape = value.shape.map(String).join('x');
    if (value.type !== spec.dtype || shape !== spec.shape.join('x')) {
      throw new AdpcError('BUNDLE_MISMATCH',
        `${file}: tensor ${value.name} is ${value.type}[${shape}] in the graph, ${spec.dtype}[${spec.shape.join('x')}] in the manifest`);
    }
  }
}

function expectNames(what: string, file: string, actual: readonly string[], expected: readonly string[]): void {
  const a = [...actual].sort().join(',');
  const e = [...expected].sort().join(',');
  if (a !== e) throw new AdpcError('BUNDLE_MISMATCH', `${file}: graph ${what} are [${a}], the manifest says [${e}]`);
}

/** The forms stage k can run as in this bundle (stage 1's one onnxruntime graph is reported as masked). */
export function stageForms(bundle: Pick<LoadedBundle, 'stages' | 'native'>, k: number): StageForm[] {
  const s = bundle.stages[k - 1]!;
  const forms: StageForm[] = ['masked'];
  if (s.plain) forms.push('plain');
  if (s.sparse) forms.push('sparse');
  if (bundle.native?.stages.includes(k)) forms.push('native');
  return forms;
}

export async function loadBundle(dir: string, options: BundleOptions = {}): Promise<LoadedBundle> {
  const manifest = await readManifest(dir);
  const opened: LoadedSession[] = [];
  type GraphSpec = Pick<StageManifest, 'index' | 'inputs' | 'outputs'>;
  const open = async (stage: GraphSpec, fileName: string, exactInputs: boolean): Promise<LoadedSession> => {
    const file = join(dir, fileName);
    await access(file).catch((cause: unknown) => {
      throw new AdpcError('BUNDLE_NOT_FOUND', `${file}: graph file ${stage.index ? `of stage ${stage.index} ` : ''}is missing`, { cause });
    });
    const loaded = await createSession(file, {
      // once a provider started for stage 1, the others must use the same one
      provider: opened[0]?.provider ?? options.provider ?? 'cpu',
      threads: options.threads,
      log: opened.length === 0 ? options.log : undefined,
    });
    opened.push(loaded);
    const expected = stage.inputs.map((t) => t.name);
    const inputs = loaded.session.inputNames;
    // a plain (CA off) graph may drop the inputs it does not use: threshold, logits_in
    if (exactInputs || inputs.some((n) => !expected.includes(n))) expectNames('inputs', file, inputs, expected);
    expectNames('outputs', file, loaded.session.outputNames, stage.outputs.map((t) => t.name));
    expectSpecs(file, loaded.session.inputMetadata, stage.inputs);
    expectSpecs(file, loaded.session.outputMetadata, stage.outputs);
    return loaded;
  };
  const stages: StageSessions[] = [];
  let fullLabels: LoadedSession;
  try {
    await access(join(dir, manifest.weights)).catch((cause: unknown) => {
      throw new AdpcError('BUNDLE_NOT_FOUND', `${join(dir, manifest.weights)}: the bundle's weights file is missing`, { cause });
    });
    for (const stage of manifest.stages) {
      stages.push({
        masked: await open(stage, stage.file, true),
        ...(stage.plain_file ? { plain: await open(stage, stage.plain_file, false) } : {}),
        ...(stage.sparse_file ? { sparse: await open(stage, stage.sparse_file, true) } : {}),
      });
    }
    fullLabels = await open({ index: 0, ...manifest.full_labels }, manifest.full_labels.file, true);
  } catch (e) {
    await Promise.all(opened.map(releaseSession));
    throw e;
  }
  const provider = stages[0]!.masked.provider;
  // the native executor is a CPU path: on a GPU provider the masked stages stay there
  let native: NativeExecutor | null = null;
  let nativeUnavailable: string | null = null;
  if (options.native === false) nativeUnavailable = 'disabled by the engine options';
  else if (provider !== 'cpu') nativeUnavailable = `the execution provider is ${provider}, and the native executor runs on the CPU`;
  else {
    const threads = options.threads && options.threads > 0 ? options.threads : availableParallelism();
    ({ executor: native, reason: nativeUnavailable } = await NativeExecutor.load(dir, manifest, threads));
  }
  const crossovers = await readCrossovers(dir, provider);
  return {
    dir,
    manifest,
    stages,
    fullLabels,
    provider,
    native,
    nativeUnavailable,
    crossovers,
    close: async () => {
      await Promise.all([fullLabels, ...stages.flatMap((s) => [s.masked, s.plain, s.sparse])].filter((s) => s !== undefined).map(releaseSession));
    },
  };
}
