// The GFLOPs formula and mIoU live in Python (models/adpc) and in TypeScript (src/engine,
// src/eval) on purpose: training reports one, the engine the other. They must agree.
import { describe, expect, it } from 'vitest';
import type { StageManifest } from '../../src/bundle/manifest.js';
import { stageGflops } from '../../src/engine/gflops.js';
import { Confusion } from '../../src/eval/segmentation-metrics.js';
import { runPython } from '../helpers/python.js';

const PY = `
import json, torch
from models.adpc.flops import conv_costs, counted_gflops, segment_gflops, GIGA
from models.adpc.bundle import masked_resolutions, stage_entry
from models.adpc.evaluate import confusion, mean_iou
from models.adpc.network import build_model
torch.manual_seed(3)
net = build_model("w18s1")
costs = conv_costs(net, 128, 256)
masks = [(torch.rand(1, 1, 32, 64) < p).float() for p in (0.7, 0.45, 0.2)]
counted = counted_gflops(costs, masks)
stages = []
for k in (2, 3, 4):
    res = masked_resolutions(costs, k)
    entry = stage_entry(k, "x", [], [], [], [], costs, res)
    m = masks[k - 2]
    shares = [float(torch.nn.functional.interpolate(m, size=r, mode="nearest").mean()) for r in res]
    stages.append({"entry": entry, "shares": shares})
truth = torch.randint(0, 19, (4096,), dtype=torch.uint8)
truth[::7] = 255
pred = torch.randint(0, 19, (4096,), dtype=torch.uint8)
print(json.dumps({"counted": counted, "stage1": segment_gflops(costs, 1), "stages": stages,
                  "truth": truth.tolist(), "pred": pred.tolist(), "miou": mean_iou(confusion(pred, truth))}))
`;

describe('Python and TypeScript agree', () => {
  const py = JSON.parse(runPython(['-c', PY])) as {
    counted: number[]; stage1: number; stages: { entry: StageManifest; shares: number[] }[];
    truth: number[]; pred: number[]; miou: number;
  };

  it('count the same GFLOPs from the same masks', () => {
    let total = py.stage1;
    py.stages.forEach(({ entry, shares }, i) => {
      total += stageGflops(entry, shares);
      // the manifest rounds each stage's figures to 6 decimals
      expect(total).toBeCloseTo(py.counted[i + 1]!, 4);
    });
  });

  it('compute the same mIoU', () => {
    const c = new Confusion(19);
    c.add(Uint8Array.from(py.truth), Uint8Array.from(py.pred));
    expect(c.meanIou()).toBeCloseTo(py.miou, 9);
  });
});
