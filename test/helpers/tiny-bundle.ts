// Exports a tiny random-weight bundle (64x128 input) with PyTorch references, for tests.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPython } from './python.js';

/**
 * BN statistics are randomised so exits disagree and confidences spread; the threshold is
 * exit 1's median confidence on the sample, so CA really skips about half the map. The
 * weights are the same at every size (a crop's bundle reproduces the crop).
 */
export function exportTinyBundle(height = 64, width = 128): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'adpc-tiny-')), 'tiny');
  runPython(['-c', [
    'import torch',
    'from pathlib import Path',
    'from models.adpc.bundle import export_bundle',
    'from models.adpc.network import build_model, max_softmax',
    'torch.manual_seed(0)',
    'net = build_model("tiny").eval()',
    'with torch.no_grad():',
    '    for m in net.modules():',
    '        if isinstance(m, torch.nn.BatchNorm2d):',
    '            m.running_mean.normal_(0, 0.1); m.running_var.uniform_(0.5, 2.0); m.weight.normal_(1, 0.5)',
    `    x = torch.randn(1, 3, ${height}, ${width})`,
    '    t = float(max_softmax(net(x, max_exit=1).logits[0]).median())',
    `export_bundle(net, Path(${JSON.stringify(dir)}), ${height}, ${width}, t, "tiny", sample=x)`,
  ].join('\n')]);
  return dir;
}
