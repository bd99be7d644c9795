// The native executor against the dense-masked onnxruntime graphs and the PyTorch references:
// logits within 1e-4, labels equal on >= 99.99% of pixels, computed counts equal, on the tiny
// model exported by the test and on the shipped bundle; edge cases and random masks.
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BUNDLE } from '../../src/bundle/default-bundle.js';
import { loadBundle, type LoadedBundle } from '../../src/bundle/load-bundle.js';
import { nextStageInputs } from '../../src/bundle/stage-io.js';
import { AnytimeEngine, type ExitResult, type RunOptions } from '../../src/engine/anytime-engine.js';
import { nativeImportOf, nativeUnavailable, type NativeExecutor, type NativeImport, type NativeRun } from '../../src/native/native-executor.js';
import { equalShare, readReference, readReferenceIndex, type ReferenceIndex } from '../helpers/reference.js';
import { exportTinyBundle } from '../helpers/tiny-bundle.js';

type Outputs = Record<string, ort.Tensor>;

const bundles: [string, () => string, boolean][] = [
  ['tiny bundle exported by the test', exportTinyBundle, true],
  ['shipped default bundle', () => DEFAULT_BUNDLE, false],
];

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** Max softmax of NCHW logits [1,K,h,w], as the graphs compute it. */
function confidenceOf(logits: Float32Array, classes: number, positions: number): Float32Array {
  const out = new Float32Array(positions);
  for (let p = 0; p < positions; p++) {
    let top = -Infinity;
    for (let k = 0; k < classes; k++) top = Math.max(top, logits[k * positions + p]!);
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += Math.exp(logits[k * positions + p]! - top);
    out[p] = 1 / sum;
  }
  return out;
}

it('the native executor is built here (CI installs the toolchain)', () => {
  expect(nativeUnavailable()).toBeNull();
});

