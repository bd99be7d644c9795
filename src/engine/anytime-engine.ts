// Runs a bundle exit by exit: stage 1 + exit 1, then each later stage (which applies
// confidence adaptivity itself) while the budget allows. Each stage runs in the form that
// is fastest at the share of positions it will compute (bundle/crossovers.ts): an
// onnxruntime graph, or the native executor, whose features stay in its own memory between
// its stages. JavaScript only sees each exit's uint8 labels and confidence.

import { chooseForm, type StageForm } from '../bundle/crossovers.js';
import { loadBundle, stageForms, type LoadedBundle } from '../bundle/load-bundle.js';
import type { BundleManifest } from '../bundle/manifest.js';
import { nextStageInputs } from '../bundle/stage-io.js';
import { paletteOf, type Palette } from '../classes.js';
import { nativeImportOf, type NativeChain, type NativeImport, type NativeRun, type NativeStageResult } from '../native/native-executor.js';
import { floatTensor, type Feeds, type ProviderName, type Tensor } from '../runtime/onnx.js';
import type { Budget, StopReason } from './budget.js';
import { sharesFromCounts, stageGflops } from './gflops.js';
import { StageTimer } from './stage-timer.js';

export type { StageForm } from '../bundle/crossovers.js';

export const EXITS = 4;

export interface EngineOptions {
  provider?: ProviderName;
  threads?: number;
  /** Run each stage in each form at load (all computed, little computed) to seed the time model. */
  warmup?: boolean;
  /** Use the native executor for the masked stages when it is built (default true). */
  native?: boolean;
  /** Pin stages to forms (debugging, exactness checks): e.g. {2: 'masked'}. Stage 1 is unmasked: 'masked' is its onnxruntime graph. */
  forms?: Partial<Record<1 | 2 | 3 | 4, StageForm>>;
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
  /** Labels at the input size from the logits upsampled bilinearly, when asked for. */
  readonly fullLabels?: { readonly labels: Uint8Array; readonly width: number; readonly height: number };
  readonly gflops: number;
  readonly cumulativeGflops: number;
  /** Share of 1/4-resolution positions this stage computed (1 for stage 1). */
  readonly computedShare: number;
  /** Milliseconds this stage took (onnxruntime or the native executor). */
  readonly computeMs: number;
  readonly form: StageForm;
  /** Set on the last result of the frame: why the run ended there. */
  readonly stop: StopReason | null;
}

export interface RunOptions {
  budget?: Budget;
  signal?: AbortSignal;
  /** performance.now() at the frame's arrival: deadlines count from here. */
  arrivedAt?: number;
  withConfidence?: boolean;
  /** Also give each exit's labels at the input size from its logits upsampled bilinearly. */
  fullLabels?: boolean;
  /**
   * A run one stream keeps across its frames (region reuse; `keepRun()`): the frame continues
   * the run's last one. Needs the native executor for every stage (regionsSupported()).
   */
  kept?: KeptRun;
  /**
   * With `kept`, where the frame differs from the kept run's last one, one byte per output
   * position: every stage computes only where it is non-zero and reads the features the run
   * kept from the frames before elsewhere (docs/NATIVE.md), and outside it every exit's merged
   * logits, labels and confidence stay the last frame's. Without a focus the whole frame runs
   * and becomes the run's state.
   */
  focus?: Uint8Array;
  /** Waits for the device before each stage; the returned function frees it. */
  acquire?: (stage: number) => Promise<() => void>;
  /**
   * Whether others wait for the device. Native stages that run whatever their predecessor's
   * result run back to back as one chain holding the device; it does not start while others
   * wait, and ends after its stage under way when `whenWaiting` says someone started to. With
   * a deadline, a frame that waited for the device (asked right after `acquire`, which queues
   * the run at once), or that others wait behind, and got it too late for its first exit runs
   * nothing and ends 'deadline' without an exit (every other run returns exit 1).
   */
  waiting?: () => boolean;
  /** Subscribes to others starting to wait for the device; the returned function unsubscribes. */
  whenWaiting?: (listener: () => void) => () => void;
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
  /** The native executor: its instruction set and threads, or why it does not run. */
  readonly native: { readonly isa: string; readonly threads: number } | { readonly unavailable: string };
}

