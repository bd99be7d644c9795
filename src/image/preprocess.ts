// Frame bytes -> the bundle's input tensor: decode (sharp), resize, normalise to NCHW float32.
//
// Resize policy: the frame is stretched to the bundle's input size (no crop, no padding),
// so every frame pixel is seen and a label at output (x, y) maps back to frame pixels by
// plain scaling; labels are returned at output stride or scaled to the frame by nearest.

import sharp from 'sharp';
import { AdpcError } from '../errors.js';
import { nativeRgbPlanes } from '../native/native-executor.js';
import { checkRawFrame, checkSize, DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, type FrameBounds } from './frame-bounds.js';

export type FrameInput =
  | { readonly kind: 'encoded'; readonly bytes: Uint8Array }
  | { readonly kind: 'raw'; readonly bytes: Uint8Array; readonly width: number; readonly height: number; readonly channels: 3 | 4 };

export interface InputSpec {
  readonly height: number;
  readonly width: number;
  readonly scale: number;
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

export interface PreparedFrame {
  /** float32[1,3,H,W], normalised; owned by the caller's buffer when one was passed. */
  readonly data: Float32Array;
  /** The same image as RGB bytes, interleaved (what change detection compares). */
  readonly rgb: Uint8Array;
  readonly frameWidth: number;
  readonly frameHeight: number;
}

const ENCODED_FORMATS = new Set(['jpeg', 'png', 'webp']);

async function rgbAtInputSize(frame: FrameInput, spec: InputSpec, bounds: FrameBounds): Promise<{ rgb: Uint8Array; width: number; height: number }> {
  if (frame.bytes.length === 0) throw new AdpcError('IMAGE_EMPTY', 'the frame has no bytes');
  if (frame.kind === 'raw') {
    const { width, height, channels } = frame;
    checkRawFrame(frame.bytes.length, width, height, channels, bounds);
    // a camera sending the model's size: nothing to resize (libvips took 2 ms a 512x256 frame for it)
    if (width === spec.width && height === spec.height && channels === 3) return { rgb: frame.bytes, width, height };
    const rgb = await sharp(frame.bytes, { raw: { width, height, channels } })
      .removeAlpha().resize(spec.width, spec.height, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
    return { rgb, width, height };
  }
  // Messages name the condition, not libvips' wording; the cause keeps the detail for logs.
  let meta: sharp.Metadata;
  try {
    meta = await sharp(frame.bytes, { limitInputPixels: false }).metadata();
  } catch (cause) {
    throw new AdpcError('IMAGE_UNSUPPORTED', 'the bytes are not a JPEG, PNG or WebP image', { cause });
  }
  if (!meta.format || !ENCODED_FORMATS.has(meta.format)) {
    throw new AdpcError('IMAGE_UNSUPPORTED', `the image is ${meta.format ?? 'of an unknown format'}, not JPEG, PNG or WebP`);
  }
  const width = meta.autoOrient?.width ?? meta.width ?? 0;
  const height = meta.autoOrient?.height ?? meta.height ?? 0;
  checkSize(width, height, bounds);
  try {
    const rgb = await sharp(frame.bytes, { failOn: 'truncated', limitInputPixels: bounds.maxPixels })
      .rotate().removeAlpha().toColourspace('srgb')
      .resize(spec.width, spec.height, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
    return { rgb, width, height };
  } catch (cause) {
    throw new AdpcError('IMAGE_CORRUPT', `the ${meta.format} image is corrupt or truncated`, { cause });
  }
}

/** Decodes and normalises one frame into `buffer` (allocated when absent or the wrong size). */
export async function prepareFrame(frame: FrameInput, spec: InputSpec,
  options: { maxPixels?: number; maxSide?: number; buffer?: Float32Array } = {}): Promise<PreparedFrame> {
  const bounds = { maxPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS, maxSide: options.maxSide ?? DEFAULT_MAX_SIDE };
  const { rgb, width, height } = await rgbAtInputSize(frame, spec, bounds);
  const plane = spec.width * spec.height;
  const data = options.buffer?.length === 3 * plane ? options.buffer : new Float32Array(3 * plane);
  rgbPlanes(rgb, plane, normalisationTables(spec), data);
  return { data, rgb, frameWidth: width, frameHeight: height };
}

/**
 * Interleaved RGB bytes -> the three normalised planes of `data`, each byte through its
 * channel's table: the same float32 values as v * scale - shift without computing them. The
 * addon's loop when it is built (0.11 ms for 512x256 against 0.7 ms here, on the event loop's
 * path to every frame's first stage), the same loop in JS otherwise.
 */
export function rgbPlanes(rgb: Uint8Array, plane: number, tables: Float32Array, data: Float32Array, native = nativeRgbPlanes()): void {
  if (native) return native(rgb.subarray(0, 3 * plane), tables, data.subarray(0, 3 * plane));
  for (let i = 0, j = 0; i < plane; i++, j += 3) {
    data[i] = tables[rgb[j]!]!;
    data[plane + i] = tables[256 + rgb[j + 1]!]!;
    data[2 * plane + i] = tables[512 + rgb[j + 2]!]!;
  }
}

const tables = new WeakMap<InputSpec, Float32Array>();

/** Per channel, the normalised value of each byte value, R then G then B (made once per spec). */
export function normalisationTables(spec: InputSpec): Float32Array {
  let made = tables.get(spec);
  if (!made) {
    made = new Float32Array(768);
    for (let c = 0; c < 3; c++) {
      const scale = spec.scale / spec.std[c]!;
      const shift = spec.mean[c]! / spec.std[c]!;
      for (let v = 0; v < 256; v++) made[256 * c + v] = v * scale - shift;
    }
    tables.set(spec, made);
  }
  return made;
}
