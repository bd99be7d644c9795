// Which form runs a stage at a given computed share: measured per provider by
// `npm run bench:stages -- --write-crossover` into <bundle>/crossovers.json (docs/BUNDLE.md).
// The engine picks the form with the lowest measured time at the share (linear between the
// measured shares), so the choice is never slower than the best measured form there.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { AdpcError } from '../errors.js';

export const CROSSOVERS_FILE = 'crossovers.json';

/** The graph a stage runs as: dense-masked, plain (CA off), sparse head, or the native executor. */
export const STAGE_FORMS = ['masked', 'plain', 'sparse', 'native'] as const;
export type StageForm = (typeof STAGE_FORMS)[number];

const FormTimes = z.strictObject({
  /** Computed shares measured, descending, the first being 1. */
  shares: z.array(z.number().min(0).max(1)).min(1),
  /** Median milliseconds per form at each share (null where a form cannot run: plain below 1). */
  ms: z.partialRecord(z.enum(STAGE_FORMS), z.array(z.number().nonnegative().nullable())),
});

const ProviderTimes = z.strictObject({
  measured_at: z.string(),
  machine: z.string(),
  threads: z.number().int().nonnegative(),
  native_isa: z.string().nullable(),
  stages: z.record(z.string().regex(/^[1-4]$/), FormTimes),
});

const CrossoversFile = z.strictObject({
  version: z.literal(1),
  providers: z.record(z.string(), ProviderTimes),
});

export type Crossovers = z.infer<typeof CrossoversFile>;
export type ProviderCrossovers = z.infer<typeof ProviderTimes>;

/** The measured times for `provider`, or null when the bundle has none for it. */
export async function readCrossovers(dir: string, provider: string): Promise<ProviderCrossovers | null> {
  const path = join(dir, CROSSOVERS_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return null;
  }
  const parsed = CrossoversFile.safeParse((() => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  })());
  if (!parsed.success) throw new AdpcError('BUNDLE_INVALID', `${path}: not a valid crossovers file; re-measure it with npm run bench:stages -- --write-crossover`);
  return parsed.data.providers[provider] ?? null;
}

/** Records one provider's measurements, keeping the others'. */
export async function writeCrossovers(dir: string, provider: string, times: ProviderCrossovers): Promise<void> {
  const path = join(dir, CROSSOVERS_FILE);
  let file: Crossovers = { version: 1, providers: {} };
  try {
    const parsed = CrossoversFile.safeParse(JSON.parse(await readFile(path, 'utf8')));
    if (parsed.success) file = parsed.data;
  } catch {
    // no file yet, or an unreadable one that this measurement replaces
  }
  file.providers[provider] = times;
  await writeFile(path, JSON.stringify(file, null, 1) + '\n');
}

/** Measured (or, absent a measurement, assumed) milliseconds of a form at `share`. */
function predicted(times: z.infer<typeof FormTimes> | undefined, form: StageForm, share: number): number | null {
  const ms = times?.ms[form];
  if (!times || !ms) return null;
  const { shares } = times;
  for (let i = 0; i < shares.length; i++) {
    if (share >= shares[i]!) {
      const hi = ms[i - 1];
      const lo = ms[i];
      if (lo == null) return null;
      if (i === 0 || hi == null) return lo;
      const t = (share - shares[i]!) / (shares[i - 1]! - shares[i]!);
      return lo + t * (hi - lo);
    }
  }
  return ms[shares.length - 1] ?? null;
}

/** Below this share the sparse head beats dense-masked when nothing was measured (issue 3's figure). */
const SPARSE_DEFAULT_BELOW = 0.5;

/**
 * The form for stage k at `share` among those `available` (plain only when every position
 * is computed, which makes it exact).
 */
export function chooseForm(times: ProviderCrossovers | null, k: number, share: number, available: readonly StageForm[]): StageForm {
  const candidates = available.filter((f) => f !== 'plain' || share >= 1);
  if (candidates.length === 0) throw new RangeError(`stage ${k}: no form can run at share ${share}`);
  const stageTimes = times?.stages[String(k)];
  let best: StageForm | null = null;
  let bestMs = Infinity;
  for (const form of candidates) {
    const ms = predicted(stageTimes, form, share);
    if (ms !== null && ms < bestMs) {
      best = form;
      bestMs = ms;
    }
  }
  if (best) return best;
  // nothing measured: plain when everything is computed, else the native executor, else
  // the sparse head at low shares, else dense-masked
  if (candidates.includes('plain')) return 'plain';
  if (candidates.includes('native')) return 'native';
  if (candidates.includes('sparse') && share < SPARSE_DEFAULT_BELOW) return 'sparse';
  return candidates.includes('masked') ? 'masked' : candidates[0]!;
}
