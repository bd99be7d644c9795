import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../server/stream/token-bucket.js';

describe('TokenBucket', () => {
  it('lets one second of frames through at once, then the rate', () => {
    const bucket = new TokenBucket(2, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, false]);
    expect(bucket.take(400)).toBe(false);
    expect(bucket.take(500)).toBe(true);
    expect(bucket.take(10_000)).toBe(true);
    expect(bucket.take(10_000)).toBe(true);
    expect(bucket.take(10_000)).toBe(false); // never more than one second's worth saved up
  });

  it('below one frame per second still holds one frame', () => {
    const bucket = new TokenBucket(0.5, 0);
    expect(bucket.take(0)).toBe(true);
    expect(bucket.take(1000)).toBe(false);
    expect(bucket.take(2000)).toBe(true);
  });

  it('a rate of 0 is no limit', () => {
    const bucket = new TokenBucket(0, 0);
    for (let i = 0; i < 100; i++) expect(bucket.take(0)).toBe(true);
  });
});
