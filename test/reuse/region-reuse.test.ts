// Region reuse over an engine that labels every run with its own number, so that each part
// of a composed map says which run it came from.
import { describe, expect, it } from 'vitest';
import type { ExitResult, RunOptions } from '../../src/engine/anytime-engine.js';
import type { StopReason } from '../../src/engine/budget.js';
import { DEFAULT_REUSE, RegionReuse, type ReuseEngine, type ReuseExit, type ReuseFrame } from '../../src/reuse/region-reuse.js';

const H = 128;
const W = 256;
const STRIDE = 4;

interface Call { readonly tag: number; readonly options: RunOptions; readonly input: Float32Array }

function taggingEngine(crops = true): ReuseEngine & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    manifest: { input: { height: H, width: W }, output: { height: H / STRIDE, width: W / STRIDE, stride: STRIDE } } as ReuseEngine['manifest'],
    regionsSupported: () => crops,
    run(input: Float32Array, options: RunOptions = {}) {
      const tag = calls.length + 1;
      calls.push({ tag, options, input });
      const size = options.size ?? { height: H, width: W };
      const maxExit = options.budget?.max_exit ?? 4;
      return (async function* (): AsyncGenerator<ExitResult, StopReason> {
        for (let exit = 1; exit <= maxExit; exit++) {
          if (exit > 1 && options.signal?.aborted) return 'cancelled';
          const n = (size.height / STRIDE) * (size.width / STRIDE);
          yield {
            exit, exits: 4, width: size.width / STRIDE, height: size.height / STRIDE,
            labels: new Uint8Array(n).fill(tag * 10 + exit),
            ...(options.withConfidence ? { confidence: new Float32Array(n).fill(exit / 10) } : {}),
            ...(options.fullLabels ? { fullLabels: { labels: new Uint8Array(size.height * size.width).fill(tag * 10 + exit), width: size.width, height: size.height } } : {}),
            gflops: 1, cumulativeGflops: exit, computedShare: 1, computeMs: 1, form: 'native',
            stop: exit === 4 ? 'final_exit' : exit === maxExit ? 'max_exit' : null,
          };
        }
        return exit4(maxExit);
      })();
    },
  };
}
const exit4 = (maxExit: number): StopReason => (maxExit === 4 ? 'final_exit' : 'max_exit');

/** A flat grey frame with bright squares at the given pixel boxes [x0, y0, size]. */
function frame(squares: [number, number, number][] = []): ReuseFrame {
  const rgb = new Uint8Array(H * W * 3).fill(60);
  for (const [x0, y0, s] of squares) {
    for (let y = y0; y < y0 + s; y++) for (let x = x0; x < x0 + s; x++) rgb.fill(220, (y * W + x) * 3, (y * W + x) * 3 + 3);
  }
  return { data: Float32Array.from({ length: 3 * H * W }, (_, i) => i), rgb, frameWidth: 640, frameHeight: 320 };
}

async function run(reuse: RegionReuse, engine: ReuseEngine, f: ReuseFrame, options: RunOptions = {}): Promise<{ exits: ReuseExit[]; end: unknown }> {
  const exits: ReuseExit[] = [];
  const gen = reuse.run(engine, f, options);
  for (;;) {
    const step = await gen.next();
    if (step.done) return { exits, end: step.value };
    exits.push(step.value);
  }
}

const at = (r: ReuseExit, x: number, y: number) => r.labels[(y / STRIDE) * (W / STRIDE) + x / STRIDE];