/** Where the previous stage left its outputs: onnxruntime tensors, or the native run state. */
type Carried =
  | { readonly kind: 'ort'; readonly outputs: Record<string, Tensor> }
  | { readonly kind: 'native' };

interface StageOutput {
  readonly labels: Uint8Array;
  readonly confidence: Float32Array;
  readonly computed: ArrayLike<number | bigint> | null;
  readonly carried: Carried;
}

/** A native run one stream keeps across its frames (RunOptions.kept). */
export class KeptRun {
  /** Whether the run holds a whole frame's state: a focus continues one. */
  primed = false;
  constructor(readonly run: NativeRun) {}
}

/** One stage run: its form, outputs, labels at the input size when asked, and its time. */
interface StageRun {
  readonly form: StageForm;
  readonly out: StageOutput;
  readonly fullLabels: Uint8Array | undefined;
  readonly computeMs: number;
}

/** How much each new measurement of the consumers' time per exit counts (a moving average). */
const DELIVERY_WEIGHT = 0.1;

export class AnytimeEngine {
  private readonly timers = new Map<string, StageTimer>();
  private readonly fixedForms = new Map<string, StageForm | null>();
  /** What consumers take with an exit before asking for the next (encoding and sending it): part of when an exit arrives. */
  private deliveryMs = 0;
  readonly palette: Palette;

  private constructor(private readonly bundle: LoadedBundle, private readonly pinned: EngineOptions['forms'] = {}) {
    this.palette = paletteOf(bundle.manifest.classes);
  }

  static async load(dir: string, options: EngineOptions = {}): Promise<AnytimeEngine> {
    const bundle = await loadBundle(dir, options);
    if (bundle.nativeUnavailable && options.native !== false) options.log?.(`native executor not used: ${bundle.nativeUnavailable}`);
    for (const [k, form] of Object.entries(options.forms ?? {})) {
      if (!stageForms(bundle, Number(k)).includes(form)) {
        await bundle.close();
        throw new RangeError(`stage ${k} has no ${form} form in this bundle or on this machine`);
      }
    }
    const engine = new AnytimeEngine(bundle, options.forms);
    if (options.warmup !== false) await engine.warmup();
    return engine;
  }

  get manifest(): BundleManifest {
    return this.bundle.manifest;
  }

  get dir(): string {
    return this.bundle.dir;
  }

  get provider(): string {
    return this.bundle.provider;
  }

