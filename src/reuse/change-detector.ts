// Which parts of a frame changed since their labels were computed: the mean brightness of
// small cells against the stream's reference (the frame each cell's labels came from).
// Averaging a cell's 16 pixels puts sensor noise far below the threshold, and comparing
// with the reference rather than the previous frame lets slow changes add up until seen.

import { nativeCellLuma } from '../native/native-executor.js';

/** Pixels per cell side: the unit of comparison. */
export const CELL = 4;
/** Pixels per block side: the unit of change (4x4 cells, 4x4 label positions at stride 4). */
export const BLOCK = 8;

export interface BlockGrid {
  /** The engine's input size in pixels (multiples of BLOCK). */
  readonly height: number;
  readonly width: number;
  readonly rows: number;
  readonly cols: number;
}

export function blockGrid(height: number, width: number): BlockGrid {
  if (height % BLOCK !== 0 || width % BLOCK !== 0) throw new RangeError(`region reuse needs an input size in multiples of ${BLOCK}, got ${height}x${width}`);
  return { height, width, rows: height / BLOCK, cols: width / BLOCK };
}

/**
 * Mean luma (R+G+B)/3 of each CELLxCELL cell of an interleaved RGB image, row-major: the
 * addon's loop when it is built, the same float32 values from the JS loop otherwise. It runs
 * on every frame of a stream with reuse: 0.10 ms a 512x256 frame in the addon against 0.28 ms
 * here (a moving-camera clip's frames between engine runs, medians of 180).
 */
export function cellLuma(rgb: Uint8Array, grid: BlockGrid, native = nativeCellLuma()): Float32Array {
  const { width, height } = grid;
  if (rgb.length !== width * height * 3) throw new RangeError(`${rgb.length} bytes for a ${width}x${height} RGB image`);
  const cells = new Float32Array((height / CELL) * (width / CELL));
  if (native) {
    native(rgb, width, height, CELL, cells);
    return cells;
  }
  // a cell row of 4 pixels (CELL) is 12 bytes, three aligned words, whose bytes are summed two
  // at a time in 16-bit lanes (a cell's 48 bytes reach at most 24 x 255 per lane, so no lane
  // overflows); the sum of both lanes is the same in either byte order
  const bytes = rgb.byteOffset % 4 === 0 ? rgb : rgb.slice();
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
  const cw = width / CELL;
  const ch = height / CELL;
  const rowWords = (width * 3) >> 2;
  const scale = 1 / (3 * CELL * CELL);
  const LANES = 0x00ff00ff;
  for (let cy = 0; cy < ch; cy++) {
    for (let cx = 0; cx < cw; cx++) {
      let s = 0;
      for (let r = 0, w = cy * CELL * rowWords + cx * 3; r < CELL; r++, w += rowWords) {
        const a = words[w]!;
        const b = words[w + 1]!;
        const c = words[w + 2]!;
        s += (a & LANES) + ((a >>> 8) & LANES) + (b & LANES) + ((b >>> 8) & LANES) + (c & LANES) + ((c >>> 8) & LANES);
      }
      cells[cy * cw + cx] = ((s & 0xffff) + (s >>> 16)) * scale;
    }
  }
  return cells;
}

export interface ChangeSettings {
  /** A cell changed when its mean moved by more than this many grey levels. */
  readonly threshold: number;
  /** A block changed when at least this many of its cells did. */
  readonly minCells: number;
}

/** 1 for each block (row-major) that changed between the two cell images. */
export function changedBlocks(cells: Float32Array, reference: Float32Array, grid: BlockGrid, settings: ChangeSettings): Uint8Array {
  const per = BLOCK / CELL;
  const cw = grid.cols * per;
  const changed = new Uint8Array(grid.rows * grid.cols);
  for (let by = 0; by < grid.rows; by++) {
    for (let bx = 0; bx < grid.cols; bx++) {
      let count = 0;
      for (let y = by * per; y < (by + 1) * per; y++) {
        for (let x = bx * per; x < (bx + 1) * per; x++) {
          if (Math.abs(cells[y * cw + x]! - reference[y * cw + x]!) > settings.threshold) count++;
        }
      }
      changed[by * grid.cols + bx] = count >= settings.minCells ? 1 : 0;
    }
  }
  return changed;
}
