import { describe, expect, it } from 'vitest';
import { BLOCK, blockGrid } from '../../src/reuse/change-detector.js';
import { cutPlanes, pasteBox, scaleBox } from '../../src/reuse/crop-io.js';
import { CROP_GRID, boxArea, planRegions } from '../../src/reuse/region-planner.js';

const grid = blockGrid(256, 512);
const settings = { margin: 32, areaCost: 1.2, cropOverhead: 0.01, maxRegions: 16, maxCost: 1.5 };

function mask(blocks: [number, number][]): Uint8Array {
  const m = new Uint8Array(grid.rows * grid.cols);
  for (const [bx, by] of blocks) m[by * grid.cols + bx] = 1;
  return m;
}

describe('region planner', () => {
  it('plans nothing for no change', () => {
    expect(planRegions(mask([]), grid, settings)).toEqual({ regions: [], cost: 0, cropShare: 0 });
  });

  it('gives one block a centre of that block and a crop with the margin, snapped to the 32 px grid', () => {
    const plan = planRegions(mask([[10, 10]]), grid, settings)!;
    expect(plan.regions).toHaveLength(1);
    const { centre, crop } = plan.regions[0]!;
    expect(centre).toEqual({ x0: 10 * BLOCK, y0: 10 * BLOCK, x1: 11 * BLOCK, y1: 11 * BLOCK });
    expect(crop.x0).toBeLessThanOrEqual(centre.x0 - 32);
    expect(crop.x1).toBeGreaterThanOrEqual(centre.x1 + 32);
    for (const v of Object.values(crop)) expect(v % CROP_GRID).toBe(0);
    expect(plan.cost).toBeCloseTo((1.2 * boxArea(crop)) / (256 * 512) + 0.01, 10);
  });

  it('clips crops at the frame border (padded there as the full frame is)', () => {
    const { crop } = planRegions(mask([[0, 0]]), grid, settings)!.regions[0]!;
    expect(crop).toEqual({ x0: 0, y0: 0, x1: 64, y1: 64 });
  });

  it('keeps far clusters apart and merges near ones', () => {
    expect(planRegions(mask([[2, 2], [50, 25]]), grid, settings)!.regions).toHaveLength(2);
    const near = planRegions(mask([[20, 10], [23, 10]]), grid, settings)!;
    expect(near.regions).toHaveLength(1);
    expect(near.regions[0]!.centre).toEqual({ x0: 20 * BLOCK, y0: 10 * BLOCK, x1: 24 * BLOCK, y1: 11 * BLOCK });
  });

  it('gives no plan where the crops would cost more than maxCost', () => {
    const oneBlock = mask([[10, 10]]);
    const plan = planRegions(oneBlock, grid, settings)!;
    expect(planRegions(oneBlock, grid, { ...settings, maxCost: plan.cost - 1e-9 })).toBeNull();
    const everywhere = mask(Array.from({ length: 16 }, (_, i) => [i * 4, (i % 4) * 8] as [number, number]));
    expect(planRegions(everywhere, grid, { ...settings, maxCost: 0.5 })).toBeNull();
  });

  it('merges down to maxRegions', () => {
    const scattered = mask(Array.from({ length: 6 }, (_, i) => [i * 10 + 2, (i % 2) * 25 + 2] as [number, number]));
    expect(planRegions(scattered, grid, settings)!.regions).toHaveLength(6);
    const plan = planRegions(scattered, grid, { ...settings, maxRegions: 3 })!;
    expect(plan.regions).toHaveLength(3);
    // every changed block stays inside some centre
    for (let i = 0; i < scattered.length; i++) {
      if (!scattered[i]) continue;
      const x = (i % grid.cols) * BLOCK;
      const y = Math.floor(i / grid.cols) * BLOCK;
      expect(plan.regions.some((r) => x >= r.centre.x0 && x < r.centre.x1 && y >= r.centre.y0 && y < r.centre.y1)).toBe(true);
    }
  });
});

describe('crop cut and paste', () => {
  it('cuts a box of each plane', () => {
    const data = Float32Array.from({ length: 2 * 4 * 6 }, (_, i) => i);
    const out = cutPlanes(data, 2, 4, 6, { x0: 2, y0: 1, x1: 5, y1: 3 });
    expect([...out]).toEqual([8, 9, 10, 14, 15, 16, 32, 33, 34, 38, 39, 40]);
  });

  it('pastes a box of a crop back where the crop came from', () => {
    const dst = new Uint8Array(6 * 4);
    const src = Uint8Array.from({ length: 3 * 3 }, (_, i) => i + 1); // a 3x3 crop whose origin is (2, 1)
    pasteBox(dst, 6, src, 3, 2, 1, { x0: 3, y0: 1, x1: 5, y1: 3 });
    expect([...dst]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 0, 0, 0, 0, 5, 6, 0, 0, 0, 0, 0, 0, 0]);
    expect(scaleBox({ x0: 16, y0: 8, x1: 32, y1: 24 }, 4)).toEqual({ x0: 4, y0: 2, x1: 8, y1: 6 });
  });
});
