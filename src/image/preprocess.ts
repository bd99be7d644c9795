// Frame bytes -> the bundle's input tensor: decode (sharp), resize, normalise to NCHW float32.
//
// Resize policy: the frame is stretched to the bundle's input size (no crop, no padding),
// so every frame pixel is seen and a label at output (x, y) maps back to frame pixels by
// plain scaling; labels are returned at output stride or scaled to the frame by nearest.

import sharp from 'sharp';
import { AdpcError } from '../errors.js';

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
  readonly frameWidth: number;
  readonly frameHeight: number;
}

export const DEFAULT_MAX_PIXELS = 40_000_000;
const ENCODED_FORMATS = new Set(['jpeg', 'png', 'webp']);

async function rgbAtInputSize(frame: FrameInput, spec: InputSpec, maxPixels: number): Promise<{ rgb: Buffer; width: number; height: number }> {
  if (frame.bytes.length === 0) throw new AdpcError('IMAGE_EMPTY', 'the frame has no bytes');
  if (frame.kind === 'raw') {
    const { width, height, channels } = frame;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new AdpcError('IMAGE_RAW_SIZE', `raw frame needs positive integer width and height, got ${width}x${height}`);
    }
    if (width * height > maxPixels) {
      throw new AdpcError('IMAGE_TOO_LARGE', `frame ${width}x${height} has more than ${maxPixels} pixels`);
    }
    if (frame.bytes.length !== width * height * channels) {
      throw new AdpcError('IMAGE_RAW_SIZE',
        `raw frame ${width}x${height}x${channels} needs ${width * height * channels} bytes, got ${frame.bytes.length}`);
    }
    const rgb = await sharp(frame.bytes, { raw: { width, height, channels } })
      .removeAlpha().resize(spec.width, spec.height, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
    return { rgb, width, height };
  }
  let meta: sharp.Metadata;
  try {
    meta = await sharp(frame.bytes, { limitInputPixels: false }).metadata();
  } catch (cause) {
    throw new AdpcError('IMAGE_UNSUPPORTED', `cannot read the image header: ${(cause as Error).message}`, { cause });
  }
  if (!meta.format || !ENCODED_FORMATS.has(meta.format)) {
    throw new AdpcError('IMAGE_UNSUPPORTED', `image format ${meta.format ?? 'unknown'} is not JPEG, PNG or WebP`);
  }
  const width = meta.autoOrient?.width ?? meta.width ?? 0;
  const height = meta.autoOrient?.height ?? meta.height ?? 0;
  if (width * height > maxPixels) {
    throw new AdpcError('IMAGE_TOO_LARGE', `image ${width}x${height} has more than ${maxPixels} pixels`);
  }
  try {
    const rgb = await sharp(frame.bytes, { failOn: 'truncated', limitInputPixels: maxPixels })
      .rotate().removeAlpha().toColourspace('srgb')
      .resize(spec.width, spec.height, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
    return { rgb, width, height };
  } catch (cause) {
    throw new AdpcError('IMAGE_CORRUPT', `cannot decode the ${meta.format} image: ${(cause as Error).message}`, { cause });
  }
}

/** Decodes and normalises one frame into `buffer` (allocated when absent or the wrong size). */
export async function prepareFrame(frame: FrameInput, spec: InputSpec,
  options: { maxPixels?: number; buffer?: Float32Array } = {}): Promise<PreparedFrame> {
  const { rgb, width, height } = await rgbAtInputSize(frame, spec, options.maxPixels ?? DEFAULT_MAX_PIXELS);
  const plane = spec.width * spec.height;
  const data = options.buffer?.length === 3 * plane ? options.buffer : new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const scale = spec.scale / spec.std[c]!;
    const shift = spec.mean[c]! / spec.std[c]!;
    const offset = c * plane;
    for (let i = 0; i < plane; i++) data[offset + i] = rgb[i * 3 + c]! * scale - shift;
  }
  return { data, frameWidth: width, frameHeight: height };
}
