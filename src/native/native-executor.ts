// The native executor (native/, a Node-API addon built by `npm ci`): runs the masked stages
// computing convolutions only where they are needed. Optional: without the addon (no C++
// toolchain at install) the engine runs every stage in onnxruntime and says why once.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { BundleManifest } from '../bundle/manifest.js';
import { featureOutputs } from '../bundle/stage-io.js';
import { AdpcError } from '../errors.js';

export const NATIVE_PROGRAM_FORMAT = 'adpc-native-program';
export const NATIVE_PROGRAM_VERSION = 1;

const ADDON_PATH = fileURLToPath(new URL('../../native/build/Release/adpc_native.node', import.meta.url));

const Ref = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]);
const Name = z.string().min(1);
const Op = z.discriminatedUnion('op', [
  z.strictObject({
    op: z.literal('conv'), in: Name, out: Name, kernel: z.union([z.literal(1), z.literal(3)]),
    stride: z.number().int().min(1).max(2), pad: z.number().int().min(0).max(2),
    cin: z.number().int().positive(), cout: z.number().int().positive(),
    weight: Ref, pre_bias: Ref.nullable(), post_bias: Ref.nullable(),
    fill: z.strictObject({ radius: z.number().int().min(0).max(3), weights: z.array(z.number()) }).nullable(),
    residual: Name.nullable(), relu: z.boolean(),
  }),
  z.strictObject({ op: z.literal('fuse_sum'), terms: z.array(z.strictObject({ tensor: Name, upsample: z.boolean() })).min(1), out: Name, relu: z.boolean() }),
  z.strictObject({ op: z.literal('concat_up'), parts: z.array(Name).min(1), out: Name }),
  z.strictObject({ op: z.literal('avgpool2'), in: Name, out: Name }),
  z.strictObject({ op: z.literal('upsample'), in: Name, out: Name }),
]);
const StageProgram = z.strictObject({
  stage: z.number().int().min(1).max(4),
  resolutions: z.array(z.tuple([z.number().int().positive(), z.number().int().positive()])).min(1),
  inputs: z.array(Name).min(1),
  tensors: z.record(Name, z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()])),
  ops: z.array(Op).min(1),
  outputs: z.strictObject({ features: z.array(Name), logits: Name }),
});
const ProgramFile = z.strictObject({
  format: z.literal(NATIVE_PROGRAM_FORMAT),
  version: z.literal(NATIVE_PROGRAM_VERSION),
  stages: z.array(StageProgram).min(1),
});
export type NativeStageProgram = z.infer<typeof StageProgram>;

/** The state of one frame inside the executor (features stay there between native stages). */
export interface NativeRun { readonly __brand: 'NativeRun' }

/** A previous stage's onnxruntime outputs, when the native executor takes over from it (or the image alone, before stage 1). */
export interface NativeImport {
  readonly features: Float32Array[];
  readonly shapes: (readonly [number, number, number])[];
  readonly logits?: Float32Array;
  readonly confidence?: Float32Array;
  readonly labels?: Uint8Array;
}

/** A stage's outputs (onnxruntime tensors or the references) as the executor takes them. */
export function nativeImportOf(outputs: Readonly<Record<string, { readonly data: unknown; readonly dims: readonly number[] }>>): NativeImport {
  const features = featureOutputs(outputs);
  return {
    features: features.map((t) => t.data as Float32Array),
    shapes: features.map((t) => [t.dims[1]!, t.dims[2]!, t.dims[3]!] as const),
    logits: outputs.logits!.data as Float32Array,
    confidence: outputs.confidence!.data as Float32Array,
    labels: outputs.labels!.data as Uint8Array,
  };
}

export interface NativeStageResult {
  readonly labels: Uint8Array;
  readonly confidence: Float32Array;
  readonly computed: number[];
}

/** A chained stage's result: also its time on the worker, import included. */
export interface NativeChainResult extends NativeStageResult {
  readonly ms: number;
}

/** Stages run back to back on one worker (NativeExecutor.runStages). */
export interface NativeChain {
  /** Stage k's result as it ends; null when the chain ended before it. Rejects if the stage failed. */
  stage(k: number): Promise<NativeChainResult | null>;
  /** The chain ends after the stage under way. */
  stop(): void;
  /** When the chain is over and its run is free for other calls. */
  readonly ended: Promise<void>;
}