describe.runIf(nativeUnavailable() === null).each(bundles)('%s: native executor vs onnxruntime and PyTorch', (_name, prepare, temporary) => {
  let dir: string;
  let index: ReferenceIndex;
  let bundle: LoadedBundle;
  let native: NativeExecutor;
  const ref = (name: string) => readReference(dir, index, name);
  const referenceOutputs = (k: number): Outputs => Object.fromEntries(
    bundle.manifest.stages[k - 1]!.outputs.filter((o) => o.name !== 'computed').map((o) => [o.name, ref(`stage${k}.${o.name}`)]));

  beforeAll(async () => {
    dir = prepare();
    index = readReferenceIndex(dir);
    bundle = await loadBundle(dir, { threads: 2 });
    native = bundle.native!;
  }, 120_000);
  afterAll(async () => {
    await bundle?.close();
    if (temporary) rmSync(dirname(dir), { recursive: true, force: true });
  });

  /** The reference image (b), another picture of its size (a), and a focus box off the corner. */
  function twoPictures() {
    const image = ref('image');
    const [c, h, w] = [image.dims[1]!, image.dims[2]!, image.dims[3]!];
    const b = image.data as Float32Array;
    const a = b.map((v, i) => (i % 7 === 0 ? -v : 0.5 * v));
    const [qh, qw] = [h / 4, w / 4];
    const focus = new Uint8Array(qh * qw);
    for (let y = 2; y < qh - 3; y++) focus.fill(1, y * qw + 3, y * qw + Math.floor(qw / 2));
    return { a, b, qh, qw, focus, from: (data: Float32Array): NativeImport => ({ features: [data], shapes: [[c, h, w]] }) };
  }

  /** Runs stage k natively from `previous` (stage k-1's outputs) and the same in the masked graph. */
  async function both(k: number, previous: Outputs, threshold: number) {
    const run = native.newRun();
    const got = await native.runStage(run, k, threshold, k < 4, nativeImportOf(previous));
    const session = bundle.stages[k - 1]!.masked.session;
    const want = await session.run(nextStageInputs<ort.Tensor>(previous, new ort.Tensor('float32', Float32Array.of(threshold), [1])));
    const state = k < 4 ? await native.exportState(run) : null;
    return { got, want, state };
  }

  function expectClose(r: Awaited<ReturnType<typeof both>>, what: string) {
    expect(Array.from(r.got.computed), `${what}: computed`).toEqual(Array.from(r.want.computed!.data as BigInt64Array, Number));
    expect(equalShare(new ort.Tensor('uint8', r.got.labels, r.want.labels!.dims), r.want.labels!), `${what}: labels`).toBeGreaterThanOrEqual(0.9999);
    expect(maxDiff(r.got.confidence, r.want.confidence!.data as Float32Array), `${what}: confidence`).toBeLessThan(1e-4);
    if (r.state) {
      expect(maxDiff(r.state.logits, r.want.logits!.data as Float32Array), `${what}: logits`).toBeLessThan(1e-4);
      r.state.features.forEach((f, i) => expect(maxDiff(f, r.want[`feat${i}`]!.data as Float32Array), `${what}: feat${i}`).toBeLessThan(1e-4));
    }
  }

  it('runs stage 1 from the image as onnxruntime and PyTorch do', async () => {
    expect(native.stages).toContain(1);
    const image = ref('image');
    const run = native.newRun();
    await native.importState(run, 0, { features: [image.data as Float32Array], shapes: [[image.dims[1]!, image.dims[2]!, image.dims[3]!]] });
    const got = await native.runStage(run, 1, 1, true);
    expect(equalShare(new ort.Tensor('uint8', got.labels, [got.labels.length]), ref('stage1.labels'))).toBeGreaterThanOrEqual(0.9999);
    expect(maxDiff(got.confidence, ref('stage1.confidence').data as Float32Array)).toBeLessThan(1e-4);
    const state = await native.exportState(run);
    expect(maxDiff(state.logits, ref('stage1.logits').data as Float32Array)).toBeLessThan(1e-4);
    expect(maxDiff(state.features[0]!, ref('stage1.feat0').data as Float32Array)).toBeLessThan(1e-4);
    // and stage 2 goes on from there without leaving the executor
    const threshold = (ref('threshold').data as Float32Array)[0]!;
    const next = await native.runStage(run, 2, threshold, true);
    expect(next.computed).toEqual(Array.from(ref('stage2.computed').data as BigInt64Array, Number));
  });

  it('continues a run\'s last frame in stage 1 with a focus: new features inside, the last ones and the last labels outside', async () => {
    const { a, b, qh, qw, focus, from } = twoPictures();
    const stage1 = async (data: Float32Array, run = native.newRun()) => {
      await native.importState(run, 0, from(data));
      const out = await native.runStage(run, 1, 1, true);
      return { run, out, state: await native.exportState(run) };
    };
    const A = await stage1(a);
    const B = await stage1(b);
    // the frame's first stage 1 on a fresh run refused
    const fresh = native.newRun();
    await native.importState(fresh, 0, from(b));
    await expect(native.runStage(fresh, 1, 1, true, undefined, focus)).rejects.toThrow(/last frame/);

    const kept = (await stage1(a)).run;
    await native.importState(kept, 0, from(b));
    const got = await native.runStage(kept, 1, 1, true, undefined, focus);
    const state = await native.exportState(kept);
    const f = state.features[0]!;
    const fc = f.length / (qh * qw);
    let inside = 0;
    let outside = 0;
    for (let ch = 0; ch < fc; ch++) {
      for (let i = 0; i < qh * qw; i++) {
        const j = ch * qh * qw + i;
        const want = focus[i] ? B.state.features[0]![j]! : A.state.features[0]![j]!;
        if (focus[i]) inside = Math.max(inside, Math.abs(f[j]! - want));
        else outside = Math.max(outside, Math.abs(f[j]! - want));
      }
    }
    expect(inside, 'features in the focus: the new frame\'s').toBeLessThan(1e-4);
    expect(outside, 'features outside: the last frame\'s, untouched').toBe(0);
    for (let i = 0; i < qh * qw; i++) {
      if (!focus[i]) {
        expect(got.labels[i]).toBe(A.out.labels[i]);
        expect(got.confidence[i]).toBe(A.out.confidence[i]);
      }
    }
    // a focus of ones is the whole frame
    const all = (await stage1(a)).run;
    await native.importState(all, 0, from(b));
    const whole = await native.runStage(all, 1, 1, true, undefined, new Uint8Array(qh * qw).fill(1));
    expect(whole.labels).toEqual(B.out.labels);
    expect(maxDiff((await native.exportState(all)).features[0]!, B.state.features[0]!)).toBeLessThan(1e-5);
  });

  it('keeps a later stage\'s outputs outside the focus while they hold the last frame, and while a focus covers where they lag', async () => {
    const { a, b, qh, qw, focus, from } = twoPictures();
    const threshold = (ref('threshold').data as Float32Array)[0]!;
    const frame = async (run: NativeRun, data: Float32Array, stages: number, f?: Uint8Array) => {
      await native.importState(run, 0, from(data));
      for (let k = 1; k <= stages; k++) await native.runStage(run, k, k === 1 ? 1 : threshold, true, undefined, f);
      return (await native.exportState(run)).features;
    };
    // where each stage-2 feature map lies outside the focus: none of the 1/4 positions it covers is in it
    const shapes = bundle.manifest.stages[1]!.outputs.filter((o) => o.name.startsWith('feat')).map((o) => o.shape);
    const outside = shapes.map(([, , fh, fw]) => {
      const [sy, sx] = [qh / fh!, qw / fw!];
      return Array.from({ length: fh! * fw! }, (_, i) => {
        const [y, x] = [Math.floor(i / fw!), i % fw!];
        for (let dy = 0; dy < sy; dy++) for (let dx = 0; dx < sx; dx++) if (focus[(y * sy + dy) * qw + x * sx + dx]) return false;
        return true;
      });
    });
    const differs = (x: Float32Array[], y: Float32Array[], where: 'outside' | 'inside') => x.some((f, i) => {
      const positions = outside[i]!.length;
      for (let j = 0; j < f.length; j++) if ((where === 'outside') === outside[i]![j % positions] && f[j] !== y[i]![j]) return true;
      return false;
    });
    const run = native.newRun();
    const last = await frame(run, a, 2);
    const next = await frame(run, b, 2, focus);
    expect(differs(next, last, 'outside'), 'outside the focus: the last frame\'s outputs').toBe(false);
    expect(differs(next, last, 'inside'), 'inside: this frame\'s').toBe(true);
    // a frame that stops after stage 1 leaves stage 2's outputs behind stage 1's in its focus:
    // a next focus that covers it keeps them, one that does not writes them everywhere
    await frame(run, a, 1, focus);
    const covered = await frame(run, b, 2, focus);
    expect(differs(covered, next, 'outside')).toBe(false);
    const elsewhere = new Uint8Array(qh * qw);
    elsewhere.fill(1, (qh - 2) * qw, (qh - 1) * qw);
    await frame(run, a, 1, elsewhere);
    const uncovered = await frame(run, b, 2, focus);
    expect(differs(uncovered, next, 'outside')).toBe(true);
    // and so does any focus after a whole frame that stopped before the stage
    await frame(run, a, 2);
    const whole = await frame(run, b, 2, focus);
    await frame(run, a, 1);
    expect(differs(await frame(run, b, 2, focus), whole, 'outside')).toBe(true);
  });

  it('reproduces the references stage by stage, and chained from stage 1', async () => {
    const threshold = (ref('threshold').data as Float32Array)[0]!;
    for (const k of [2, 3, 4]) {
      const run = native.newRun();
      const got = await native.runStage(run, k, threshold, k < 4, nativeImportOf(referenceOutputs(k - 1)));
      expect(got.computed).toEqual(Array.from(ref(`stage${k}.computed`).data as BigInt64Array, Number));
      expect(equalShare(new ort.Tensor('uint8', got.labels, [got.labels.length]), ref(`stage${k}.labels`))).toBeGreaterThanOrEqual(0.9999);
      if (k < 4) {
        const state = await native.exportState(run);
        expect(maxDiff(state.logits, ref(`stage${k}.logits`).data as Float32Array)).toBeLessThan(1e-4);
        state.features.forEach((f, i) => expect(maxDiff(f, ref(`stage${k}.feat${i}`).data as Float32Array)).toBeLessThan(1e-4));
      }
    }
    // features stay in the executor between its stages
    const run = native.newRun();
    await native.runStage(run, 2, threshold, true, nativeImportOf(referenceOutputs(1)));
    await native.runStage(run, 3, threshold, true);
    const last = await native.runStage(run, 4, threshold, false);
    expect(last.computed).toEqual(Array.from(ref('stage4.computed').data as BigInt64Array, Number));
    expect(equalShare(new ort.Tensor('uint8', last.labels, [last.labels.length]), ref('stage4.labels'))).toBeGreaterThanOrEqual(0.9999);
  }, 60_000);

  it('runs stages back to back as one chain with the results of one by one; stops after the stage under way; reports a failure, then the end', async () => {
    const threshold = (ref('threshold').data as Float32Array)[0]!;
    const image = ref('image');
    const from: NativeImport = { features: [image.data as Float32Array], shapes: [[image.dims[1]!, image.dims[2]!, image.dims[3]!]] };
    const one = native.newRun();
    const want = [await native.runStage(one, 1, threshold, true, from)];
    for (const k of [2, 3, 4]) want.push(await native.runStage(one, k, threshold, k < 4));

    const run = native.newRun();
    const chain = native.runStages(run, 1, 4, threshold, [true, true, true, false], from);
    // the run is claimed until the chain's end is reported
    expect(() => native.runStage(run, 1, threshold, true, from)).toThrow(/already running/);
    for (const k of [1, 2, 3, 4]) {
      const got = (await chain.stage(k))!;
      expect(got.labels, `stage ${k}`).toEqual(want[k - 1]!.labels);
      expect(got.confidence, `stage ${k}`).toEqual(want[k - 1]!.confidence);
      expect(got.computed, `stage ${k}`).toEqual(want[k - 1]!.computed);
      expect(got.ms).toBeGreaterThan(0);
    }
    await chain.ended;

    // stopped at once: the first stage runs, and so may the one under way when the stop comes
    // (a tiny bundle's stages take microseconds); the rest are null, and the run goes on from there
    const stopped = native.runStages(run, 1, 4, threshold, [true, true, true, false], from);
    stopped.stop();
    const got = await Promise.all([1, 2, 3, 4].map((k) => stopped.stage(k)));
    await stopped.ended;
    const ran = got.includes(null) ? got.indexOf(null) : 4;
    expect(ran).toBeGreaterThanOrEqual(1);
    got.forEach((r, i) => (i < ran ? expect(r!.labels).toEqual(want[i]!.labels) : expect(r).toBeNull()));
    if (ran < 4) expect((await native.runStage(run, ran + 1, threshold, ran + 1 < 4)).computed).toEqual(want[ran]!.computed);

    // a failing stage rejects, the stages after it are not run, and the run is free afterwards
    const fresh = native.newRun();
    const failing = native.runStages(fresh, 3, 4, threshold, [true, false]);
    await expect(failing.stage(3)).rejects.toThrow(/native executor: a 0x0 image/);
    expect(await failing.stage(4)).toBeNull();
    await failing.ended;
    expect((await native.runStage(fresh, 1, threshold, true, from)).labels).toEqual(want[0]!.labels);
  });

  it('matches the masked graphs when nothing and when everything is computed', async () => {
    for (const k of [2, 3, 4]) {
      expectClose(await both(k, referenceOutputs(k - 1), 1e-6), `stage ${k}, nothing computed`);
      expectClose(await both(k, referenceOutputs(k - 1), 1), `stage ${k}, everything computed`);
    }
  }, 60_000);

  /** Stage k-1's reference outputs with logits that make exactly `mask` unconfident. */
  function withMask(k: number, mask: Uint8Array): Outputs {
    const outputs = { ...referenceOutputs(k - 1) };
    const [, classes, h, w] = outputs.logits!.dims as number[];
    const positions = h! * w!;
    const logits = new Float32Array(classes! * positions);
    for (let p = 0; p < positions; p++) {
      // computed: flat logits (confidence 1/K); skipped: one class far ahead (confidence 1)
      if (!mask[p]) logits[((p * 7) % classes!) * positions + p] = 40;
    }
    const confidence = confidenceOf(logits, classes!, positions);
    const labels = new Uint8Array(positions);
    for (let p = 0; p < positions; p++) labels[p] = mask[p] ? 0 : (p * 7) % classes!;
    outputs.logits = new ort.Tensor('float32', logits, outputs.logits!.dims);
    outputs.confidence = new ort.Tensor('float32', confidence, outputs.confidence!.dims);
    outputs.labels = new ort.Tensor('uint8', labels, outputs.labels!.dims);
    return outputs;
  }

  it('matches the masked graphs for a single computed pixel, at the corners and borders', async () => {
    const [h, w] = bundle.manifest.stages[1]!.masked_resolutions[0]!;
    const spots = [[0, 0], [0, w - 1], [h - 1, 0], [h - 1, w - 1], [0, w >> 1], [h >> 1, 0], [h >> 1, w >> 1]];
    for (const k of [2, 4]) {
      for (const [y, x] of spots) {
        const mask = new Uint8Array(h * w);
        mask[y! * w + x!] = 1;
        expectClose(await both(k, withMask(k, mask), 0.5), `stage ${k}, pixel ${y},${x}`);
      }
      const border = new Uint8Array(h * w);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) border[y * w + x] = Number(y === 0 || x === 0 || y === h - 1 || x === w - 1);
      expectClose(await both(k, withMask(k, border), 0.5), `stage ${k}, border ring`);
    }
  }, 120_000);

  it('matches the masked graphs on random masks', async () => {
    const [h, w] = bundle.manifest.stages[1]!.masked_resolutions[0]!;
    const runs = temporary ? 16 : 4;
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 2, max: 4 }),
      fc.double({ min: 0.02, max: 0.98, noNaN: true }),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.constantFrom(1, 2, 4, 8),
      fc.boolean(),
      async (k, density, seed, block, banded) => {
        // blobs of `block` x `block` pixels, like the scattered boundary masks CA makes; or in a
        // band of rows alone, like a focus (the needed sets work over the rows that have marks)
        let s = seed;
        const mask = new Uint8Array(h * w);
        const y0 = banded ? seed % h : 0;
        const y1 = banded ? Math.min(h, y0 + 1 + (seed >>> 8) % h) : h;
        for (let by = y0 - (y0 % block); by < y1; by += block) {
          for (let bx = 0; bx < w; bx += block) {
            s = (Math.imul(s, 1103515245) + 12345) >>> 0;
            const on = s / 2 ** 32 < density ? 1 : 0;
            for (let y = Math.max(y0, by); y < Math.min(y1, by + block); y++) for (let x = bx; x < Math.min(w, bx + block); x++) mask[y * w + x] = on;
          }
        }
        expectClose(await both(k, withMask(k, mask), 0.5), `stage ${k}, density ${density.toFixed(2)}, blocks ${block}, rows ${y0}-${y1}`);
      }), { numRuns: runs, seed: 1 });
  }, 180_000);
});

