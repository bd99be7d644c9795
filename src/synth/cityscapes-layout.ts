// Writes samples in the Cityscapes on-disk layout, which the Python loader reads:
// leftImg8bit/<split>/<city>/<name>_leftImg8bit.png and gtFine/.../<name>_gtFine_labelTrainIds.png

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { colorizeLabels } from '../classes.js';
import type { SynthSample } from './generate.js';

export const CITY = 'synth';

export type Split = 'train' | 'val' | 'test';

/** Seeds of a split are its base plus the image index, so the test split never moves. */
export const SPLIT_SEED_BASE: Readonly<Record<Split, number>> = Object.freeze({
  train: 0,
  val: 1_000_000,
  test: 2_000_000,
});

export function sampleName(sequence: number, frame: number): string {
  return `${CITY}_${String(sequence).padStart(6, '0')}_${String(frame).padStart(6, '0')}`;
}

export interface WrittenPaths {
  image: string;
  label: string;
  color?: string;
}

export async function writeSample(root: string, split: Split, name: string, sample: SynthSample,
  withColor: boolean): Promise<WrittenPaths> {
  const imageDir = join(root, 'leftImg8bit', split, CITY);
  const labelDir = join(root, 'gtFine', split, CITY);
  await mkdir(imageDir, { recursive: true });
  await mkdir(labelDir, { recursive: true });
  const { width, height } = sample;
  const paths: WrittenPaths = {
    image: join(imageDir, `${name}_leftImg8bit.png`),
    label: join(labelDir, `${name}_gtFine_labelTrainIds.png`),
  };
  const jobs = [
    sharp(sample.image, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 6 }).toFile(paths.image),
    // b-w keeps one 8-bit channel: sharp would otherwise write the ids as RGB
    sharp(sample.label, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png({ compressionLevel: 9 }).toFile(paths.label),
  ];
  if (withColor) {
    paths.color = join(labelDir, `${name}_gtFine_color.png`);
    jobs.push(sharp(colorizeLabels(sample.label), { raw: { width, height, channels: 3 } }).png().toFile(paths.color));
  }
  await Promise.all(jobs);
  return paths;
}
