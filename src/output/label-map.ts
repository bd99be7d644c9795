// Label maps out of the engine: scaled to the frame (nearest), encoded as PNG (class ids
// as grayscale, or palette colours), or blended over the frame as an overlay.

import sharp from 'sharp';
import { colorizeLabels, type Palette } from '../classes.js';

export interface LabelMap {
  readonly labels: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** Nearest-neighbour resize: output pixel (x, y) takes the label under its centre. */
export function resizeLabels(map: LabelMap, width: number, height: number): LabelMap {
  if (map.width === width && map.height === height) return map;
  const out = new Uint8Array(width * height);
  const xs = new Uint32Array(width);
  for (let x = 0; x < width; x++) xs[x] = Math.min(map.width - 1, Math.floor(((x + 0.5) * map.width) / width));
  for (let y = 0; y < height; y++) {
    const sy = Math.min(map.height - 1, Math.floor(((y + 0.5) * map.height) / height));
    const row = sy * map.width;
    for (let x = 0; x < width; x++) out[y * width + x] = map.labels[row + xs[x]!]!;
  }
  return { labels: out, width, height };
}

/** An exit's labels at the frame's size: from its bilinear logits when the run gave them, else the 1/4 map by nearest. */
export function frameLabels(exit: LabelMap & { readonly fullLabels?: LabelMap }, width: number, height: number): LabelMap {
  return resizeLabels(exit.fullLabels ?? exit, width, height);
}

export type LabelEncoding = 'grayscale' | 'palette';

/** PNG of a label map: 8-bit grayscale class ids, or RGB colours from `palette` (default Cityscapes). */
export async function encodeLabelPng(map: LabelMap, encoding: LabelEncoding = 'grayscale', palette?: Palette): Promise<Buffer> {
  const { width, height } = map;
  if (encoding === 'palette') {
    return sharp(colorizeLabels(map.labels, palette), { raw: { width, height, channels: 3 } }).png().toBuffer();
  }
  return sharp(map.labels, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
}

/** RGB pixels with class colours blended over them (alpha 0..1), `map` scaled to their size; unknown ids stay bare. */
export function blendLabels(rgb: Uint8Array, width: number, height: number, map: LabelMap, palette: Palette, alpha = 0.5): Uint8Array {
  const labels = resizeLabels(map, width, height).labels;
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < labels.length; i++) {
    const id = labels[i]!;
    for (let c = 0; c < 3; c++) {
      const v = rgb[i * 3 + c]!;
      out[i * 3 + c] = palette.known[id] ? Math.round(v * (1 - alpha) + palette.rgb[id * 3 + c]! * alpha) : v;
    }
  }
  return out;
}

/** The frame with class colours blended over it (alpha 0..1), as PNG; unknown ids stay bare. */
export async function overlayPng(frameBytes: Uint8Array, map: LabelMap, palette: Palette, alpha = 0.5): Promise<Buffer> {
  const { data, info } = await sharp(frameBytes).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const out = blendLabels(data, info.width, info.height, map, palette, alpha);
  return sharp(out, { raw: { width: info.width, height: info.height, channels: 3 } }).png().toBuffer();
}
