import { describe, expect, it } from 'vitest';
import { CITYSCAPES_CLASSES, IGNORE_LABEL, colorizeLabels } from '../../src/classes.js';
import { SynthInputError, generateScene } from '../../src/synth/generate.js';
import { Prng } from '../../src/synth/prng.js';

const small = { height: 64, width: 128 };

describe('generateScene', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const a = generateScene(7, small);
    const b = generateScene(7, small);
    const c = generateScene(8, small);
    expect(Buffer.from(a.image).equals(Buffer.from(b.image))).toBe(true);
    expect(Buffer.from(a.label).equals(Buffer.from(b.label))).toBe(true);
    expect(Buffer.from(a.image).equals(Buffer.from(c.image))).toBe(false);
  });

  it('returns RGB and trainIds of the asked size', () => {
    const s = generateScene(3, { height: 48, width: 80 });
    expect(s.width).toBe(80);
    expect(s.height).toBe(48);
    expect(s.image.length).toBe(48 * 80 * 3);
    expect(s.label.length).toBe(48 * 80);
    for (const v of s.label) expect(v <= 18 || v === IGNORE_LABEL).toBe(true);
  });

  it('paints every one of the 19 classes across the first train seeds', () => {
    const seen = new Set<number>();
    for (let seed = 0; seed < 60 && seen.size < 19; seed++) {
      for (const v of generateScene(seed, { height: 128, width: 256 }).label) seen.add(v);
    }
    for (const cls of CITYSCAPES_CLASSES) expect(seen.has(cls.id), cls.name).toBe(true);
  });

  it('keeps large easy regions: road, building and sky cover most pixels', () => {
    const counts = new Array<number>(256).fill(0);
    for (let seed = 0; seed < 10; seed++) for (const v of generateScene(seed, small).label) counts[v]!++;
    const total = counts.reduce((a, b) => a + b, 0);
    expect((counts[0]! + counts[2]! + counts[10]!) / total).toBeGreaterThan(0.6);
  });

  it('rejects bad seeds and sizes with a typed error', () => {
    expect(() => generateScene(-1, small)).toThrow(SynthInputError);
    expect(() => generateScene(1.5, small)).toThrow(SynthInputError);
    expect(() => generateScene(1, { height: 0, width: 64 })).toThrow(SynthInputError);
    expect(() => generateScene(1, { height: 64, width: 100_000 })).toThrow(/width/);
  });
});

describe('helpers', () => {
  it('prng gives the same stream for the same seed, in [0, 1)', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    for (let i = 0; i < 100; i++) {
      const v = a.float();
      expect(v).toBe(b.float());
      expect(v >= 0 && v < 1).toBe(true);
    }
  });

  it('colorizes labels with the Cityscapes palette', () => {
    const rgb = colorizeLabels(Uint8Array.from([0, 10, 255]));
    expect(Array.from(rgb)).toEqual([128, 64, 128, 70, 130, 180, 0, 0, 0]);
  });
});
