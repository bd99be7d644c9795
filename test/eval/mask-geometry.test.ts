import { describe, expect, it } from 'vitest';
import { maskGeometry, meanGeometry } from '../../src/eval/mask-geometry.js';

function map(height: number, width: number, computed: Array<[number, number]>): Float32Array {
  const c = new Float32Array(height * width).fill(0.99);
  for (const [y, x] of computed) c[y * width + x] = 0.5;
  return c;
}

describe('maskGeometry', () => {
  it('measures one compact region', () => {
    const points: Array<[number, number]> = [];
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) points.push([y, x]);
    const g = maskGeometry(map(32, 32, points), 32, 32, 0.9);
    expect(g.computed).toBeCloseTo(64 / 1024);
    expect(g.rows).toBeCloseTo(8 / 32);
    expect(g.bbox).toBeCloseTo(64 / 1024);
    expect(g.tiles8).toBeCloseTo(1 / 16);
    expect(g.tiles16).toBeCloseTo(1 / 4);
  });

  it('shows scattered positions spanning the map', () => {
    const g = maskGeometry(map(32, 32, [[0, 0], [31, 31], [16, 5]]), 32, 32, 0.9);
    expect(g.computed).toBeCloseTo(3 / 1024);
    expect(g.bbox).toBe(1);
    expect(g.rows).toBeCloseTo(3 / 32);
    expect(g.tiles8).toBeCloseTo(3 / 16);
  });

  it('counts positions at the threshold as computed, as CA does, and handles none and all', () => {
    const none = maskGeometry(new Float32Array(16).fill(1), 4, 4, 0.97);
    expect(none).toEqual({ computed: 0, rows: 0, bbox: 0, tiles8: 0, tiles16: 0 });
    const all = maskGeometry(new Float32Array(16).fill(0.97), 4, 4, 0.97);
    expect(all).toEqual({ computed: 1, rows: 1, bbox: 1, tiles8: 1, tiles16: 1 });
    expect(() => maskGeometry(new Float32Array(15), 4, 4, 0.5)).toThrow(RangeError);
  });

  it('averages', () => {
    const a = maskGeometry(new Float32Array(16).fill(1), 4, 4, 0.5);
    const b = maskGeometry(new Float32Array(16).fill(0), 4, 4, 0.5);
    expect(meanGeometry([a, b]).computed).toBe(0.5);
  });
});
