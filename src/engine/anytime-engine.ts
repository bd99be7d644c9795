// Runs a bundle exit by exit: stage 1 + exit 1, then each later stage (which applies
// confidence adaptivity itself) while the budget allows. Tensors stay in onnxruntime
// between stages; JavaScript only sees each exit's uint8 labels (and confidence if asked).

import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { readManifest, type BundleManifest, type StageManifest, type TensorSpec } from '../bundle/manifest.js';
import { AdpcError } from '../errors.js';
import { createSession, floatTensor, releaseSession, type Feeds, type InferenceSessionMetadata, type LoadedSession, type ProviderName, type Tensor } from '../runtime/onnx.js';
import type { Budget, StopReason } from './budget.js';
import { sharesFromCounts, stageGflops } from './gflops.js';
import { StageTimer } from './stage-timer.js';

export const EXITS = 4;

export interface EngineOptions {
  provider?: ProviderName;
  threads?: number;
  /** Run each stage twice at load (all computed, little computed) to seed the time model. */
  warmup?: boolean;
  /** Receives load-time notes, such as the provider `auto` picked. */
  log?: (line: string) => void;
}

export interface ExitResult {
  /** 1-based exit index. */
  readonly exit: number;
  readonly exits: number;
  /** Label map at output stride (row-major, width x height). */
  readonly labels: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** Max softmax probability per output pixel, when asked for. */
  readonly confidence?: Float32Array;
  readonly gflops: number;
  readonly cumulativeGflops: number;
  /** Share of 1/4-resolution positions this stage computed (1 for stage 1). */
  readonly computedShare: number;
  /** Milliseconds in onnxruntime for this stage. */
  readonly computeMs: number;
  readonly form: StageForm;
  /** Set on the last result of the frame: why the run ended there. */
  readonly stop: StopReason | null;
}

/** The graph a stage ran as: dense-masked (ADP-C's form), plain (CA off) or sparse. */
export type StageForm = 'masked' | 'plain' | 'sparse';

interface StageSessions {
  readonly masked: LoadedSession;
  readonly plain?: LoadedSession;
  readonly sparse?: LoadedSession;
}

export interface RunOptions {
  budget?: Budget;
  signal?: AbortSignal;
  /** performance.now() at the frame's arrival: deadlines count from here. */
  arrivedAt?: number;
  withConfidence?: boolean;
  /** Waits for the device before each stage; the returned function frees it. */
  acquire?: (stage: number) => Promise<() => void>;
}

export interface EngineInfo {
  readonly bundle: string;
  readonly name: string;
  readonly arch: string;
  readonly provider: string;
  readonly input: { height: number; width: number };
  readonly output: { height: number; width: number; stride: number };
  readonly threshold: number;
  readonly exitGflops: number[];
  readonly denseGflops: number;
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
  if (a !== e) {
    throw new AdpcError('BUNDLE_MISMATCH', `${file}: graph ${what} are [${a}], the manifest says [${e}]`);
  }
}

export class AnytimeEngine {
  private readonly timers = new Map<string, StageTimer>();

  private constructor(
    readonly dir: string,
    readonly manifest: BundleManifest,
    private readonly stages: StageSessions[],
  ) {}