interface Addon {
  Executor: new (options: { stages: unknown[]; weights: Uint8Array; classes: number; isa: string; threads: number }) => AddonExecutor;
  isas: string[];
  rgbPlanes(rgb: Uint8Array, tables: Float32Array, out: Float32Array): void;
  cellLuma(rgb: Uint8Array, width: number, height: number, cell: number, out: Float32Array): void;
}
interface AddonExecutor {
  readonly isa: string;
  readonly threads: number;
  newRun(): NativeRun;
  runStage(run: NativeRun, k: number, threshold: number, needFeatures: boolean, from?: NativeImport, focus?: Uint8Array): Promise<NativeStageResult>;
  runStages(run: NativeRun, k: number, last: number, threshold: number, needFeatures: boolean[], from: NativeImport | undefined,
    focus: Uint8Array | undefined, onStage: (stage: number, value: NativeChainResult | Error | undefined) => void): void;
  stopStages(run: NativeRun): void;
  importState(run: NativeRun, k: number, from: NativeImport): Promise<unknown>;
  exportState(run: NativeRun): Promise<{ features: Float32Array[]; logits: Float32Array }>;
  fullLabels(run: NativeRun, height: number, width: number): Promise<Uint8Array>;
  setProfiling(on: boolean): void;
  profile(k: number): OpTiming[];
}

/** Time per op of a stage (in program order), then the mask, needed-set and merge phases. */
export interface OpTiming {
  readonly ms: number;
  readonly calls: number;
  readonly positions: number;
  /** What it measures: the op as the executor runs it (after its load-time rewrites), or a phase. */
  readonly op: string;
}

let addon: Addon | null | undefined;
let addonProblem = '';

