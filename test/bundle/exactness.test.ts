// The exported graphs, run by onnxruntime-node, reproduce the PyTorch outputs saved at export.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { equalShare, maxAbsDiff, readReference, readReferenceIndex, type ReferenceIndex } from '../helpers/reference.js';
import { runPython } from '../helpers/python.js';

interface TensorSpec { name: string; dtype: string; shape: number[] }
interface StageSpec { index: number; file: string; inputs: TensorSpec[]; outputs: TensorSpec[] }

function exportTinyBundle(dir: string, threshold: number): void {
  runPython(['-c', [
    'import torch',
    'from pathlib import Path',
    'from models.adpc.export import export_bundle',
    'from models.adpc.network import build_model',
    'torch.manual_seed(0)',
    'net = build_model("tiny").eval()',
    'with torch.no_grad():',
    '    for m in net.modules():',
    '        if isinstance(m, torch.nn.BatchNorm2d):',
    '            m.running_mean.normal_(0, 0.1); m.running_var.uniform_(0.5, 2.0); m.weight.normal_(1, 0.5)',
    // pick a threshold that splits exit 1's pixels so CA really skips part of the map
    'x = torch.randn(1, 3, 64, 128)',
    `t = ${threshold} if ${threshold} > 0 else float(torch.softmax(net(x, max_exit=1).logits[0], 1).max(1)[0].median())`,
    `export_bundle(net, Path(${JSON.stringify(dir)}), 64, 128, t, "tiny", sample=x)`,
  ].join('\n')]);
}

describe('tiny bundle: onnxruntime-node vs PyTorch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'adpc-bundle-'));
  let index: ReferenceIndex;
  let stages: StageSpec[];

  beforeAll(() => {
    exportTinyBundle(dir, 0);
    index = readReferenceIndex(dir);
    stages = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).stages as StageSpec[];
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every stage with the reference inputs and matches its outputs', async () => {
    expect(stages.map((s) => s.index)).toEqual([1, 2, 3, 4]);
    for (const stage of stages) {
      const session = await ort.InferenceSession.create(join(dir, stage.file));
      const feeds: Record<string, ort.Tensor> = {};
      for (const input of stage.inputs) {
        const source = stage.index === 1 ? 'image'
          : input.name === 'threshold' ? 'threshold'
          : `stage${stage.index - 1}.${input.name.replace('_in', '')}`;
        feeds[input.name] = readReference(dir, index, source);
      }
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

  it('really skips: stage 2 computes part of the 1/4-resolution map', () => {
    const computed = readReference(dir, index, 'stage2.computed').data as BigInt64Array;
    const total = 16 * 32;
    expect(Number(computed[0])).toBeGreaterThan(0);
    expect(Number(computed[0])).toBeLessThan(total);
  });

  it('dense baseline graph matches PyTorch', async () => {
    const session = await ort.InferenceSession.create(join(dir, 'dense.onnx'));
    const out = await session.run({ image: readReference(dir, index, 'image') });
    expect(maxAbsDiff(out.logits!, readReference(dir, index, 'dense.logits'))).toBeLessThan(1e-4);
    await session.release();
  });
});

