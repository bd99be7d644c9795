import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { normalisationTables, prepareFrame, rgbPlanes, type InputSpec } from '../../src/image/preprocess.js';
import { nativeRgbPlanes } from '../../src/native/native-executor.js';

const spec: InputSpec = { height: 8, width: 16, scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

async function encoded(format: 'png' | 'jpeg' | 'webp', width = 32, height = 16, value = 128): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3, value);
  return sharp(raw, { raw: { width, height, channels: 3 } })[format]().toBuffer();
}

describe('prepareFrame', () => {
  it('decodes PNG, JPEG and WebP to normalised NCHW at the input size', async () => {
    for (const format of ['png', 'jpeg', 'webp'] as const) {
      const frame = await prepareFrame({ kind: 'encoded', bytes: await encoded(format) }, spec);
      expect(frame.data.length).toBe(3 * 8 * 16);
      expect(frame.frameWidth).toBe(32);
      expect(frame.frameHeight).toBe(16);
      // a flat grey frame: every value of channel 0 is (128/255 - 0.485) / 0.229
      expect(frame.data[0]).toBeCloseTo((128 / 255 - 0.485) / 0.229, 1);
      expect(frame.data[8 * 16 * 2 + 5]).toBeCloseTo((128 / 255 - 0.406) / 0.225, 1);
    }
  });

  it('takes raw RGB and RGBA with their size, and reuses a buffer', async () => {
    const rgb = new Uint8Array(4 * 2 * 3).fill(255);
    const buffer = new Float32Array(3 * 8 * 16);
    const frame = await prepareFrame({ kind: 'raw', bytes: rgb, width: 4, height: 2, channels: 3 }, spec, { buffer });
    expect(frame.data).toBe(buffer);
    expect(frame.data[0]).toBeCloseTo((1 - 0.485) / 0.229, 4);
    const rgba = new Uint8Array(4 * 2 * 4).fill(0);
    const f2 = await prepareFrame({ kind: 'raw', bytes: rgba, width: 4, height: 2, channels: 4 }, spec);
    expect(f2.data[0]).toBeCloseTo(-0.485 / 0.229, 4);
  });

  it('rejects empty, unsupported, corrupt, truncated and oversized input with typed errors', async () => {
    const png = await encoded('png', 64, 64, 10);
    const gif = await sharp(Buffer.alloc(16 * 16 * 3), { raw: { width: 16, height: 16, channels: 3 } }).gif().toBuffer();
    const cases: [Parameters<typeof prepareFrame>[0], string][] = [
      [{ kind: 'encoded', bytes: new Uint8Array(0) }, 'IMAGE_EMPTY'],
      [{ kind: 'encoded', bytes: new TextEncoder().encode('definitely not an image') }, 'IMAGE_UNSUPPORTED'],
      [{ kind: 'encoded', bytes: gif }, 'IMAGE_UNSUPPORTED'],
      [{ kind: 'encoded', bytes: png.subarray(0, Math.floor(png.length / 2)) }, 'IMAGE_CORRUPT'],
      [{ kind: 'raw', bytes: new Uint8Array(10), width: 4, height: 2, channels: 3 }, 'IMAGE_RAW_SIZE'],
      [{ kind: 'raw', bytes: new Uint8Array(24), width: 0, height: 2, channels: 3 }, 'IMAGE_RAW_SIZE'],
    ];
    for (const [frame, code] of cases) {
      await expect(prepareFrame(frame, spec), code).rejects.toMatchObject({ code });
    }
    await expect(prepareFrame({ kind: 'encoded', bytes: png }, spec, { maxPixels: 100 })).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
    await expect(prepareFrame({ kind: 'raw', bytes: new Uint8Array(300), width: 10, height: 10, channels: 3 }, spec, { maxPixels: 99 })).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
  });

  it('bounds each side too, before decoding, and words its messages itself', async () => {
    const thin = await sharp({ create: { width: 1, height: 300, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer();
    await expect(prepareFrame({ kind: 'encoded', bytes: thin }, spec, { maxSide: 299 })).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE', message: expect.stringMatching(/side is longer than 299/) });
    await expect(prepareFrame({ kind: 'raw', bytes: new Uint8Array(900), width: 300, height: 1, channels: 3 }, spec, { maxSide: 299 })).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
    expect((await prepareFrame({ kind: 'encoded', bytes: thin }, spec, { maxSide: 300 })).frameHeight).toBe(300);
    const png = await encoded('png', 64, 64, 10);
    for (const bytes of [new TextEncoder().encode('definitely not an image'), png.subarray(0, png.length / 2)]) {
      const error = await prepareFrame({ kind: 'encoded', bytes }, spec).catch((e: Error) => e);
      expect((error as Error).message).not.toMatch(/vips|buffer|spng|premature/i);
      expect((error as Error & { cause?: unknown }).cause).toBeInstanceOf(Error); // the decoder's words stay for the log
    }
  });

  /** rgbPlanes on an odd-sized image, against v * scale - shift computed here channel by channel. */
  function checkPlanes(native: Parameters<typeof rgbPlanes>[4]): void {
    const width = 37;
    const height = 11;
    const plane = width * height;
    const rgb = Uint8Array.from({ length: 3 * plane }, (_, i) => (i * 97 + 13) % 256);
    const out = new Float32Array(3 * plane).fill(Number.NaN);
    rgbPlanes(rgb, plane, normalisationTables({ ...spec, width, height }), out, native);
    const expected = Float32Array.from({ length: 3 * plane }, (_, j) => {
      const c = Math.floor(j / plane);
      const v = rgb[3 * (j % plane) + c]!;
      return v * (spec.scale / spec.std[c]!) - spec.mean[c]! / spec.std[c]!;
    });
    expect(out).toEqual(expected);
  }

  it('normalises interleaved bytes into planes in JS', () => checkPlanes(null));
  it.runIf(nativeRgbPlanes() !== null)('normalises interleaved bytes into planes in the addon, to the same float32 values', () => checkPlanes(nativeRgbPlanes()));
});