  static async load(dir: string, options: EngineOptions = {}): Promise<AnytimeEngine> {
    const manifest = await readManifest(dir);
    const opened: LoadedSession[] = [];
    const open = async (stage: StageManifest, fileName: string, exactInputs: boolean): Promise<LoadedSession> => {
      const file = join(dir, fileName);
      await access(file).catch((cause: unknown) => {
        throw new AdpcError('BUNDLE_NOT_FOUND', `${file}: graph file of stage ${stage.index} is missing`, { cause });
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
    try {
      for (const stage of manifest.stages) {
        stages.push({
          masked: await open(stage, stage.file, true),
          ...(stage.plain_file ? { plain: await open(stage, stage.plain_file, false) } : {}),
          ...(stage.sparse_file ? { sparse: await open(stage, stage.sparse_file, true) } : {}),
        });
      }
    } catch (e) {
      await Promise.all(opened.map(releaseSession));
      throw e;
    }
    const engine = new AnytimeEngine(dir, manifest, stages);
    if (options.warmup !== false) await engine.warmup();
    return engine;
  }

  get provider(): string {
    return this.stages[0]!.masked.provider;
  }

  /** Which graph runs stage k when `share` of its positions will be computed. */
  private formFor(k: number, threshold: number, share: number): StageForm {
    const sessions = this.stages[k - 1]!;
    if (threshold >= 1 && sessions.plain) return 'plain';
    const crossover = this.manifest.stages[k - 1]!.sparse_crossover;
    if (sessions.sparse && crossover !== undefined && share < crossover) return 'sparse';
    return 'masked';
  }

  private timer(k: number, form: StageForm): StageTimer {
    const key = `${k}:${form}`;
    let timer = this.timers.get(key);
    if (!timer) this.timers.set(key, (timer = new StageTimer()));
    return timer;
  }

  info(): EngineInfo {
    const m = this.manifest;
    let total = 0;
    return {
      bundle: this.dir,
      name: m.name,
      arch: m.arch,
      provider: this.provider,
      input: { height: m.input.height, width: m.input.width },
      output: m.output,
      threshold: m.threshold,
      exitGflops: m.stages.map((s) => (total += s.dense_gflops)),
      denseGflops: m.dense_gflops,
    };
  }

  /** Seeds the time model: every form of every stage, computing everything and little. */
  private async warmup(): Promise<void> {
    const { height, width } = this.manifest.input;
    const zeros = new Float32Array(3 * height * width);
    for (const threshold of [1, 0.999999, 1e-6]) {
      for (const forceForm of [undefined, 'sparse'] as const) {
        for await (const result of this.execute(zeros, { budget: { threshold } }, forceForm)) void result;
      }
    }
  }

  /**
   * Exit results of one frame, coarse to fine. `input` is the normalised float32[1,3,H,W]
   * image (see image/preprocess.ts). The generator returns 'cancelled' when the signal
   * fires between stages after a result was already handed out.
   */
  run(input: Float32Array, options: RunOptions = {}): AsyncGenerator<ExitResult, StopReason> {
    return this.execute(input, options);
  }

  /** `forceForm` 'sparse' runs the sparse form wherever one exists (warm-up and tests). */
  async *execute(input: Float32Array, options: RunOptions, forceForm?: 'sparse'): AsyncGenerator<ExitResult, StopReason> {
    const m = this.manifest;
    const budget = options.budget ?? {};
    const threshold = budget.threshold ?? m.threshold;
    const maxExit = budget.max_exit ?? EXITS;
    const arrivedAt = options.arrivedAt ?? performance.now();
    const thresholdTensor = floatTensor(Float32Array.of(threshold), [1]);
    let feeds: Feeds = { image: floatTensor(input, [1, 3, m.input.height, m.input.width]) };
    let cumulative = 0;
    let expectedShare = 1;

    for (let k = 1; k <= EXITS; k++) {
      const stage = m.stages[k - 1]!;
      if (k > 1 && options.signal?.aborted) return 'cancelled';
      const sessions = this.stages[k - 1]!;
      const form = forceForm && sessions.sparse ? 'sparse' : k === 1 ? 'masked' : this.formFor(k, threshold, expectedShare);
      const session = sessions[form]!.session;
      const release = await options.acquire?.(k);
      const started = performance.now();
      let out;
      try {
        out = await session.run(Object.fromEntries(session.inputNames.map((n) => [n, feeds[n]!])));
      } finally {
        release?.();
      }
      const computeMs = performance.now() - started;

      const shares = k === 1 ? null : sharesFromCounts(stage, out.computed!.data as BigInt64Array);
      const share = shares?.[0] ?? 1;
      this.timer(k, form).observe(share, computeMs);
      const gflops = stageGflops(stage, shares);
      cumulative += gflops;

      const confidence = out.confidence!;
      expectedShare = shareAtOrBelow(confidence.data as Float32Array, threshold);
      const stop = k === EXITS ? 'final_exit' : this.stopBefore(k + 1, { maxExit, budget, threshold, cumulative, arrivedAt, share: expectedShare, signal: options.signal });
      yield {
        exit: k,
        exits: EXITS,
        labels: out.labels!.data as Uint8Array,
        width: m.output.width,
        height: m.output.height,
        ...(options.withConfidence ? { confidence: confidence.data as Float32Array } : {}),
        gflops,
        cumulativeGflops: cumulative,
        computedShare: share,
        computeMs,
        form,
        stop,
      };
      if (stop !== null) return stop;
      feeds = this.nextFeeds(stage, out, thresholdTensor);
    }
    return 'final_exit';
  }

  /** Why not to run stage `next`, or null to go on. */
  private stopBefore(next: number, s: {
    maxExit: number; budget: Budget; threshold: number; cumulative: number; arrivedAt: number;
    share: number; signal?: AbortSignal;
  }): StopReason | null {
    if (next > s.maxExit) return 'max_exit';
    if (s.signal?.aborted) return 'cancelled';
    const stage = this.manifest.stages[next - 1]!;
    if (s.budget.gflops !== undefined) {
      const predicted = stageGflops(stage, stage.masked_resolutions.map(() => s.share));
      if (s.cumulative + predicted > s.budget.gflops) return 'gflops';
    }
    if (s.budget.deadline_ms !== undefined) {
      const predicted = this.timer(next, this.formFor(next, s.threshold, s.share)).predict(s.share);
      const elapsed = performance.now() - s.arrivedAt;
      if (elapsed + (Number.isNaN(predicted) ? 0 : predicted) > s.budget.deadline_ms) return 'deadline';
    }
    return null;
  }

  /** Stage k's outputs renamed as stage k+1's inputs: feat{i} -> feat_in{i}, logits -> logits_in. */
  private nextFeeds(stage: StageManifest, out: Record<string, Tensor>, threshold: Tensor): Feeds {
    const feeds: Feeds = { logits_in: out.logits!, threshold };
    for (const spec of stage.outputs) {
      if (spec.name.startsWith('feat')) feeds[spec.name.replace('feat', 'feat_in')] = out[spec.name]!;
    }
    return feeds;
  }

  async close(): Promise<void> {
    await Promise.all(this.stages.flatMap((s) => [s.masked, s.plain, s.sparse]).filter((s) => s !== undefined).map(releaseSession));
  }
}

/** Share of pixels the next stage will compute: merged confidence still <= threshold. */
function shareAtOrBelow(confidence: Float32Array, threshold: number): number {
  let active = 0;
  for (let i = 0; i < confidence.length; i++) if (confidence[i]! <= threshold) active++;
  return active / confidence.length;
}
