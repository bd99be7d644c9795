// Changed blocks -> what a frame recomputes: every stage runs on the changed blocks and a
// margin of blocks around them (the focus), whose outer part is context; the labels are
// replaced on the changed blocks and a smaller margin. The report names the bounding boxes of
// the changed clusters.

import { BLOCK, type BlockGrid } from './change-detector.js';

/** Half-open pixel box at the engine's input size. */
export interface Box {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

export interface PlanSettings {
  /** Pixels around the changed blocks that every stage recomputes (whole blocks, rounded up). */
  readonly margin: number;
  /** Pixels around the changed blocks whose labels are replaced (whole blocks, rounded up; at most `margin`). */
  readonly labelMargin: number;
}

export interface RegionPlan {
  /** 1 for each block (row-major) the frame recomputes. */
  readonly focus: Uint8Array;
  /** 1 for each block whose labels the frame replaces. */
  readonly replaced: Uint8Array;
  /** Share of the frame's blocks in the focus. */
  readonly share: number;
  /** Bounding boxes of the 8-connected clusters of changed blocks. */
  readonly regions: readonly Box[];
}

export function planRegions(changed: Uint8Array, grid: BlockGrid, settings: PlanSettings): RegionPlan {
  const blocks = (px: number) => Math.ceil(Math.max(0, px) / BLOCK);
  const focus = dilateBlocks(changed, grid, blocks(settings.margin));
  const replaced = dilateBlocks(changed, grid, Math.min(blocks(settings.labelMargin), blocks(settings.margin)));
  let count = 0;
  for (const b of focus) count += b;
  return { focus, replaced, share: count / focus.length, regions: clusterBoxes(changed, grid) };
}

/** Marks every block within `r` blocks (Chebyshev distance) of a marked one. */
export function dilateBlocks(marked: Uint8Array, grid: BlockGrid, r: number): Uint8Array {
  const { rows, cols } = grid;
  const out = new Uint8Array(marked.length);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cols; x++) {
      if (!marked[y * cols + x]) continue;
      for (let yy = Math.max(0, y - r); yy <= Math.min(rows - 1, y + r); yy++) out.fill(1, yy * cols + Math.max(0, x - r), yy * cols + Math.min(cols, x + r + 1));
    }
  }
  return out;
}

/** Bounding boxes (pixels) of the 8-connected clusters of marked blocks. */
function clusterBoxes(marked: Uint8Array, grid: BlockGrid): Box[] {
  const { rows, cols } = grid;
  const seen = new Uint8Array(rows * cols);
  const boxes: Box[] = [];
  const stack: number[] = [];
  for (let start = 0; start < rows * cols; start++) {
    if (!marked[start] || seen[start]) continue;
    let x0 = cols, y0 = rows, x1 = 0, y1 = 0;
    seen[start] = 1;
    stack.push(start);
    while (stack.length > 0) {
      const i = stack.pop()!;
      const y = Math.floor(i / cols);
      const x = i % cols;
      x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x + 1); y1 = Math.max(y1, y + 1);
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy < 0 || yy >= rows || xx < 0 || xx >= cols) continue;
          const j = yy * cols + xx;
          if (marked[j] && !seen[j]) {
            seen[j] = 1;
            stack.push(j);
          }
        }
      }
    }
    boxes.push({ x0: x0 * BLOCK, y0: y0 * BLOCK, x1: x1 * BLOCK, y1: y1 * BLOCK });
  }
  return boxes;
}
