// The exported graphs, run by onnxruntime-node, reproduce the PyTorch outputs saved at export.
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { equalShare, logitTolerance, maxAbsDiff, readReference, readReferenceIndex, type ReferenceIndex } from '../helpers/reference.js';
import { DEFAULT_BUNDLE } from '../../src/bundle/default-bundle.js';
import { nextStageInputs } from '../../src/bundle/stage-io.js';
import { exportTinyBundle } from '../helpers/tiny-bundle.js';

interface TensorSpec { name: string; dtype: string; shape: number[] }
interface StageSpec { index: number; file: string; inputs: TensorSpec[]; outputs: TensorSpec[] }

const bundles: [string, () => string, boolean][] = [
  ['tiny bundle exported by the test', exportTinyBundle, true],
  ['shipped default bundle', () => DEFAULT_BUNDLE, false],
];

describe.each(bundles)('%s: onnxruntime-node vs PyTorch', (_name, prepare, temporary) => {
  let dir: string;
  let index: ReferenceIndex;
  let stages: StageSpec[];

  /** Stage k's inputs from stage k-1's reference outputs, renamed as the engine renames them. */
  const referenceInputs = (k: number): Record<string, ort.Tensor> => {
    const previous = stages[k - 2]!;
    const outputs = Object.fromEntries(previous.outputs.filter((o) => o.name !== 'computed')
      .map((o) => [o.name, readReference(dir, index, `stage${k - 1}.${o.name}`)]));
    return nextStageInputs(outputs, readReference(dir, index, 'threshold'));
  };

  beforeAll(() => {
    dir = prepare();
    index = readReferenceIndex(dir);
    stages = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).stages as StageSpec[];
  }, 120_000);
  afterAll(() => {
    if (temporary) rmSync(dirname(dir), { recursive: true, force: true });
  });

  it('runs every stage with the reference inputs and matches its outputs', async () => {
    expect(stages.map((s) => s.index)).toEqual([1, 2, 3, 4]);
    for (const stage of stages) {
      const session = await ort.InferenceSession.create(join(dir, stage.file));
      const feeds = stage.index === 1 ? { image: readReference(dir, index, 'image') } : referenceInputs(stage.index);
      const out = await session.run(feeds);
      const logits = readReference(dir, index, `stage${stage.index}.logits`);
      expect(maxAbsDiff(out.logits!, logits)).toBeLessThan(1e-4);
      expect(equalShare(out.labels!, readReference(dir, index, `stage${stage.index}.labels`))).toBeGreaterThanOrEqual(0.9999);
      expect(maxAbsDiff(out.confidence!, readReference(dir, index, `stage${stage.index}.confidence`))).toBeLessThan(1e-4);
      if (stage.index > 1) {
        const computed = out.computed!.data as BigInt64Array;
        expect(Array.from(computed)).toEqual(Array.from(readReference(dir, index, `stage${stage.index}.computed`).data as BigInt64Array));
      }
      for (const spec of stage.outputs.filter((o) => o.name.startsWith('feat'))) {
        expect(maxAbsDiff(out[spec.name]!, readReference(dir, index, `stage${stage.index}.${spec.name}`))).toBeLessThan(1e-4);
      }
      await session.release();
    }
  });

  it('the sparse form of stage 4 (gathered head) matches the dense-masked references', async () => {
    const stage = stages[3]! as StageSpec & { sparse_file?: string };
    expect(stage.sparse_file).toBe('stage4.sparse.onnx');
    const session = await ort.InferenceSession.create(join(dir, stage.sparse_file!));
    const feeds = referenceInputs(4);
    const out = await session.run(feeds);
    expect(maxAbsDiff(out.logits!, readReference(dir, index, 'stage4.logits'))).toBeLessThan(1e-4);
    expect(equalShare(out.labels!, readReference(dir, index, 'stage4.labels'))).toBeGreaterThanOrEqual(0.9999);
    expect(Array.from(out.computed!.data as BigInt64Array)).toEqual(Array.from(readReference(dir, index, 'stage4.computed').data as BigInt64Array));
    // edge cases: everything computed, nothing computed
    const dense = await ort.InferenceSession.create(join(dir, stage.file));
    for (const threshold of [1, 1e-6]) {
      feeds.threshold = new ort.Tensor('float32', Float32Array.of(threshold), [1]);
      const [a, b] = [await session.run(feeds), await dense.run(feeds)];
      expect(maxAbsDiff(a.logits!, b.logits!)).toBeLessThan(1e-4);
      expect(Array.from(a.computed!.data as BigInt64Array)).toEqual(Array.from(b.computed!.data as BigInt64Array));
    }
    await dense.release();
    await session.release();
  });

  it('the plain forms (threshold 1: everything computed) match the dense-masked ones', async () => {
    for (const stage of stages.slice(1) as (StageSpec & { plain_file?: string })[]) {
      const plain = await ort.InferenceSession.create(join(dir, stage.plain_file!));
      const masked = await ort.InferenceSession.create(join(dir, stage.file));
      // CA off needs neither the threshold nor the previous logits: the graph drops them
      expect(plain.inputNames.every((n) => masked.inputNames.includes(n))).toBe(true);
      const feeds: Record<string, ort.Tensor> = { ...referenceInputs(stage.index), threshold: new ort.Tensor('float32', Float32Array.of(1), [1]) };
      const plainFeeds = Object.fromEntries(plain.inputNames.map((n) => [n, feeds[n]!]));
      const [a, b] = [await plain.run(plainFeeds), await masked.run(feeds)];
      expect(maxAbsDiff(a.logits!, b.logits!)).toBeLessThan(1e-4);
      expect(Array.from(a.computed!.data as BigInt64Array)).toEqual(Array.from(b.computed!.data as BigInt64Array));
      await plain.release();
      await masked.release();
    }
  });

  it('really skips: stage 2 computes part of the 1/4-resolution map', () => {
    const computed = readReference(dir, index, 'stage2.computed').data as BigInt64Array;
    const [h, w] = (stages[1] as StageSpec & { masked_resolutions: number[][] }).masked_resolutions[0]!;
    expect(Number(computed[0])).toBeGreaterThan(0);
    expect(Number(computed[0])).toBeLessThan(h! * w!);
  });

  it('dense baseline graph matches PyTorch', async () => {
    const session = await ort.InferenceSession.create(join(dir, 'dense.onnx'));
    const out = await session.run({ image: readReference(dir, index, 'image') });
    const reference = readReference(dir, index, 'dense.logits');
    expect(maxAbsDiff(out.logits!, reference)).toBeLessThan(logitTolerance(reference));
    await session.release();
  });
});

