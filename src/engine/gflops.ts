// GFLOPs of a stage from the positions it really computed, in the ADP-C convention: a
// masked conv counts dense x share plus its 7x7 RBF fill, (1 - p) p C 49 H W / 1024^3.
// Same formula as models/adpc/flops.py, fed by the stage graph's `computed` counts.

import type { StageManifest } from '../bundle/manifest.js';

const FILL_TAPS = 49;
const GIGA = 1024 ** 3;

/** Computed share at each masked resolution, from the graph's counts. */
export function sharesFromCounts(stage: StageManifest, computed: ArrayLike<bigint | number>): number[] {
  return stage.masked_resolutions.map(([h, w], i) => Number(computed[i] ?? 0) / (h * w));
}

/**
 * GFLOPs of a stage at those shares; `part` < 1 for a stage without masks that computed that
 * share of its positions (stage 1 on a focus).
 */
export function stageGflops(stage: StageManifest, shares: readonly number[] | null, part = 1): number {
  return part * inputGflops(stage, shares);
}

function inputGflops(stage: StageManifest, shares: readonly number[] | null): number {
  if (shares === null || stage.masked_resolutions.length === 0) return stage.dense_gflops;
  let total = stage.unmasked_gflops;
  stage.masked_resolutions.forEach(([h, w], i) => {
    const p = Math.min(1, Math.max(0, shares[i] ?? 1));
    const cost = stage.masked_conv_gflops[i]!;
    total += cost.gflops * p + ((1 - p) * p * cost.fill_channels * FILL_TAPS * h * w) / GIGA;
  });
  return total;
}
