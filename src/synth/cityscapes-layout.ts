// Writes samples in the Cityscapes on-disk layout, which the Python loader reads:
// leftImg8bit/<split>/<folder>/<name>_leftImg8bit.png and gtFine/.../<name>_gtFine_labelTrainIds.png.
// Single scenes share the folder `synth`; each clip gets a folder of its own, named like the
// prefix of its frames (`static_000003/static_000003_000042_*`), with its metadata beside the labels.

import { mkdir, writeFile } from 'node:fs/promises';
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

const pad = (n: number) => String(n).padStart(6, '0');

/** `<city>_<sequence>_<frame>`, Cityscapes' naming. */
export function sampleName(sequence: number, frame: number, city = CITY): string {
  return `${city}_${pad(sequence)}_${pad(frame)}`;
}

/** The folder of one clip: `<kind>_<sequence>`. */
export function sequenceFolder(kind: string, sequence: number): string {
  return `${kind}_${pad(sequence)}`;
}

export interface WrittenPaths {
  image: string;
  label: string;
  color?: string;
}

export interface SampleTarget {
  root: string;
  split: Split;
  /** Folder under the split (Cityscapes' city): CITY unless given. */
  folder?: string;
  name: string;
  /** Also write a `_gtFine_color.png` palette image. */
  color?: boolean;
}

export async function writeSample(target: SampleTarget, sample: SynthSample): Promise<WrittenPaths> {
  const { root, split, name } = target;
  const folder = target.folder ?? CITY;
  const imageDir = join(root, 'leftImg8bit', split, folder);
  const labelDir = join(root, 'gtFine', split, folder);
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
  if (target.color) {
    paths.color = join(labelDir, `${name}_gtFine_color.png`);
    jobs.push(sharp(colorizeLabels(sample.label), { raw: { width, height, channels: 3 } }).png().toFile(paths.color));
  }
  await Promise.all(jobs);
  return paths;
}

/** A clip's metadata as `gtFine/<split>/<folder>/<folder>_sequence.json`; returns the path. */
export async function writeSequenceMeta(root: string, split: Split, folder: string, meta: unknown): Promise<string> {
  const dir = join(root, 'gtFine', split, folder);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${folder}_sequence.json`);
  await writeFile(path, `${JSON.stringify(meta)}\n`);
  return path;
}