describe('region reuse', () => {
  it('runs the first frame in full, then answers an unchanged frame at once from it', async () => {
    const engine = taggingEngine();
    const reuse = new RegionReuse();
    const first = await run(reuse, engine, frame());
    expect(first.exits.map((e) => e.exit)).toEqual([1, 2, 3, 4]);
    expect(first.exits[0]!.reuse).toEqual({ mode: 'full', keyframe: 'first', regions: [], recomputedShare: 1 });
    expect(first.exits[0]!.confidence).toBeUndefined();

    const again = await run(reuse, engine, frame());
    expect(engine.calls).toHaveLength(1);
    expect(again.end).toBe('unchanged');
    expect(again.exits).toHaveLength(1);
    const r = again.exits[0]!;
    expect(r).toMatchObject({ exit: 4, stop: 'unchanged', gflops: 0, computedShare: 0, reuse: { mode: 'reused', keyframe: null, recomputedShare: 0 } });
    expect([...new Set(r.labels)]).toEqual([14]);
  });

  it('recomputes what changed as a crop and carries the rest over, exit by exit', async () => {
    const engine = taggingEngine();
    const reuse = new RegionReuse();
    await run(reuse, engine, frame());
    const changed = await run(reuse, engine, frame([[40, 16, 12]]));
    expect(engine.calls).toHaveLength(2);
    const call = engine.calls[1]!;
    expect(call.options.size).toBeDefined();
    expect(call.options.withConfidence).toBe(true);
    expect(changed.exits.map((e) => e.exit)).toEqual([1, 2, 3, 4]);
    const last = changed.exits[3]!;
    expect(last.reuse.mode).toBe('regions');
    expect(last.reuse.regions).toHaveLength(1);
    const centre = last.reuse.regions[0]!;
    // the square (x 40-51, y 16-27) lies in the centre; the centre lies in the crop
    expect(centre.x0).toBeLessThanOrEqual(40);
    expect(centre.x1).toBeGreaterThanOrEqual(52);
    expect(centre.y0).toBeLessThanOrEqual(16);
    expect(centre.y1).toBeGreaterThanOrEqual(28);
    const { height, width } = call.options.size!;
    expect(last.reuse.recomputedShare).toBeCloseTo((height * width) / (H * W), 10);
    expect(changed.exits.map((e) => at(e, 44, 20))).toEqual([21, 22, 23, 24]);
    expect(changed.exits.map((e) => at(e, 120, 60))).toEqual([14, 14, 14, 14]);
    expect(last.stop).toBe('final_exit');
    expect(last.computedShare).toBeCloseTo(last.reuse.recomputedShare, 10);

    // the crop's labels are the reference now: the same frame again is unchanged
    const same = await run(reuse, engine, frame([[40, 16, 12]]));
    expect(same.exits[0]!.reuse.mode).toBe('reused');
    expect(at(same.exits[0]!, 44, 20)).toBe(24);
    expect(at(same.exits[0]!, 120, 60)).toBe(14);
  });

  it('limits stages 2-4 to the centre and its focus margin, or not at all', async () => {
    for (const focusMargin of [16, null]) {
      const engine = taggingEngine();
      const reuse = new RegionReuse({ ...DEFAULT_REUSE, focusMargin });
      await run(reuse, engine, frame());
      const last = (await run(reuse, engine, frame([[40, 16, 12]]))).exits[3]!;
      const { options } = engine.calls[1]!;
      if (focusMargin === null) {
        expect(options.focus).toBeUndefined();
        continue;
      }
      const { height, width } = options.size!;
      const w = width / STRIDE;
      const focus = options.focus!;
      expect(focus.length).toBe((height / STRIDE) * w);
      // the crop's origin: the region's crop is where the centre sits plus the margin, on the grid
      const centre = last.reuse.regions[0]!;
      const cropX = Math.max(0, Math.floor((centre.x0 - 32) / 32) * 32);
      const cropY = Math.max(0, Math.floor((centre.y0 - 32) / 32) * 32);
      for (let y = 0; y < height / STRIDE; y++) {
        for (let x = 0; x < w; x++) {
          const px = cropX + x * STRIDE;
          const py = cropY + y * STRIDE;
          const inside = px >= centre.x0 - 16 && px < centre.x1 + 16 && py >= centre.y0 - 16 && py < centre.y1 + 16;
          expect(focus[y * w + x], `${px},${py}`).toBe(inside ? 1 : 0);
        }
      }
    }
  });

  it('hands out maps it never writes to again', async () => {
    const engine = taggingEngine();
    const reuse = new RegionReuse();
    await run(reuse, engine, frame());
    const reused = (await run(reuse, engine, frame())).exits[0]!;
    const copy = reused.labels.slice();
    await run(reuse, engine, frame([[40, 16, 12]]));
    await run(reuse, engine, frame([[80, 40, 12]]));
    expect(reused.labels).toEqual(copy);
  });

  it('keyframes on an interval, a global change, a new frame size and a first frame-size request', async () => {
    const engine = taggingEngine();
    const reuse = new RegionReuse({ ...DEFAULT_REUSE, keyframeInterval: 3 });
    const kinds: (string | null)[] = [];
    const note = async (f: ReuseFrame, options?: RunOptions) => {
      const r = (await run(reuse, engine, f, options)).exits[0]!.reuse;
      kinds.push(r.keyframe ?? r.mode);
    };
    for (let i = 0; i < 4; i++) await note(frame()); // the fourth is the third since the keyframe
    const bright = frame();
    bright.rgb.fill(160);
    await note(bright);
    await note({ ...frame(), frameWidth: 320 });
    await note({ ...frame(), frameWidth: 320 }, { fullLabels: true });
    expect(kinds).toEqual(['first', 'reused', 'reused', 'interval', 'global_change', 'size_change', 'options']);
  });

  it('runs changed frames in full where crops cannot run', async () => {
    const engine = taggingEngine(false);
    const reuse = new RegionReuse();
    await run(reuse, engine, frame());
    expect((await run(reuse, engine, frame())).exits[0]!.reuse.mode).toBe('reused');
    expect((await run(reuse, engine, frame([[40, 16, 12]]))).exits[0]!.reuse.keyframe).toBe('no_crops');
  });

  it('keeps its reference when a frame is cancelled before its stop', async () => {
    const engine = taggingEngine();
    const reuse = new RegionReuse();
    await run(reuse, engine, frame());
    const controller = new AbortController();
    const gen = reuse.run(engine, frame([[40, 16, 12]]), { signal: controller.signal });
    expect((await gen.next()).value).toMatchObject({ exit: 1, stop: null });
    controller.abort('superseded');
    expect(await gen.next()).toEqual({ done: true, value: 'cancelled' });
    // the square is still new against the reference: recomputed again
    const next = await run(reuse, engine, frame([[40, 16, 12]]));
    expect(next.exits[0]!.reuse.mode).toBe('regions');
  });

  it('pastes frame-size labels too, and stops with the crops at max_exit', async () => {
    const engine = taggingEngine();
    const reuse = new RegionReuse();
    await run(reuse, engine, frame(), { fullLabels: true });
    const r = await run(reuse, engine, frame([[40, 16, 12]]), { fullLabels: true, budget: { max_exit: 2 } });
    expect(r.exits.map((e) => e.exit)).toEqual([1, 2]);
    const last = r.exits[1]!;
    expect(last.stop).toBe('max_exit');
    expect(last.fullLabels!.width).toBe(W);
    expect(last.fullLabels!.labels[20 * W + 44]).toBe(22);
    expect(last.fullLabels!.labels[60 * W + 120]).toBe(14);
    // the reference now mixes exits 4 and 2: a reused answer says the lower
    expect((await run(reuse, engine, frame([[40, 16, 12]]))).exits[0]!.exit).toBe(2);
  });

  it('splits a GFLOPs cap over the crops by area', async () => {
    const engine = taggingEngine();
    const reuse = new RegionReuse();
    await run(reuse, engine, frame());
    await run(reuse, engine, frame([[4, 4, 8], [236, 112, 8]]), { budget: { gflops: 10 } });
    const crops = engine.calls.slice(1);
    expect(crops).toHaveLength(2);
    const total = crops.reduce((sum, c) => sum + c.options.budget!.gflops!, 0);
    expect(total).toBeCloseTo(10, 10);
  });
});
