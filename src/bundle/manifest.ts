// The bundle contract written by models/adpc/export.py: manifest.json read and validated.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { AdpcError } from '../errors.js';

export const BUNDLE_FORMAT = 'adpc-bundle';
export const BUNDLE_VERSION = 1;

const TensorSpec = z.object({
  name: z.string().min(1),
  dtype: z.enum(['float32', 'uint8', 'int64']),
  shape: z.array(z.number().int().nonnegative()),
});

const Stage = z.object({
  index: z.number().int().min(1).max(4),
  file: z.string().min(1),
  inputs: z.array(TensorSpec).min(1),
  outputs: z.array(TensorSpec).min(1),
  dense_gflops: z.number().nonnegative(),
  gflops_by_resolution: z.record(z.string(), z.number().nonnegative()),
  masked_resolutions: z.array(z.tuple([z.number().int().positive(), z.number().int().positive()])),
  masked_conv_gflops: z.array(z.object({ gflops: z.number().nonnegative(), fill_channels: z.number().int().nonnegative() })),
  unmasked_gflops: z.number().nonnegative(),
  /** CA off (threshold >= 1): the same stage with plain convolutions, no masking work. */
  plain_file: z.string().min(1).optional(),
  /** A form whose cost follows the computed positions, exact against the dense-masked one. */
  sparse_file: z.string().min(1).optional(),
  /** Computed share below which the sparse form is faster (measured by bench:stages). */
  sparse_crossover: z.number().min(0).max(1).optional(),
});

const Manifest = z.object({
  format: z.literal(BUNDLE_FORMAT),
  version: z.number().int(),
  name: z.string().min(1),
  arch: z.string().min(1),
  input: z.object({
    height: z.number().int().positive(),
    width: z.number().int().positive(),
    channels: z.literal(3),
    layout: z.literal('NCHW'),
    color: z.literal('RGB'),
    scale: z.number().positive(),
    mean: z.array(z.number()).length(3),
    std: z.array(z.number().positive()).length(3),
  }),
  output: z.object({ height: z.number().int().positive(), width: z.number().int().positive(), stride: z.number().int().positive() }),
  classes: z.array(z.object({ id: z.number().int().min(0).max(254), name: z.string(), color: z.array(z.number().int().min(0).max(255)).length(3) })).min(1),
  threshold: z.number().gt(0).max(1),
  dense_gflops: z.number().nonnegative(),
  stages: z.array(Stage).length(4),
  baseline: z.object({ file: z.string(), gflops: z.number().nonnegative() }),
  evaluation: z.unknown().optional(),
});

export type BundleManifest = z.infer<typeof Manifest>;
export type StageManifest = z.infer<typeof Stage>;
export type TensorSpec = z.infer<typeof TensorSpec>;

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
      `${path}: bundle format version ${head.data.version}; this engine reads version ${BUNDLE_VERSION}`);
  }
  const parsed = Manifest.safeParse(json);
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
