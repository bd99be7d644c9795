// Block maps (one byte per BLOCK x BLOCK pixels) against maps at other resolutions: the
// engine's focus at its output stride, and composing a frame's maps from two sources.

import { BLOCK, type BlockGrid } from './change-detector.js';

/** A block map at `scale` pixels a position (a divisor of BLOCK): 1 where its block is marked. */
export function expandBlocks(blocks: Uint8Array, grid: BlockGrid, scale: number): Uint8Array {
  const per = BLOCK / scale;
  const width = grid.cols * per;
  const out = new Uint8Array(grid.rows * per * width);
  for (let by = 0; by < grid.rows; by++) {
    for (let bx = 0; bx < grid.cols; bx++) {
      if (!blocks[by * grid.cols + bx]) continue;
      for (let y = by * per; y < (by + 1) * per; y++) out.fill(1, y * width + bx * per, y * width + (bx + 1) * per);
    }
  }
  return out;
}

/** `base` with the marked blocks taken from `fresh`: maps at `scale` pixels a position. */
export function pasteBlocks<T extends Uint8Array | Float32Array>(base: T, fresh: T, blocks: Uint8Array, grid: BlockGrid, scale: number): T {
  const per = BLOCK / scale;
  const width = grid.cols * per;
  if (base.length !== grid.rows * per * width || fresh.length !== base.length) throw new RangeError(`maps of ${base.length} and ${fresh.length} positions for a ${grid.rows * per}x${width} grid`);
  const out = base.slice() as T;
  for (let by = 0; by < grid.rows; by++) {
    for (let bx = 0; bx < grid.cols; bx++) {
      if (!blocks[by * grid.cols + bx]) continue;
      for (let y = by * per; y < (by + 1) * per; y++) {
        const from = y * width + bx * per;
        out.set(fresh.subarray(from, from + per), from);
      }
    }
  }
  return out;
}
