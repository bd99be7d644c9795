import { describe, expect, it } from 'vitest';
import { nativeCellLuma } from '../../src/native/native-executor.js';
import { BLOCK, blockGrid, cellLuma, changedBlocks } from '../../src/reuse/change-detector.js';
import { Prng } from '../../src/synth/prng.js';

const grid = blockGrid(64, 128);
const settings = { threshold: 8, minCells: 2 };

function image(fill: (x: number, y: number) => number): Uint8Array {
  const rgb = new Uint8Array(grid.width * grid.height * 3);
  for (let y = 0; y < grid.height; y++) for (let x = 0; x < grid.width; x++) rgb.fill(fill(x, y), (y * grid.width + x) * 3, (y * grid.width + x) * 3 + 3);
  return rgb;
}

describe('change detection', () => {
  it('averages 4x4 cells of (R+G+B)/3', () => {
    const rgb = image((x) => (x < 4 ? 30 : 90));
    rgb[0] = 30 + 48; // one channel of one pixel: +48/3/16 = +1 on the first cell
    const cells = cellLuma(rgb, grid);
    expect(cells.length).toBe((64 / 4) * (128 / 4));
    expect(cells[0]).toBeCloseTo(31, 5);
    expect(cells[1]).toBeCloseTo(90, 5);
  });

  it('equals the plain per-pixel mean on random bytes, all-255 and an unaligned view', () => {
    const rng = new Prng(3);
    const naive = (rgb: Uint8Array) => {
      const cw = grid.width / 4;
      const out = new Float64Array((grid.height / 4) * cw);
      for (let y = 0; y < grid.height; y++) {
        for (let i = 0; i < grid.width * 3; i++) out[(y >> 2) * cw + Math.floor(i / 12)]! += rgb[y * grid.width * 3 + i]! / 48;
      }
      return out;
    };
    const random = image(() => 0).map(() => Math.floor(rng.float() * 256));
    const white = image(() => 255);
    const backing = new Uint8Array(random.length + 1);
    backing.set(random, 1);
    const unaligned = backing.subarray(1);
    for (const rgb of [random, white, unaligned]) {
      const got = cellLuma(rgb, grid);
      const want = naive(rgb);
      for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 3);
    }
  });

  it.runIf(nativeCellLuma() !== null)('gives the same float32 values in the addon as in JS, and the addon refuses inconsistent sizes', () => {
    const native = nativeCellLuma()!;
    const rng = new Prng(11);
    for (const g of [grid, blockGrid(256, 512), blockGrid(8, 8)]) {
      const rgb = Uint8Array.from({ length: g.width * g.height * 3 }, () => Math.floor(rng.float() * 256));
      expect(cellLuma(rgb, g, native)).toEqual(cellLuma(rgb, g, null));
      expect(cellLuma(new Uint8Array(rgb.length).fill(255), g, native)).toEqual(cellLuma(new Uint8Array(rgb.length).fill(255), g, null));
    }
    const out = new Float32Array(2);
    expect(() => native(new Uint8Array(8 * 4 * 3), 8, 4, 4, out)).not.toThrow();
    expect(() => native(new Uint8Array(8 * 4 * 3 - 1), 8, 4, 4, out)).toThrow(/bytes/);
    expect(() => native(new Uint8Array(8 * 4 * 3), 8, 4, 4, new Float32Array(3))).toThrow(/value per cell/);
    expect(() => native(new Uint8Array(6 * 4 * 3), 6, 4, 4, out)).toThrow(/multiples/);
    expect(() => native(new Uint8Array(8 * 4 * 3), 8, 4, 0, out)).toThrow(/multiples/);
  });

  it('refuses sizes that are not whole blocks, and images of the wrong length', () => {
    expect(() => blockGrid(60, 128)).toThrow(/multiples/);
    expect(() => cellLuma(new Uint8Array(10), grid)).toThrow(/bytes/);
  });

  it('sees no change in fresh sensor noise at the generator strongest (+-9 per pixel)', () => {
    const rng = new Prng(7);
    const base = image((x, y) => 60 + ((x * 7 + y * 3) % 120));
    const noisy = () => base.map((v) => Math.max(0, Math.min(255, Math.round(v + (rng.float() - 0.5) * 18))));
    const changed = changedBlocks(cellLuma(noisy(), grid), cellLuma(noisy(), grid), grid, settings);
    expect(changed.reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('marks the blocks a moved square covers, and only those', () => {
    const square = (x0: number) => image((x, y) => (x >= x0 && x < x0 + 12 && y >= 20 && y < 32 ? 200 : 50));
    const changed = changedBlocks(cellLuma(square(34), grid), cellLuma(square(10), grid), grid, settings);
    const marked = [...changed.keys()].filter((i) => changed[i]).map((i) => [i % grid.cols, Math.floor(i / grid.cols)]);
    // old square x 10-21, new x 34-45, rows 20-31: block columns 1-2 and 4-5 of row 2-3 (8 px blocks)
    for (const [bx, by] of marked) {
      const x0 = bx! * BLOCK;
      const y0 = by! * BLOCK;
      expect((x0 < 22 && x0 + BLOCK > 10) || (x0 < 46 && x0 + BLOCK > 34)).toBe(true);
      expect(y0 < 32 && y0 + BLOCK > 20).toBe(true);
    }
    expect(marked.length).toBeGreaterThanOrEqual(4);
  });

  it('needs minCells changed cells in a block', () => {
    const before = image(() => 50);
    const after = image((x, y) => (x < 4 && y < 4 ? 200 : 50)); // exactly one cell
    expect(changedBlocks(cellLuma(after, grid), cellLuma(before, grid), grid, settings)[0]).toBe(0);
    expect(changedBlocks(cellLuma(after, grid), cellLuma(before, grid), grid, { threshold: 8, minCells: 1 })[0]).toBe(1);
  });
});
