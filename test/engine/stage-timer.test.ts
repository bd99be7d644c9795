import { describe, expect, it } from 'vitest';
import { StageTimer } from '../../src/engine/stage-timer.js';

describe('StageTimer', () => {
  it('knows nothing before its first run', () => {
    const timer = new StageTimer();
    expect(timer.predict(0.5)).toBeNaN();
    expect(timer.upper(0.5)).toBeNaN();
  });

  it('fits time against the computed share', () => {
    const timer = new StageTimer();
    for (let i = 0; i < 40; i++) for (const share of [0.2, 0.6, 1]) timer.observe(share, 1 + 4 * share);
    expect(timer.predict(0.4)).toBeCloseTo(2.6, 6);
    // runs on the line: only the first few strayed (before the line was known), long faded
    expect(timer.upper(0.4) - timer.predict(0.4)).toBeGreaterThanOrEqual(0);
    expect(timer.upper(0.4) - timer.predict(0.4)).toBeLessThan(0.05);
  });

  it('bounds runs that stray from the line by how far they strayed', () => {
    const timer = new StageTimer();
    // the same share, alternately 2 ms faster and slower than 10 ms
    for (let i = 0; i < 200; i++) timer.observe(0.5, i % 2 === 0 ? 8 : 12);
    expect(timer.predict(0.5)).toBeCloseTo(10, 0);
    // two standard deviations of misses of about 2 ms
    expect(timer.upper(0.5)).toBeGreaterThan(13.5);
    expect(timer.upper(0.5)).toBeLessThan(14.5);
  });

  it('forgets old runs', () => {
    const timer = new StageTimer();
    for (let i = 0; i < 100; i++) timer.observe(1, 20);
    for (let i = 0; i < 100; i++) timer.observe(1, 5);
    expect(timer.predict(1)).toBeLessThan(5.2);
  });
});
