// The tensor names of the stage contract (docs/BUNDLE.md): what a stage graph returns and how
// those outputs feed the next stage. Written once here for the engine, the benchmarks and tests.

/** Stage k > 1's feature inputs are stage k-1's feature outputs: feat{i} -> feat_in{i}. */
export function featureInputName(outputName: string): string {
  if (!isFeatureOutput(outputName)) throw new RangeError(`${outputName} is not a feature output`);
  return outputName.replace(/^feat/, 'feat_in');
}

export function isFeatureOutput(name: string): boolean {
  return /^feat\d+$/.test(name);
}

/**
 * The next stage's inputs from a stage's outputs: features renamed, the merged logits as
 * `logits_in`, plus the threshold tensor. Works for any tensor type the caller uses.
 */
export function nextStageInputs<T>(outputs: Readonly<Record<string, T>>, threshold: T): Record<string, T> {
  const feeds: Record<string, T> = { logits_in: outputs.logits!, threshold };
  for (const [name, value] of Object.entries(outputs)) if (isFeatureOutput(name)) feeds[featureInputName(name)] = value;
  return feeds;
}

/** The feature outputs of a stage, in branch order (feat0, feat1, ...). */
export function featureOutputs<T>(outputs: Readonly<Record<string, T>>): T[] {
  return Object.keys(outputs).filter(isFeatureOutput).sort((a, b) => Number(a.slice(4)) - Number(b.slice(4))).map((n) => outputs[n]!);
}
