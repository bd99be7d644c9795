import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { CITYSCAPES_PALETTE, paletteOf } from '../../src/classes.js';
import { encodeLabelPng, overlayPng, resizeLabels } from '../../src/output/label-map.js';

const map = { labels: Uint8Array.from([0, 1, 2, 10]), width: 2, height: 2 };

describe('label maps', () => {
  it('resizes by nearest neighbour', () => {
    const up = resizeLabels(map, 4, 4);
    expect(Array.from(up.labels)).toEqual([0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 10, 10, 2, 2, 10, 10]);
    expect(resizeLabels(map, 2, 2)).toBe(map);
    expect(Array.from(resizeLabels(up, 2, 2).labels)).toEqual([0, 1, 2, 10]);
  });

  it('encodes grayscale ids and palette PNGs that decode back', async () => {
    const gray = await sharp(await encodeLabelPng(map)).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    expect(gray.info.channels).toBe(1);
    expect(Array.from(gray.data)).toEqual([0, 1, 2, 10]);
    const palette = await sharp(await encodeLabelPng(map, 'palette')).raw().toBuffer();
    expect(Array.from(palette.subarray(0, 3))).toEqual([128, 64, 128]);
    expect(Array.from(palette.subarray(9, 12))).toEqual([70, 130, 180]);
    // a bundle's own classes colour its maps
    const own = paletteOf([{ id: 0, color: [1, 2, 3] }, { id: 10, color: [4, 5, 6] }]);
    const custom = await sharp(await encodeLabelPng(map, 'palette', own)).raw().toBuffer();
    expect(Array.from(custom)).toEqual([1, 2, 3, 0, 0, 0, 0, 0, 0, 4, 5, 6]);
  });

  it('overlays class colours on the frame at the frame size', async () => {
    const frame = await sharp(Buffer.alloc(8 * 6 * 3, 0), { raw: { width: 8, height: 6, channels: 3 } }).png().toBuffer();
    const out = await sharp(await overlayPng(frame, map, CITYSCAPES_PALETTE, 0.5)).raw().toBuffer({ resolveWithObject: true });
    expect([out.info.width, out.info.height]).toEqual([8, 6]);
    expect(Array.from(out.data.subarray(0, 3))).toEqual([64, 32, 64]);
  });
});
