// Cutting crops out of the engine's input and pasting their results back.

import type { Box } from './region-planner.js';

/** The box of a planar [C, height, width] image, as a [C, h, w] array. */
export function cutPlanes(data: Float32Array, channels: number, height: number, width: number, box: Box): Float32Array {
  const w = box.x1 - box.x0;
  const h = box.y1 - box.y0;
  const out = new Float32Array(channels * h * w);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < h; y++) {
      const from = (c * height + box.y0 + y) * width + box.x0;
      out.set(data.subarray(from, from + w), (c * h + y) * w);
    }
  }
  return out;
}

/**
 * Copies `box` of a map of width `width` from `src`, a map of width `srcWidth` that covers
 * the image from (`originX`, `originY`), into `dst`. Coordinates are in map positions.
 */
export function pasteBox<T extends Uint8Array | Float32Array>(dst: T, width: number, src: T, srcWidth: number, originX: number, originY: number, box: Box): void {
  const w = box.x1 - box.x0;
  for (let y = box.y0; y < box.y1; y++) {
    const from = (y - originY) * srcWidth + (box.x0 - originX);
    dst.set(src.subarray(from, from + w), y * width + box.x0);
  }
}

/** A pixel box at `stride` times coarser resolution (its sides are multiples of stride). */
export function scaleBox(box: Box, stride: number): Box {
  return { x0: box.x0 / stride, y0: box.y0 / stride, x1: box.x1 / stride, y1: box.y1 / stride };
}
