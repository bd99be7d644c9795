import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { SPLIT_SEED_BASE, sampleName, writeSample } from '../../src/synth/cityscapes-layout.js';
import { generateScene } from '../../src/synth/generate.js';
import { repoRoot } from '../helpers/python.js';

const dir = mkdtempSync(join(tmpdir(), 'adpc-synth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Cityscapes layout', () => {
  it('writes images and trainId labels that read back exactly', async () => {
    const sample = generateScene(5, { height: 32, width: 64 });
    const paths = await writeSample({ root: dir, split: 'val', name: sampleName(0, 5), color: true }, sample);
    expect(paths.image).toMatch(/leftImg8bit\/val\/synth\/synth_000000_000005_leftImg8bit\.png$/);
    expect(paths.label).toMatch(/gtFine\/val\/synth\/synth_000000_000005_gtFine_labelTrainIds\.png$/);
    // sharp reads grayscale back as sRGB unless asked for one channel
    const label = await sharp(paths.label).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    expect(label.info.channels).toBe(1);
    expect(Buffer.from(sample.label).equals(label.data)).toBe(true);
    const image = await sharp(paths.image).raw().toBuffer();
    expect(Buffer.from(sample.image).equals(image)).toBe(true);
  });

  it('fixes the test split seeds', () => {
    expect(SPLIT_SEED_BASE).toEqual({ train: 0, val: 1_000_000, test: 2_000_000 });
  });

  it('the synth command writes the layout and rejects bad options', () => {
    const out = join(dir, 'cli');
    execFileSync('npx', ['tsx', 'scripts/synth.ts', '--out', out, '--count', '2', '--split', 'test',
      '--height', '32', '--width', '64'], { cwd: repoRoot, stdio: 'pipe' });
    expect(readdirSync(join(out, 'leftImg8bit', 'test', 'synth')).sort()).toEqual([
      'synth_000000_000000_leftImg8bit.png', 'synth_000001_000000_leftImg8bit.png']);
    expect(() => execFileSync('npx', ['tsx', 'scripts/synth.ts', '--out', out, '--count', '0', '--split', 'test'],
      { cwd: repoRoot, stdio: 'pipe' })).toThrow(/count/);
  });

  it('the synth command writes clips one folder each, with their metadata', () => {
    const out = join(dir, 'clips');
    execFileSync('npx', ['tsx', 'scripts/synth.ts', '--out', out, '--count', '2', '--split', 'val',
      '--sequence', 'static', '--frames', '3', '--height', '32', '--width', '64'], { cwd: repoRoot, stdio: 'pipe' });
    expect(readdirSync(join(out, 'leftImg8bit', 'val')).sort()).toEqual(['static_000000', 'static_000001']);
    expect(readdirSync(join(out, 'leftImg8bit', 'val', 'static_000001')).sort()).toEqual([
      'static_000001_000000_leftImg8bit.png', 'static_000001_000001_leftImg8bit.png', 'static_000001_000002_leftImg8bit.png']);
    expect(readdirSync(join(out, 'gtFine', 'val', 'static_000000')).sort()).toEqual([
      'static_000000_000000_gtFine_labelTrainIds.png', 'static_000000_000001_gtFine_labelTrainIds.png',
      'static_000000_000002_gtFine_labelTrainIds.png', 'static_000000_sequence.json']);
    const meta = JSON.parse(readFileSync(join(out, 'gtFine', 'val', 'static_000001', 'static_000001_sequence.json'), 'utf8'));
    expect(meta).toMatchObject({ kind: 'static', seed: SPLIT_SEED_BASE.val + 1, height: 32, width: 64, fps: 10 });
    expect(meta.frames.map((f: { index: number }) => f.index)).toEqual([0, 1, 2]);
    expect(meta.actors.length).toBeGreaterThan(0);
  });

  it('the synth command measures clips with --stats and writes nothing', () => {
    const printed = execFileSync('npx', ['tsx', 'scripts/synth.ts', '--count', '1', '--split', 'test',
      '--sequence', 'moving', '--frames', '4', '--height', '32', '--width', '64', '--stats'], { cwd: repoRoot, stdio: 'pipe' });
    const figures = JSON.parse(printed.toString());
    expect(figures).toMatchObject({ kind: 'moving', sequences: 1, frames: 4 });
    expect(figures.ms_per_frame).toBeGreaterThan(0);
    expect(figures.perSequence[0].events['camera-motion']).toEqual([1, 2, 3]);
    expect(() => execFileSync('npx', ['tsx', 'scripts/synth.ts', '--out', dir, '--count', '1', '--frames', '3'],
      { cwd: repoRoot, stdio: 'pipe' })).toThrow(/--frames and --stats need --sequence/);
  });
});
