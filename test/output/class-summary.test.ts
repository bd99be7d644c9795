import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CITYSCAPES_CLASSES } from '../../src/classes.js';
import { MAX_BOXES_PER_CLASS, summarizeClasses, type RegionBox } from '../../src/output/class-summary.js';
import type { LabelMap } from '../../src/output/label-map.js';

/** The reference: 8-connected flood fill from every pixel not yet reached. */
function floodRegions(map: LabelMap): Map<number, RegionBox[]> {
  const { labels, width, height } = map;
  const seen = new Uint8Array(labels.length);
  const out = new Map<number, RegionBox[]>();
  for (let start = 0; start < labels.length; start++) {
    if (seen[start]) continue;
    const label = labels[start]!;
    const stack = [start];
    seen[start] = 1;
    let [x0, y0, x1, y1, pixels] = [width, height, -1, -1, 0];
    while (stack.length) {
      const p = stack.pop()!;
      const x = p % width;
      const y = (p - x) / width;
      [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
      pixels++;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const q = ny * width + nx;
          if (!seen[q] && labels[q] === label) {
            seen[q] = 1;
            stack.push(q);
          }
        }
      }
    }
    out.set(label, [...(out.get(label) ?? []), { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1, pixels }]);
  }
  for (const list of out.values()) list.sort((a, b) => b.pixels - a.pixels || a.y - b.y || a.x - b.x);
  return out;
}

describe('class summaries', () => {
  it('gives each present class its share, most pixels first, with names from the class list', () => {
    const map = { labels: Uint8Array.from([0, 0, 0, 13, 13, 2, 255, 0]), width: 4, height: 2 };
    const summary = summarizeClasses(map, CITYSCAPES_CLASSES, 'classes');
    expect(summary).toEqual({
      width: 4, height: 2,
      classes: [
        { id: 0, name: 'road', pixels: 4, share: 0.5 },
        { id: 13, name: 'car', pixels: 2, share: 0.25 },
        { id: 2, name: 'building', pixels: 1, share: 0.125 },
        { id: 255, name: null, pixels: 1, share: 0.125 },
      ],
    });
  });

  it('joins diagonal neighbours into one region and keeps separate ones apart', () => {
    // two cars touching at a corner, and a third apart
    const labels = Uint8Array.from([
      13, 0, 0, 0, 13,
      0, 13, 0, 0, 13,
      0, 0, 0, 0, 0,
    ]);
    const car = summarizeClasses({ labels, width: 5, height: 3 }, CITYSCAPES_CLASSES, 'regions').classes.find((c) => c.id === 13)!;
    expect(car.regions).toBe(2);
    expect(car.boxes).toEqual([{ x: 0, y: 0, width: 2, height: 2, pixels: 2 }, { x: 4, y: 0, width: 1, height: 2, pixels: 2 }]);
  });

  it('finds the same regions as a flood fill on any map (seeded)', () => {
    const arbitraryMap = fc.record({ width: fc.integer({ min: 1, max: 24 }), height: fc.integer({ min: 1, max: 16 }), classes: fc.integer({ min: 1, max: 4 }) })
      .chain(({ width, height, classes }) => fc.array(fc.integer({ min: 0, max: classes - 1 }), { minLength: width * height, maxLength: width * height })
        .map((values) => ({ labels: Uint8Array.from(values), width, height })));
    fc.assert(fc.property(arbitraryMap, (map) => {
      const summary = summarizeClasses(map, CITYSCAPES_CLASSES, 'regions');
      const reference = floodRegions(map);
      expect(summary.classes.reduce((sum, c) => sum + c.pixels, 0)).toBe(map.width * map.height);
      for (const c of summary.classes) {
        const expected = reference.get(c.id)!;
        expect(c.regions).toBe(expected.length);
        expect(c.boxes).toEqual(expected.slice(0, MAX_BOXES_PER_CLASS));
      }
    }), { seed: 18, numRuns: 300 });
  });

  it('lists at most the largest regions of a class, and counts them all', () => {
    const width = 200;
    const labels = new Uint8Array(width * 3); // a row of single-pixel cars two apart
    for (let x = 0; x < width; x += 2) labels[width + x] = 13;
    const car = summarizeClasses({ labels, width, height: 3 }, CITYSCAPES_CLASSES, 'regions').classes.find((c) => c.id === 13)!;
    expect(car.regions).toBe(100);
    expect(car.boxes).toHaveLength(MAX_BOXES_PER_CLASS);
  });

  it('refuses a map whose bytes do not match its size', () => {
    expect(() => summarizeClasses({ labels: new Uint8Array(5), width: 2, height: 2 }, CITYSCAPES_CLASSES, 'classes')).toThrow(RangeError);
  });
});
