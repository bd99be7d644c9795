// The bounds a frame must keep before anything decodes it: pixels, longest side, and a raw
// frame's byte count. Kept apart from decoding so that the stream codec, which browser clients
// bundle, checks raw frames without reaching sharp or the native addon.

import { AdpcError } from '../errors.js';

export const DEFAULT_MAX_PIXELS = 40_000_000;
/** Longest side: decode time follows the side too (libvips took 6 s for a 1x40,000,000 PNG). */
export const DEFAULT_MAX_SIDE = 16_384;

export interface FrameBounds {
  readonly maxPixels: number;
  readonly maxSide: number;
}

export function checkSize(width: number, height: number, bounds: FrameBounds): void {
  if (width * height > bounds.maxPixels) {
    throw new AdpcError('IMAGE_TOO_LARGE', `the frame is ${width}x${height}: more than ${bounds.maxPixels} pixels`);
  }
  if (Math.max(width, height) > bounds.maxSide) {
    throw new AdpcError('IMAGE_TOO_LARGE', `the frame is ${width}x${height}: a side is longer than ${bounds.maxSide} pixels`);
  }
}

/** Checks a raw frame's size against its bytes and the bounds (the stream checks it on arrival). */
export function checkRawFrame(bytes: number, width: number, height: number, channels: 3 | 4, bounds: FrameBounds): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new AdpcError('IMAGE_RAW_SIZE', `a raw frame needs a positive integer width and height, got ${width}x${height}`);
  }
  checkSize(width, height, bounds);
  if (bytes !== width * height * channels) {
    throw new AdpcError('IMAGE_RAW_SIZE', `a raw ${width}x${height} frame with ${channels} channels has ${width * height * channels} bytes, got ${bytes}`);
  }
}
