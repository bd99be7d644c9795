import { describe, expect, it } from 'vitest';
import { expandBlocks, pasteBlocks } from '../../src/reuse/block-maps.js';
import { BLOCK, blockGrid } from '../../src/reuse/change-detector.js';
import { dilateBlocks, planRegions } from '../../src/reuse/region-planner.js';

const grid = blockGrid(256, 512);
const settings = { margin: 24, labelMargin: 8, maxShare: 1 };

function mask(blocks: [number, number][], g = grid): Uint8Array {
  const m = new Uint8Array(g.rows * g.cols);
  for (const [bx, by] of blocks) m[by * g.cols + bx] = 1;
  return m;
}
const count = (m: Uint8Array) => m.reduce((a, b) => a + b, 0);

describe('region planner', () => {
  it('plans nothing for no change', () => {
    const plan = planRegions(mask([]), grid, settings)!;
    expect(plan.regions).toEqual([]);
    expect(plan.share).toBe(0);
    expect(count(plan.focus) + count(plan.replaced)).toBe(0);
  });

  it('recomputes a block with the margin around it and replaces its labels with the label margin, clipped at the border', () => {
    const plan = planRegions(mask([[10, 10]]), grid, settings)!;
    expect(plan.regions).toEqual([{ x0: 10 * BLOCK, y0: 10 * BLOCK, x1: 11 * BLOCK, y1: 11 * BLOCK }]);
    expect(plan.focus).toEqual(dilateBlocks(mask([[10, 10]]), grid, 3));
    expect(count(plan.focus)).toBe(49);
    expect(plan.share).toBe(49 / (grid.rows * grid.cols));
    expect(count(plan.replaced)).toBe(9);
    expect(plan.replaced[9 * grid.cols + 9]).toBe(1);
    const corner = planRegions(mask([[0, 0]]), grid, { margin: 20, labelMargin: 0, maxShare: 1 })!;
    expect(count(corner.focus)).toBe(16); // 20 px round up to 3 blocks, clipped at the corner
    expect(count(corner.replaced)).toBe(1);
  });

  it('never replaces labels beyond what it recomputed', () => {
    const plan = planRegions(mask([[10, 10]]), grid, { margin: 8, labelMargin: 32, maxShare: 1 })!;
    expect(plan.replaced).toEqual(plan.focus);
  });

  it('gives no plan whose focus covers more than maxShare', () => {
    const share = 49 / (grid.rows * grid.cols);
    expect(planRegions(mask([[10, 10]]), grid, { ...settings, maxShare: share })).not.toBeNull();
    expect(planRegions(mask([[10, 10]]), grid, { ...settings, maxShare: share - 1e-9 })).toBeNull();
  });

  it('dilates as every block within r of a marked one, at every r and on random maps', () => {
    let seed = 7;
    for (const r of [0, 1, 2, 3, 5]) {
      for (let trial = 0; trial < 5; trial++) {
        const m = new Uint8Array(grid.rows * grid.cols);
        for (let i = 0; i < m.length; i++) {
          seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
          m[i] = seed / 2 ** 32 < 0.02 * (trial + 1) ? 1 : 0;
        }
        const want = new Uint8Array(m.length);
        for (let y = 0; y < grid.rows; y++) {
          for (let x = 0; x < grid.cols; x++) {
            for (let dy = -r; dy <= r; dy++) {
              for (let dx = -r; dx <= r; dx++) {
                const yy = y + dy, xx = x + dx;
                if (yy >= 0 && yy < grid.rows && xx >= 0 && xx < grid.cols && m[yy * grid.cols + xx]) want[y * grid.cols + x] = 1;
              }
            }
          }
        }
        expect(dilateBlocks(m, grid, r), `r ${r}, trial ${trial}`).toEqual(want);
      }
    }
  });

  it('names one box per 8-connected cluster of changed blocks', () => {
    expect(planRegions(mask([[2, 2], [50, 25]]), grid, settings)!.regions).toHaveLength(2);
    const touching = planRegions(mask([[20, 10], [21, 11], [22, 10]]), grid, settings)!;
    expect(touching.regions).toEqual([{ x0: 20 * BLOCK, y0: 10 * BLOCK, x1: 23 * BLOCK, y1: 12 * BLOCK }]);
  });
});

describe('block maps', () => {
  const small = blockGrid(16, 24); // 2 x 3 blocks
  it('expands a block map to positions at a stride', () => {
    const out = expandBlocks(mask([[1, 0]], small), small, 4);
    // 4 x 6 positions, block (1, 0) = positions x 2-3, y 0-1
    expect([...out]).toEqual([0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('pastes the marked blocks of one map into a copy of another', () => {
    const base = new Uint8Array(4 * 6).fill(1);
    const fresh = Uint8Array.from({ length: 4 * 6 }, (_, i) => 10 + i);
    const out = pasteBlocks(base, fresh, mask([[2, 1]], small), small, 4);
    expect([...out]).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 26, 27, 1, 1, 1, 1, 32, 33]);
    expect([...base]).toEqual(new Array(24).fill(1));
    expect(() => pasteBlocks(base, fresh.subarray(1), mask([], small), small, 4)).toThrow(RangeError);
  });

  it('agree with a position-by-position reading on random block maps (runs of blocks, rows ending marked)', () => {
    const g = blockGrid(48, 64); // 6 x 8 blocks
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 40; trial++) {
      const density = trial / 40;
      const blocks = Uint8Array.from({ length: g.rows * g.cols }, () => (random() < density ? 1 : 0));
      for (const scale of [1, 4, 8]) {
        const per = BLOCK / scale;
        const width = g.cols * per;
        const n = g.rows * per * width;
        const marked = (i: number) => blocks[Math.floor(Math.floor(i / width) / per) * g.cols + Math.floor((i % width) / per)]!;
        const base = Float32Array.from({ length: n }, (_, i) => -i);
        const fresh = Float32Array.from({ length: n }, (_, i) => i + 0.5);
        expect([...expandBlocks(blocks, g, scale)], `trial ${trial}, scale ${scale}`).toEqual(Array.from({ length: n }, (_, i) => marked(i)));
        expect([...pasteBlocks(base, fresh, blocks, g, scale)], `trial ${trial}, scale ${scale}`).toEqual(Array.from({ length: n }, (_, i) => (marked(i) ? fresh[i] : base[i])));
      }
    }
  });
});
