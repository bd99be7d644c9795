import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateScene } from '../src/synth/generate.js';
import { repoRoot } from './helpers/python.js';
import { exportTinyBundle } from './helpers/tiny-bundle.js';

const run = promisify(execFile);
let bundle: string;
let work: string;

async function adpc(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run('node', [join(repoRoot, 'bin', 'adpc.mjs'), ...args], { cwd: repoRoot });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

beforeAll(async () => {
  bundle = exportTinyBundle();
  work = dirname(bundle);
  const scene = generateScene(2_000_000, { height: 96, width: 160 });
  writeFileSync(join(work, 'scene.jpg'), await sharp(scene.image, { raw: { width: 160, height: 96, channels: 3 } }).jpeg().toBuffer());
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('adpc CLI', () => {
  it('segment writes the label map at the image size and reports each exit', async () => {
    const out = join(work, 'mask.png');
    const overlay = join(work, 'overlay.png');
    const r = await adpc('segment', join(work, 'scene.jpg'), '--bundle', bundle, '--threads', '1', '--max-exit', '3', '--out', out, '--overlay', overlay, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.exits.map((e: { exit: number }) => e.exit)).toEqual([1, 2, 3]);
    expect(report.exits[2].stop).toBe('max_exit');
    const mask = await sharp(readFileSync(out)).metadata();
    expect([mask.width, mask.height, mask.channels]).toEqual([160, 96, 1]);
    expect((await sharp(readFileSync(overlay)).metadata()).width).toBe(160);
  });

  it('info describes the bundle', async () => {
    const r = await adpc('info', bundle);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.arch).toBe('tiny');
    expect(info.classes).toHaveLength(19);
  });

  it('eval prints per-exit scores for CA on and off', async () => {
    const r = await adpc('eval', '--bundle', bundle, '--count', '2', '--threads', '1', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.images).toBe(2);
    expect(report.exits).toHaveLength(4);
    expect(report.ca_off.exits.map((e: { computed_share: number }) => e.computed_share)).toEqual([1, 1, 1, 1]);
    for (const e of report.exits) expect(e).toEqual(expect.objectContaining({ miou: expect.any(Number), miou_label_map: expect.any(Number) }));
  });

  it('fails with one clear line for bad input', async () => {
    const missing = await adpc('segment', join(work, 'nope.jpg'), '--bundle', bundle);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^adpc: cannot read .*nope\.jpg: ENOENT/m);
    const budget = await adpc('segment', join(work, 'scene.jpg'), '--bundle', bundle, '--threshold', '2');
    expect(budget.stderr).toMatch(/BUDGET_INVALID/);
    const noBundle = await adpc('info', join(work, 'no-bundle'));
    expect(noBundle.stderr).toMatch(/BUNDLE_NOT_FOUND: .*manifest\.json/);
  });
});