  info(): EngineInfo {
    const m = this.manifest;
    let total = 0;
    const native = this.bundle.native;
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
      native: native ? { isa: native.isa, threads: native.threads } : { unavailable: this.bundle.nativeUnavailable ?? 'not available' },
    };
  }

  /** Whether run() takes kept runs and a focus (region reuse): the native executor runs every stage here. */
  regionsSupported(): boolean {
    return [1, 2, 3, 4].every((k) => this.bundle.native?.stages.includes(k));
  }

  /**
   * The form stage k runs at every share, or null when the share decides it (then its
   * predecessor's result must be seen first). Sampled at shares 0, 0.01, ..., 1: the forms'
   * predicted times are piecewise linear, so a choice that differs only between two samples
   * would be a near-tie, whichever form runs.
   */
  private formAtEveryShare(k: number, pinned: EngineOptions['forms']): StageForm | null {
    const key = `${k}:${pinned?.[k as 1 | 2 | 3 | 4] ?? ''}`;
    let form = this.fixedForms.get(key);
    if (form === undefined) {
      const first = this.formFor(k, 0, pinned);
      form = Array.from({ length: 101 }, (_, i) => this.formFor(k, i / 100, pinned)).every((f) => f === first) ? first : null;
      this.fixedForms.set(key, form);
    }
    return form;
  }

  /** Which form runs stage k when `share` of its positions will be computed. */
  private formFor(k: number, share: number, pinned: EngineOptions['forms']): StageForm {
    const pin = pinned?.[k as 1 | 2 | 3 | 4];
    if (pin && (pin !== 'plain' || share >= 1)) return pin;
    return chooseForm(this.bundle.crossovers, k, share, stageForms(this.bundle, k));
  }

  /** A run for RunOptions.kept; it needs the native executor for every stage. */
  keepRun(): KeptRun {
    if (!this.regionsSupported()) throw new RangeError(`kept runs need the native executor (${this.bundle.nativeUnavailable ?? 'it has no program for every stage'})`);
    return new KeptRun(this.bundle.native!.newRun());
  }

  private timer(k: number, form: StageForm): StageTimer {
    const key = `${k}:${form}`;
    let timer = this.timers.get(key);
    if (!timer) this.timers.set(key, (timer = new StageTimer()));
    return timer;
  }

  /** Seeds the time model: every form of every stage, computing everything and little. */
  private async warmup(): Promise<void> {
    const { height, width } = this.manifest.input;
    const zeros = new Float32Array(3 * height * width);
    for (const threshold of [1, 0.999999, 1e-6]) {
      for (const form of ['masked', 'plain', 'sparse', 'native'] as const) {
        const forms = { 1: form, 2: form, 3: form, 4: form };
        if (![1, 2, 3, 4].some((k) => stageForms(this.bundle, k).includes(form))) continue;
        const pinned = Object.fromEntries(Object.entries(forms).filter(([k]) => stageForms(this.bundle, Number(k)).includes(form)));
        for await (const result of this.execute(zeros, { budget: { threshold } }, pinned)) void result;
      }
    }
  }

  /**
   * Exit results of one frame, coarse to fine. `input` is the normalised float32[1,3,H,W]
   * image (see image/preprocess.ts). The generator returns 'cancelled' when the signal
   * fires between stages after a result was already handed out.
   */
  run(input: Float32Array, options: RunOptions = {}): AsyncGenerator<ExitResult, StopReason> {
    return this.execute(input, options, this.pinned);
  }

  private async *execute(input: Float32Array, options: RunOptions, pinned: EngineOptions['forms']): AsyncGenerator<ExitResult, StopReason> {
    const m = this.manifest;
    const budget = options.budget ?? {};
    const threshold = budget.threshold ?? m.threshold;
    const maxExit = budget.max_exit ?? EXITS;
    const arrivedAt = options.arrivedAt ?? performance.now();
    const size = m.input;
    const stride = m.output.stride;
    const { kept, focus } = options;
    if (focus && !kept) throw new RangeError('a focus continues a kept run\'s last frame: give `kept` too');
    if (kept) {
      if (!this.regionsSupported()) throw new RangeError(`kept runs need the native executor (${this.bundle.nativeUnavailable ?? 'it has no program for every stage'})`);
      const positions = (size.height / stride) * (size.width / stride);
      if (focus && focus.length !== positions) throw new RangeError(`the focus has ${focus.length} positions, the output ${positions}`);
      if (focus && !kept.primed) throw new RangeError('a focus continues a kept run\'s last frame: run a whole frame on it first');
      // the onnxruntime graphs know no kept state and no focus: these run natively throughout
      pinned = { 1: 'native', 2: 'native', 3: 'native', 4: 'native' };
    }
    if (input.length !== 3 * size.height * size.width) throw new RangeError(`input has ${input.length} values, a ${size.height}x${size.width} image needs ${3 * size.height * size.width}`);
    let carried: Carried = { kind: 'ort', outputs: { image: floatTensor(input, [1, 3, size.height, size.width]) } };
    let nativeRun: NativeRun | null = kept?.run ?? null;
    // stage 1 computes the focus alone: its share of the positions
    const stage1Share = focus ? focusShare(focus) : 1;
    let cumulative = 0;
    let expectedShare = 1;

    // Whether stage k+1 runs whatever stage k's result: no budget that a result could exhaust,
    // and a form that does not depend on the share. Then, if the loop below is waiting for
    // stage k, stage k+1 starts as soon as stage k ends, before the engine's bookkeeping of
    // stage k (about 0.1 ms a stage: docs/NATIVE.md); never more than one stage ahead of the
    // loop, as when the loop starts it.
    const unconditional = (k: number): boolean =>
      k < EXITS && k + 1 <= maxExit && budget.gflops === undefined && budget.deadline_ms === undefined &&
      this.formAtEveryShare(k + 1, pinned) !== null;
    let awaiting = 0;
    let early: Promise<StageRun | 'deadline' | 'cancelled'> | null = null;
    // native stages running back to back, and the last of them
    let chain = null as { readonly run: NativeChain; readonly last: number } | null;
    // the last stage a chain from native stage k would run: each next one runs natively whatever
    // its predecessor's result; no chain where labels at the input size come between stages
    const chainEnd = (k: number): number => {
      let last = k;
      while (!options.fullLabels && unconditional(last) && this.formAtEveryShare(last + 1, pinned) === 'native') last++;
      return last;
    };
    const needFeatures = (k: number): boolean => k < maxExit || (kept !== undefined && k < EXITS);

    /**
     * Stage k on what stage k-1 left: its device slot, the deadline check once granted, the
     * run. Its failure is marked handled at once (it may come while the consumer has an exit,
     * before anything awaits it) and rethrown where it is awaited.
     */
    const startStage = (k: number, share: number): Promise<StageRun | 'deadline' | 'cancelled'> => {
      const started = runStage(k, share).then((ran) => {
        if (awaiting === k && typeof ran !== 'string' && unconditional(k) && !options.signal?.aborted) {
          carried = ran.out.carried;
          early = startStage(k + 1, 1);
        }
        return ran;
      });
      started.catch(() => undefined);
      return started;
    };
    const runStage = async (k: number, share: number): Promise<StageRun | 'deadline' | 'cancelled'> => {
      if (chain && k <= chain.last) {
        const r = await chain.run.stage(k);
        // else the chain ended before stage k: it runs on its own
        if (r) return { form: 'native', out: nativeOutput(k, r), fullLabels: undefined, computeMs: r.ms };
      }
      // the run takes no other call before a chain's end has been reported
      if (chain) await chain.run.ended;
      const form = this.formFor(k, share, pinned);
      const asked = options.acquire?.(k);
      // whether this run waits for the device (the scheduler queues it as it is asked) or others do
      const contended = options.waiting?.() === true;
      const release = await asked;
      let held = false;
      try {
        // The wait for the device may have eaten the time the check before it counted on. A
        // first exit that would come late still comes from an idle device; from a contended one
        // the frame gives way (no exit at all): its late stage would make the frames behind it
        // late too, the domino of an overloaded earliest-deadline-first queue.
        const gives = k > 1 || contended || options.waiting?.() === true;
        if (gives && release && budget.deadline_ms !== undefined && this.lateFor(k, form, share, arrivedAt, budget.deadline_ms)) return 'deadline';
        if (k > 1 && options.signal?.aborted) return 'cancelled';
        const started = performance.now();
        let out: StageOutput;
        let fullLabels: Uint8Array | undefined;
        if (form === 'native') {
          nativeRun ??= this.bundle.native!.newRun();
          const last = chainEnd(k);
          if (k === 1 && kept) kept.primed = false;
          // others waiting for the device, or a notice that they start to (subscribed before the
          // chain starts, so that none falls between the check and the chain), keep it from running
          let stages: NativeChain | null = null;
          let yielded = options.signal?.aborted === true || options.waiting?.() === true;
          const stop = () => {
            yielded = true;
            stages?.stop();
          };
          const unsubscribe = last > k && !yielded ? options.whenWaiting?.(stop) : undefined;
          if (last > k && !yielded) {
            // the chain holds the device to its end, and ends after its stage under way on a notice
            const chained = this.bundle.native!.runStages(nativeRun, k, last, threshold,
              Array.from({ length: last - k + 1 }, (_, i) => needFeatures(k + i)), this.nativeImport(k, carried), focus);
            stages = chained;
            chain = { run: chained, last };
            held = true;
            options.signal?.addEventListener('abort', stop, { once: true });
            void chained.ended.then(() => {
              options.signal?.removeEventListener('abort', stop);
              unsubscribe?.();
              release?.();
            });
            const r = await chained.stage(k);
            if (!r) throw new Error(`native stage ${k} ended without a result`);
            out = nativeOutput(k, r);
          } else {
            unsubscribe?.();
            // a kept run's next frame reads the features of every stage this one runs, whether it goes on or not
            out = await this.runNative(k, nativeRun, carried, threshold, needFeatures(k), focus);
          }
          if (k === 1 && kept) kept.primed = true;
        } else {
          out = await this.runOrt(k, form, carried, nativeRun, threshold);
        }
        if (options.fullLabels) {
          fullLabels = out.carried.kind === 'native'
            ? await this.bundle.native!.fullLabels(nativeRun!, size.height, size.width)
            : (await this.bundle.fullLabels.session.run({ logits: out.carried.outputs.logits! })).labels_full!.data as Uint8Array;
        }
        return { form, out, fullLabels, computeMs: performance.now() - started };
      } finally {
        if (!held) release?.();
      }
    };

    // The next stage starts before an exit is handed out, so that what the consumer does with
    // it (encoding, sending) overlaps the next stage instead of delaying it.
    let next: Promise<StageRun | 'deadline' | 'cancelled'> | null = startStage(1, 1);
    try {
      for (let k = 1; k <= EXITS; k++) {
        const stage = m.stages[k - 1]!;
        awaiting = k;
        const ran = await next!;
        next = null;
        if (ran === 'deadline' || ran === 'cancelled') return ran;
        const { form, out, fullLabels, computeMs } = ran;
        carried = out.carried;

        const shares = out.computed === null ? null : sharesFromCounts(stage, out.computed);
        const share = shares?.[0] ?? stage1Share;
        this.timer(k, form).observe(share, computeMs);
        const gflops = stageGflops(stage, shares, k === 1 ? stage1Share : 1);
        cumulative += gflops;

        expectedShare = shareAtOrBelow(out.confidence, threshold, focus);
        const stop = k === EXITS ? 'final_exit' : this.stopBefore(k + 1, { maxExit, budget, cumulative, arrivedAt, share: expectedShare, signal: options.signal, pinned });
        // what started early ends before the run is given back, whether it is wanted or not
        next = stop === null ? early ?? startStage(k + 1, expectedShare) : early;
        early = null;
        const yieldedAt = performance.now();
        yield {
          exit: k,
          exits: EXITS,
          labels: out.labels,
          width: size.width / stride,
          height: size.height / stride,
          ...(options.withConfidence ? { confidence: out.confidence } : {}),
          ...(fullLabels ? { fullLabels: { labels: fullLabels, width: size.width, height: size.height } } : {}),
          gflops,
          cumulativeGflops: cumulative,
          computedShare: share,
          computeMs,
          form,
          stop,
        };
        this.deliveryMs += DELIVERY_WEIGHT * (performance.now() - yieldedAt - this.deliveryMs);
        if (stop !== null) return stop;
        // aborted while the consumer had the exit: the stage under way ends, nothing more is handed out
        if (options.signal?.aborted) {
          await next;
          next = null;
          return 'cancelled';
        }
      }
      return 'final_exit';
    } finally {
      // a stage still under way (the consumer stopped early, or a stage failed) ends before its run is given back
      if (next) await next.catch(() => undefined);
      if (chain) {
        chain.run.stop();
        await chain.run.ended;
      }
      if (nativeRun && !kept) this.bundle.native!.releaseRun(nativeRun);
    }
  }

  private async runOrt(k: number, form: Exclude<StageForm, 'native'>, carried: Carried, nativeRun: NativeRun | null, threshold: number): Promise<StageOutput> {
    const session = this.bundle.stages[k - 1]![form]!.session;
    let feeds: Feeds;
    if (k === 1) {
      feeds = (carried as { outputs: Feeds }).outputs;
    } else {
      const thresholdTensor = floatTensor(Float32Array.of(threshold), [1]);
      if (carried.kind === 'ort') {
        feeds = nextStageInputs(carried.outputs, thresholdTensor);
      } else {
        // the native executor ran stage k-1: its state comes back as NCHW tensors
        const prev = this.manifest.stages[k - 2]!;
        const state = await this.bundle.native!.exportState(nativeRun!);
        const outputs: Record<string, Tensor> = { logits: floatTensor(state.logits, prev.outputs.find((o) => o.name === 'logits')!.shape) };
        state.features.forEach((f, i) => (outputs[`feat${i}`] = floatTensor(f, prev.outputs.find((o) => o.name === `feat${i}`)!.shape)));
        feeds = nextStageInputs(outputs, thresholdTensor);
      }
    }
    const out = await session.run(Object.fromEntries(session.inputNames.map((n) => [n, feeds[n]!])));
    return {
      labels: out.labels!.data as Uint8Array,
      confidence: out.confidence!.data as Float32Array,
      computed: k === 1 ? null : (out.computed!.data as BigInt64Array),
      carried: { kind: 'ort', outputs: out },
    };
  }

  private async runNative(k: number, run: NativeRun, carried: Carried, threshold: number, needFeatures: boolean, focus?: Uint8Array): Promise<StageOutput> {
    return nativeOutput(k, await this.bundle.native!.runStage(run, k, threshold, needFeatures, this.nativeImport(k, carried), focus));
  }

  /** What a native stage k takes in first: the image, or stage k-1's onnxruntime outputs; nothing when the run holds them. */
  private nativeImport(k: number, carried: Carried): NativeImport | undefined {
    if (k === 1) {
      const image = (carried as { outputs: Record<string, Tensor> }).outputs.image!;
      return { features: [image.data as Float32Array], shapes: [[image.dims[1]!, image.dims[2]!, image.dims[3]!]] };
    }
    return carried.kind === 'ort' ? nativeImportOf(carried.outputs) : undefined;
  }

  /** Why not to run stage `next`, or null to go on. */
  private stopBefore(next: number, s: {
    maxExit: number; budget: Budget; cumulative: number; arrivedAt: number; share: number;
    signal?: AbortSignal; pinned: EngineOptions['forms'];
  }): StopReason | null {
    if (next > s.maxExit) return 'max_exit';
    if (s.signal?.aborted) return 'cancelled';
    const stage = this.manifest.stages[next - 1]!;
    if (s.budget.gflops !== undefined) {
      const predicted = stageGflops(stage, stage.masked_resolutions.map(() => s.share));
      if (s.cumulative + predicted > s.budget.gflops) return 'gflops';
    }
    if (s.budget.deadline_ms !== undefined && this.lateFor(next, this.formFor(next, s.share, s.pinned), s.share, s.arrivedAt, s.budget.deadline_ms)) return 'deadline';
    return null;
  }

  /**
   * Whether stage k's exit, if the stage started now, could arrive after the deadline: the
   * stage's time as it rarely exceeds it (StageTimer.upper), then what consumers take to send
   * an exit on.
   */
  private lateFor(k: number, form: StageForm, share: number, arrivedAt: number, deadlineMs: number): boolean {
    const predicted = this.timer(k, form).upper(share);
    return performance.now() - arrivedAt + (Number.isNaN(predicted) ? 0 : predicted) + this.deliveryMs > deadlineMs;
  }

  async close(): Promise<void> {
    await this.bundle.close();
  }
}

/** Share of pixels the next stage will compute: merged confidence still <= threshold, in the focus. */
function shareAtOrBelow(confidence: Float32Array, threshold: number, focus?: Uint8Array): number {
  const t = Math.fround(threshold); // the graphs compare in float32
  let active = 0;
  for (let i = 0; i < confidence.length; i++) if (confidence[i]! <= t && (!focus || focus[i])) active++;
  return active / confidence.length;
}

function nativeOutput(k: number, result: NativeStageResult): StageOutput {
  return { labels: result.labels, confidence: result.confidence, computed: k === 1 ? null : result.computed, carried: { kind: 'native' } };
}

function focusShare(focus: Uint8Array): number {
  let active = 0;
  for (const v of focus) if (v) active++;
  return active / focus.length;
}
