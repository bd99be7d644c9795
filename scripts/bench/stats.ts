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
