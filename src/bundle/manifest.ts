// The bundle contract written by models/adpc/bundle.py (docs/BUNDLE.md): manifest.json read
// and validated. Every object is strict: a field this engine does not know is an error, not
// something silently dropped, and docs/bundle.schema.json is generated from these schemas.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { AdpcError } from '../errors.js';

export const BUNDLE_FORMAT = 'adpc-bundle';
export const BUNDLE_VERSION = 2;

const TensorSpec = z.strictObject({
  name: z.string().min(1),
  dtype: z.enum(['float32', 'uint8', 'int64']),
  shape: z.array(z.number().int().nonnegative()),
});

const Resolution = z.tuple([z.number().int().positive(), z.number().int().positive()]);

const Stage = z.strictObject({
  index: z.number().int().min(1).max(4),
  /** The dense-masked graph: ADP-C's reference form. */
  file: z.string().min(1),
  inputs: z.array(TensorSpec).min(1),
  outputs: z.array(TensorSpec).min(1),
  dense_gflops: z.number().nonnegative(),
  gflops_by_resolution: z.record(z.string(), z.number().nonnegative()),
  /** Output sizes of the stage's masked convs, largest first: the order of `computed`. */
  masked_resolutions: z.array(Resolution),
  masked_conv_gflops: z.array(z.strictObject({ gflops: z.number().nonnegative(), fill_channels: z.number().int().nonnegative() })),
  unmasked_gflops: z.number().nonnegative(),
  /** CA off (every position computed): plain convolutions, no masking work. */
  plain_file: z.string().min(1).optional(),
  /** Stage 4 with its final head run only at the computed positions. */
  sparse_file: z.string().min(1).optional(),
});

const ExitScore = z.strictObject({
  exit: z.number().int().min(1).max(4),
  miou: z.number(),
  miou_label_map: z.number(),
  gflops: z.number(),
  computed_share: z.number(),
  class_iou: z.array(z.number().nullable()),
});

const EvaluationRun = z.strictObject({
  threshold: z.number().nullable(),
  exits: z.array(ExitScore),
  seconds: z.number(),
});

/** What models/adpc/evaluate.py measured before the export. */
const Evaluation = z.strictObject({
  checkpoint: z.string(),
  arch: z.string(),
  split: z.string(),
  images: z.number().int(),
  height: z.number().int(),
  width: z.number().int(),
  dense_gflops: z.number(),
  exit_gflops_dense: z.array(z.number()),
  ca_off: EvaluationRun,
  ca: z.array(EvaluationRun),
});

export const ManifestSchema = z.strictObject({
  format: z.literal(BUNDLE_FORMAT),
  version: z.literal(BUNDLE_VERSION),
  name: z.string().min(1),
  arch: z.string().min(1),
  /** Where the weights came from: a project checkpoint (with its training config), an official one, or random weights (tests, timing). */
  source: z.strictObject({
    kind: z.enum(['checkpoint', 'official', 'random']),
    path: z.string(),
    config: z.record(z.string(), z.unknown()).optional(),
  }),
  input: z.strictObject({
    height: z.number().int().positive(),
    width: z.number().int().positive(),
    channels: z.literal(3),
    layout: z.literal('NCHW'),
    color: z.literal('RGB'),
    scale: z.number().positive(),
    mean: z.array(z.number()).length(3),
    std: z.array(z.number().positive()).length(3),
  }),
  output: z.strictObject({ height: z.number().int().positive(), width: z.number().int().positive(), stride: z.number().int().positive() }),
  classes: z.array(z.strictObject({
    id: z.number().int().min(0).max(254),
    name: z.string(),
    color: z.tuple([z.number().int().min(0).max(255), z.number().int().min(0).max(255), z.number().int().min(0).max(255)]),
  })).min(1),
  threshold: z.number().gt(0).max(1),
  flops_convention: z.string(),
  dense_gflops: z.number().nonnegative(),
  stages: z.array(Stage).length(4),
  /** The plain HRNet without exits: what a user would otherwise run. */
  baseline: z.strictObject({ file: z.string(), gflops: z.number().nonnegative(), inputs: z.array(TensorSpec), outputs: z.array(TensorSpec) }),
  /** Labels at the input size from merged logits upsampled bilinearly (any stage's `logits` in). */
  full_labels: z.strictObject({ file: z.string().min(1), inputs: z.array(TensorSpec).length(1), outputs: z.array(TensorSpec).length(1) }),
  /** The shared weights file every graph's external data and the native programs point into. */
  weights: z.string().min(1),
  /** Layer programs of the masked stages for the native executor (native.json). */
  native: z.strictObject({ program: z.string().min(1), stages: z.array(z.number().int().min(1).max(4)) }).optional(),
  /** PyTorch inputs and outputs for the exactness tests. */
  reference: z.string().optional(),
  evaluation: Evaluation.nullable(),
});

export type BundleManifest = z.infer<typeof ManifestSchema>;
export type StageManifest = z.infer<typeof Stage>;
export type TensorSpec = z.infer<typeof TensorSpec>;
export type BundleEvaluation = z.infer<typeof Evaluation>;

/** JSON Schema of manifest.json (docs/bundle.schema.json is this, checked in tests). */
export function manifestJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(ManifestSchema, { target: 'draft-2020-12' }) as Record<string, unknown>;
}

export async function readManifest(dir: string): Promise<BundleManifest> {
  const path = join(dir, 'manifest.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new AdpcError('BUNDLE_NOT_FOUND', `${path}: cannot read the bundle manifest`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new AdpcError('BUNDLE_INVALID', `${path}: not valid JSON (${(cause as Error).message})`, { cause });
  }
  const head = z.object({ format: z.string(), version: z.number() }).safeParse(json);
  if (head.success && head.data.format === BUNDLE_FORMAT && head.data.version !== BUNDLE_VERSION) {
    throw new AdpcError('BUNDLE_VERSION',
      `${path}: bundle format version ${head.data.version}; this engine reads version ${BUNDLE_VERSION} (re-export it with npm run export)`);
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new AdpcError('BUNDLE_INVALID', `${path}: ${problems.join('; ')}`);
  }
  const manifest = parsed.data;
  manifest.stages.forEach((stage, i) => {
    if (stage.index !== i + 1) {
      throw new AdpcError('BUNDLE_INVALID', `${path}: stages must be listed in order 1..4, found ${stage.index} at ${i}`);
    }
    if (stage.masked_resolutions.length !== stage.masked_conv_gflops.length) {
      throw new AdpcError('BUNDLE_INVALID', `${path}: stage ${stage.index} lists ${stage.masked_resolutions.length} masked resolutions but ${stage.masked_conv_gflops.length} cost entries`);
    }
  });
  return manifest;
}