/** The addon, or null with the reason in `nativeUnavailable()`. ADPC_NATIVE=off disables it. */
function loadAddon(): Addon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.env.ADPC_NATIVE === 'off') {
    addonProblem = 'disabled by ADPC_NATIVE=off';
  } else if (!existsSync(ADDON_PATH)) {
    addonProblem = 'the native addon is not built (npm ci builds it when a C++ toolchain is present: g++ and make; then run `npm rebuild adpc-edge` or `npm run build:native`)';
  } else {
    try {
      addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;
    } catch (e) {
      addonProblem = `the native addon did not load: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  return addon;
}

/** Why the native executor is not available, or null when it is. */
export function nativeUnavailable(): string | null {
  return loadAddon() ? null : addonProblem;
}

/**
 * The addon's loop from interleaved RGB bytes to three planes through a table of 256 values per
 * channel (R, G, B one after another), or null without the addon.
 */
export function nativeRgbPlanes(): Addon['rgbPlanes'] | null {
  return loadAddon()?.rgbPlanes ?? null;
}

/**
 * The addon's mean (R+G+B)/3 of each cell x cell square of interleaved RGB bytes, row-major,
 * into `out`; null without the addon.
 */
export function nativeCellLuma(): Addon['cellLuma'] | null {
  return loadAddon()?.cellLuma ?? null;
}

/** Runs kept for reuse: a fresh run's buffers cost page faults on first touch (about 1 ms a frame). */
const SPARE_RUNS = 8;

export class NativeExecutor {
  private readonly spare: NativeRun[] = [];

  private constructor(private readonly ex: AddonExecutor, private readonly programs: readonly NativeStageProgram[]) {}

  /** The stages it has programs for. */
  get stages(): number[] {
    return this.programs.map((p) => p.stage);
  }

  program(k: number): NativeStageProgram {
    const p = this.programs.find((s) => s.stage === k);
    if (!p) throw new RangeError(`no native program for stage ${k}`);
    return p;
  }

  /** Benchmarks: time every op of the stages run from now on (a clock read per op). */
  setProfiling(on: boolean): void {
    this.ex.setProfiling(on);
  }

  profile(k: number): OpTiming[] {
    return this.ex.profile(k);
  }

  /** The executor for a bundle's native programs; null (with a reason) when it cannot run them. */
  static async load(dir: string, manifest: BundleManifest, threads: number): Promise<{ executor: NativeExecutor | null; reason: string | null }> {
    if (!manifest.native) return { executor: null, reason: 'the bundle has no native programs' };
    const lib = loadAddon();
    if (!lib) return { executor: null, reason: addonProblem };
    const file = join(dir, manifest.native.program);
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch (cause) {
      throw new AdpcError('BUNDLE_INVALID', `${file}: cannot read the native programs (${(cause as Error).message})`, { cause });
    }
    const parsed = ProgramFile.safeParse(json);
    if (!parsed.success) {
      const problems = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new AdpcError('BUNDLE_INVALID', `${file}: ${problems.join('; ')}`);
    }
    const weightsFile = join(dir, manifest.weights);
    const weights = new Uint8Array(await readFile(weightsFile).catch((cause: unknown) => {
      throw new AdpcError('BUNDLE_NOT_FOUND', `${weightsFile}: the bundle's weights file is missing`, { cause });
    }));
    const programs = parsed.data.stages.filter((s) => manifest.native!.stages.includes(s.stage));
    let ex: AddonExecutor;
    try {
      ex = new lib.Executor({ stages: programs, weights, classes: manifest.classes.length, isa: process.env.ADPC_NATIVE_ISA ?? 'auto', threads });
    } catch (cause) {
      throw new AdpcError('BUNDLE_MISMATCH', `${file}: the native executor refused the programs: ${(cause as Error).message}`, { cause });
    }
    return { executor: new NativeExecutor(ex, programs), reason: null };
  }

  get isa(): string {
    return this.ex.isa;
  }

  get threads(): number {
    return this.ex.threads;
  }

  /** A run for one frame: a released one when there is one. */
  newRun(): NativeRun {
    return this.spare.pop() ?? this.ex.newRun();
  }

  /** Gives a finished frame's run back for the next frame (its state is overwritten then). */
  releaseRun(run: NativeRun): void {
    if (this.spare.length < SPARE_RUNS && !this.spare.includes(run)) this.spare.push(run);
  }

  /**
   * Runs stage k on the run's state; `from` when stage k-1 ran in onnxruntime. `focus` (one
   * byte per 1/4-resolution position) limits where stage k computes to where it is non-zero.
   */
  runStage(run: NativeRun, k: number, threshold: number, needFeatures: boolean, from?: NativeImport, focus?: Uint8Array): Promise<NativeStageResult> {
    return this.ex.runStage(run, k, threshold, needFeatures, from, focus);
  }

  /**
   * Stages k..last as runStage would run them one after another (needFeatures per stage), back
   * to back on one worker: no hop through the event loop between them (docs/NATIVE.md).
   */
  runStages(run: NativeRun, k: number, last: number, threshold: number, needFeatures: boolean[], from?: NativeImport, focus?: Uint8Array): NativeChain {
    const settle = new Map<number, { resolve: (r: NativeChainResult | null) => void; reject: (e: Error) => void }>();
    const results = new Map<number, Promise<NativeChainResult | null>>();
    for (let j = k; j <= last; j++) {
      const result = new Promise<NativeChainResult | null>((resolve, reject) => settle.set(j, { resolve, reject }));
      result.catch(() => undefined); // a failure is rethrown where the stage is awaited, if it is
      results.set(j, result);
    }
    let ended!: () => void;
    const over = new Promise<void>((resolve) => (ended = resolve));
    // called from the event loop by the addon: nothing thrown here could reach a caller
    this.ex.runStages(run, k, last, threshold, needFeatures, from, focus, (stage, value) => {
      if (stage === 0) {
        for (const s of settle.values()) s.resolve(null);
        settle.clear();
        ended();
        return;
      }
      const s = settle.get(stage);
      settle.delete(stage);
      if (value instanceof Error) s?.reject(value);
      else s?.resolve(value as NativeChainResult);
    });
    return {
      stage: (j) => results.get(j) ?? Promise.resolve(null),
      stop: () => this.ex.stopStages(run),
      ended: over,
    };
  }

  /** Takes stage k's onnxruntime outputs into the run (benchmarks time the import apart). */
  async importState(run: NativeRun, k: number, from: NativeImport): Promise<void> {
    await this.ex.importState(run, k, from);
  }

  /** Labels at height x width from the run's merged logits upsampled bilinearly (the paper's protocol). */
  fullLabels(run: NativeRun, height: number, width: number): Promise<Uint8Array> {
    return this.ex.fullLabels(run, height, width);
  }

  /** The run's features and merged logits as NCHW, for an onnxruntime stage after a native one. */
  exportState(run: NativeRun): Promise<{ features: Float32Array[]; logits: Float32Array }> {
    return this.ex.exportState(run);
  }
}
