import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
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
    const paths = await writeSample(dir, 'val', sampleName(0, 5), sample, true);
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
});
