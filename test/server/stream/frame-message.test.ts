import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FRAME_HEADER_BYTES, decodeExitMessage, encodeExitMessage, encodeFrameMessage, parseFrameMessage,
} from '../../../server/stream/frame-message.js';

const limits = { maxPixels: 10_000, maxSide: 1000 };
const jpegish = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);

describe('frame messages', () => {
  it('round-trips encoded and raw frames with budgets', () => {
    const encoded = parseFrameMessage(encodeFrameMessage({ frameId: 7, format: 'encoded', budget: { max_exit: 2, deadline_ms: 40 }, image: jpegish }), limits);
    expect(encoded).toEqual({ ok: true, frame: { frameId: 7, format: 'encoded', width: 0, height: 0, budget: { max_exit: 2, deadline_ms: 40 }, image: jpegish } });
    const rgb = new Uint8Array(4 * 3 * 3).fill(9);
    const raw = parseFrameMessage(encodeFrameMessage({ frameId: 2 ** 32 - 1, format: 'rgb', width: 4, height: 3, image: rgb }), limits);
    expect(raw.ok && raw.frame.frameId).toBe(2 ** 32 - 1);
    expect(raw.ok && raw.frame.budget).toEqual({});
  });

  it('names each problem with a code, and the frame id once the header got that far', () => {
    const good = encodeFrameMessage({ frameId: 5, format: 'encoded', image: jpegish });
    const cases: [Uint8Array, string, number | null][] = [
      [good.slice(0, 10), 'BAD_HEADER', null],
      [Uint8Array.from([...good.slice(0, 3), 0x58, ...good.slice(4)]), 'BAD_HEADER', null],
      [Uint8Array.from([...good.slice(0, 4), 9, ...good.slice(5)]), 'BAD_HEADER', 5],
      [Uint8Array.from([...good.slice(0, 5), 7, ...good.slice(6)]), 'IMAGE_UNSUPPORTED', 5],
      [good.slice(0, FRAME_HEADER_BYTES), 'IMAGE_EMPTY', 5],
      [encodeFrameMessage({ frameId: 6, format: 'rgb', width: 4, height: 4, image: new Uint8Array(10) }), 'IMAGE_RAW_SIZE', 6],
      [encodeFrameMessage({ frameId: 7, format: 'rgb', width: 0, height: 4, image: new Uint8Array(12) }), 'IMAGE_RAW_SIZE', 7],
      [encodeFrameMessage({ frameId: 8, format: 'rgba', width: 200, height: 200, image: new Uint8Array(200 * 200 * 4) }), 'IMAGE_TOO_LARGE', 8],
      [encodeFrameMessage({ frameId: 10, format: 'rgb', width: 1001, height: 1, image: new Uint8Array(1001 * 3) }), 'IMAGE_TOO_LARGE', 10],
      [encodeFrameMessage({ frameId: 9, format: 'encoded', budget: { max_exit: 9 }, image: jpegish }), 'BUDGET_INVALID', 9],
    ];
    for (const [bytes, code, frameId] of cases) {
      const result = parseFrameMessage(bytes, limits);
      expect(result.ok).toBe(false);
      if (!result.ok) expect([result.error.code, result.error.frameId]).toEqual([code, frameId]);
    }
    const badJson = encodeFrameMessage({ frameId: 3, format: 'encoded', budget: { threshold: 0.5 }, image: jpegish });
    badJson[FRAME_HEADER_BYTES] = 0x7b + 1; // corrupt the JSON's first byte
    expect(parseFrameMessage(badJson, limits)).toMatchObject({ ok: false, error: { code: 'BUDGET_INVALID', frameId: 3 } });
  });

  it('never throws on random or truncated bytes (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const result = parseFrameMessage(bytes, limits);
      return result.ok || typeof result.error.code === 'string';
    }), { numRuns: 2000 });
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(),
      (frameId, image, cut) => {
        const full = encodeFrameMessage({ frameId, format: 'encoded', budget: { threshold: 0.9 }, image });
        const truncated = full.slice(0, cut % (full.length + 1));
        const result = parseFrameMessage(truncated, limits);
        if (truncated.length === full.length) return result.ok && result.frame.frameId === frameId;
        return !result.ok || result.frame.frameId === frameId;
      }), { numRuns: 2000 });
  });
});

describe('exit messages', () => {
  it('carry JSON metadata then the label and confidence bytes', () => {
    const labels = Uint8Array.from([1, 2, 3]);
    const confidence = Uint8Array.from([200, 255]);
    const message = encodeExitMessage({ type: 'exit', frame_id: 4, exit: 2 }, labels, confidence);
    const { metadata, payload } = decodeExitMessage(message);
    expect(metadata).toEqual({ type: 'exit', frame_id: 4, exit: 2 });
    expect(Array.from(payload)).toEqual([1, 2, 3, 200, 255]);
    expect(() => decodeExitMessage(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))).toThrow(/exit message/);
  });
});