describe.runIf(nativeUnavailable() === null)('kept runs (region reuse) and full-resolution labels through the engine', () => {
  let full: string;
  let engine: AnytimeEngine;
  beforeAll(async () => {
    full = exportTinyBundle(64, 128);
    engine = await AnytimeEngine.load(full, { threads: 1 });
  }, 180_000);
  afterAll(async () => {
    await engine?.close();
    if (full) rmSync(dirname(full), { recursive: true, force: true });
  });

  it('continues a kept run in a focus, and runs the whole frame with a focus of ones', async () => {
    expect(engine.regionsSupported()).toBe(true);
    const index = readReferenceIndex(full);
    const image = readReference(full, index, 'image').data as Float32Array;
    const other = image.map((v, i) => (i % 5 === 0 ? -v : 0.7 * v));
    const collect = async (input: Float32Array, opts: RunOptions = {}) => { const out: ExitResult[] = []; for await (const r of engine.run(input, opts)) out.push(r); return out; };
    const budget = { threshold: 1 };
    const plain = await collect(image, { budget });
    const otherPlain = await collect(other, { budget });
    const kept = engine.keepRun();
    await expect(collect(image, { kept, focus: new Uint8Array(16 * 32).fill(1) })).rejects.toThrow(/whole frame/);
    // a whole frame on a kept run is the plain run
    const first = await collect(other, { kept, budget });
    first.forEach((r, i) => expect(r.labels).toEqual(otherPlain[i]!.labels));
    const ones = await collect(image, { kept, budget, focus: new Uint8Array(16 * 32).fill(1) });
    ones.forEach((r, i) => {
      expect(r.labels).toEqual(plain[i]!.labels);
      expect(r.computedShare).toBe(plain[i]!.computedShare);
    });
    // the left half of the 16x32 output, on the other frame's state
    await collect(other, { kept, budget });
    const focus = new Uint8Array(16 * 32);
    for (let y = 0; y < 16; y++) focus.fill(1, y * 32, y * 32 + 16);
    const half = await collect(image, { kept, budget, focus });
    expect(half.map((r) => r.form)).toEqual(['native', 'native', 'native', 'native']);
    expect(half[0]!.computedShare).toBe(0.5);
    expect(half[0]!.gflops).toBeCloseTo(plain[0]!.gflops / 2, 9);
    for (const r of half) {
      expect(r.computedShare).toBeLessThanOrEqual(0.5);
      // outside the focus nothing was computed: the labels are the last frame's final ones
      for (let i = 0; i < focus.length; i++) if (!focus[i]) expect(r.labels[i]).toBe(otherPlain[3]!.labels[i]);
    }
    expect(half[3]!.cumulativeGflops).toBeLessThan(plain[3]!.cumulativeGflops);
    await expect(collect(image, { focus })).rejects.toThrow(/give `kept`/);
    await expect(collect(image, { kept, focus: new Uint8Array(7) })).rejects.toThrow(/focus has 7 positions/);
  }, 60_000);

  it('gives labels at the input size from bilinear logits, natively and in onnxruntime', async () => {
    const index = readReferenceIndex(full);
    const image = readReference(full, index, 'image').data as Float32Array;
    const want = readReference(full, index, 'stage4.labels_full');
    const threshold = engine.manifest.threshold;
    const ortOnly = await AnytimeEngine.load(full, { threads: 1, native: false, warmup: false });
    try {
      for (const e of [engine, ortOnly]) {
        let last: ExitResult | undefined;
        for await (const r of e.run(image, { fullLabels: true, budget: { threshold } })) last = r;
        expect([last!.fullLabels!.width, last!.fullLabels!.height]).toEqual([128, 64]);
        expect(equalShare(new ort.Tensor('uint8', last!.fullLabels!.labels, want.dims), want)).toBeGreaterThanOrEqual(0.9999);
      }
    } finally {
      await ortOnly.close();
    }
  }, 60_000);
});
