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
  /** A plan whose focus covers more of the frame than this is not worth making. */
  readonly maxShare: number;
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

/** The plan, or null where its focus would cover more than settings.maxShare. */
export function planRegions(changed: Uint8Array, grid: BlockGrid, settings: PlanSettings): RegionPlan | null {
  const blocks = (px: number) => Math.ceil(Math.max(0, px) / BLOCK);
  const focus = dilateBlocks(changed, grid, blocks(settings.margin));
  let count = 0;
  for (const b of focus) count += b;
  const share = count / focus.length;
  // a moving camera ends here on every frame (planning took it 0.22 ms a frame when the labels'
  // blocks and clusters came first and dilation went block by block; 0.09 ms now, measured busy)
  if (share > settings.maxShare) return null;
  const replaced = dilateBlocks(changed, grid, Math.min(blocks(settings.labelMargin), blocks(settings.margin)));
  return { focus, replaced, share, regions: clusterBoxes(changed, grid) };
}

/** Marks every block within `r` blocks (Chebyshev distance) of a marked one: along rows, then columns. */
export function dilateBlocks(marked: Uint8Array, grid: BlockGrid, r: number): Uint8Array {
  const { rows, cols } = grid;
  const wide = new Uint8Array(marked.length);
  const out = new Uint8Array(marked.length);
  // each pass keeps a running count of the marked ones in [i - r, i + r] along its line
  for (let y = 0; y < rows; y++) {
    const row = y * cols;
    let inWindow = 0;
    for (let x = 0; x < Math.min(r, cols); x++) inWindow += marked[row + x]!;
    for (let x = 0; x < cols; x++) {
      if (x + r < cols) inWindow += marked[row + x + r]!;
      if (x - r - 1 >= 0) inWindow -= marked[row + x - r - 1]!;
      wide[row + x] = inWindow > 0 ? 1 : 0;
    }
  }
  for (let x = 0; x < cols; x++) {
    let inWindow = 0;
    for (let y = 0; y < Math.min(r, rows); y++) inWindow += wide[y * cols + x]!;
    for (let y = 0; y < rows; y++) {
      if (y + r < rows) inWindow += wide[(y + r) * cols + x]!;
      if (y - r - 1 >= 0) inWindow -= wide[(y - r - 1) * cols + x]!;
      out[y * cols + x] = inWindow > 0 ? 1 : 0;
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
