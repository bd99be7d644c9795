// Small statistics for the benchmarks: quantiles of timings and rounding for reports.

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);

export function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** The threshold at which `share` of the values are at or below it (float32 as the graphs compare). */
export function thresholdForShare(confidence: Float32Array, share: number): number {
  if (share >= 1) return 1;
  const sorted = Float32Array.from(confidence).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(share * sorted.length) - 1))]!;
}

/**
 * Least squares of y = a x1 + b x2 (no intercept), refitted once without the points whose
 * residual is beyond 3 median absolute residuals: the benches' stray slow frames.
 */
export function fitTwo(x1: readonly number[], x2: readonly number[], y: readonly number[]): { a: number; b: number; points: number } {
  const solve = (keep: readonly number[]) => {
    let s11 = 0, s12 = 0, s22 = 0, s1y = 0, s2y = 0;
    for (const i of keep) {
      s11 += x1[i]! * x1[i]!; s12 += x1[i]! * x2[i]!; s22 += x2[i]! * x2[i]!;
      s1y += x1[i]! * y[i]!; s2y += x2[i]! * y[i]!;
    }
    const det = s11 * s22 - s12 * s12;
    return { a: (s1y * s22 - s2y * s12) / det, b: (s2y * s11 - s1y * s12) / det };
  };
  const all = y.map((_, i) => i);
  const first = solve(all);
  const residual = (i: number) => Math.abs(y[i]! - first.a * x1[i]! - first.b * x2[i]!);
  const spread = median(all.map(residual));
  const keep = all.filter((i) => residual(i) <= 3 * spread);
  return { ...solve(keep), points: keep.length };
}
