// Block maps (one byte per BLOCK x BLOCK pixels) against maps at other resolutions: the
// engine's focus at its output stride, and composing a frame's maps from two sources.

import { BLOCK, type BlockGrid } from './change-detector.js';

/** A block map at `scale` pixels a position (a divisor of BLOCK): 1 where its block is marked. */
export function expandBlocks(blocks: Uint8Array, grid: BlockGrid, scale: number): Uint8Array {
  const per = BLOCK / scale;
  const width = grid.cols * per;
  const out = new Uint8Array(grid.rows * per * width);
  forEachRun(blocks, grid, (by, bx0, bx1) => {
    for (let y = by * per; y < (by + 1) * per; y++) out.fill(1, y * width + bx0 * per, y * width + bx1 * per);
  });
  return out;
}

/** `base` with the marked blocks taken from `fresh`: maps at `scale` pixels a position. */
export function pasteBlocks<T extends Uint8Array | Float32Array>(base: T, fresh: T, blocks: Uint8Array, grid: BlockGrid, scale: number): T {
  const per = BLOCK / scale;
  const width = grid.cols * per;
  if (base.length !== grid.rows * per * width || fresh.length !== base.length) throw new RangeError(`maps of ${base.length} and ${fresh.length} positions for a ${grid.rows * per}x${width} grid`);
  const out = base.slice() as T;
  // element by element: a run's row is a few positions, and a subarray per row (an object
  // each) made a regions frame's nine pastes cost 0.5-0.8 ms
  forEachRun(blocks, grid, (by, bx0, bx1) => {
    for (let y = by * per; y < (by + 1) * per; y++) {
      for (let i = y * width + bx0 * per, end = y * width + bx1 * per; i < end; i++) out[i] = fresh[i]!;
    }
  });
  return out;
}

/** Calls `run(by, bx0, bx1)` for each maximal run [bx0, bx1) of marked blocks along a block row. */
function forEachRun(blocks: Uint8Array, grid: BlockGrid, run: (by: number, bx0: number, bx1: number) => void): void {
  for (let by = 0; by < grid.rows; by++) {
    const row = by * grid.cols;
    for (let bx = 0; bx < grid.cols; bx++) {
      if (!blocks[row + bx]) continue;
      const start = bx;
      while (bx + 1 < grid.cols && blocks[row + bx + 1]) bx++;
      run(by, start, bx + 1);
    }
  }
}
