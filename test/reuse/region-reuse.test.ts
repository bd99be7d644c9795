// Region reuse over an engine that labels every run with its own number, so that each part
// of a composed map says which run it came from.
import { describe, expect, it } from 'vitest';
import { KeptRun, type ExitResult, type RunOptions } from '../../src/engine/anytime-engine.js';
import type { StopReason } from '../../src/engine/budget.js';
import type { NativeRun } from '../../src/native/native-executor.js';
import { DEFAULT_REUSE, RegionReuse, type ReuseEngine, type ReuseExit, type ReuseFrame } from '../../src/reuse/region-reuse.js';

const H = 128;
const W = 256;
const STRIDE = 4;

interface Call { readonly tag: number; readonly options: RunOptions; readonly input: Float32Array }

/**
 * Labels each run's exits with tag x 10 + exit. On a kept run it keeps a state as the engine
 * does: a focus replaces the state there alone, and the exits hand out the state.
 */
function taggingEngine(native = true): ReuseEngine & { calls: Call[] } {
  const calls: Call[] = [];
  const n = (H / STRIDE) * (W / STRIDE);
  const states = new WeakMap<KeptRun, { labels: Uint8Array; full: Uint8Array }>();
  return {
    calls,
    manifest: { input: { height: H, width: W }, output: { height: H / STRIDE, width: W / STRIDE, stride: STRIDE } } as ReuseEngine['manifest'],
    regionsSupported: () => native,
    keepRun: () => new KeptRun({} as NativeRun),
    run(input: Float32Array, options: RunOptions = {}) {
      const tag = calls.length + 1;
      calls.push({ tag, options, input });
      const maxExit = options.budget?.max_exit ?? 4;
      const { kept, focus } = options;
      if (focus && !kept?.primed) throw new RangeError('a focus needs a primed kept run');
      const state = (kept && states.get(kept)) ?? { labels: new Uint8Array(n), full: new Uint8Array(H * W) };
      if (kept) states.set(kept, state);
      return (async function* (): AsyncGenerator<ExitResult, StopReason> {
        for (let exit = 1; exit <= maxExit; exit++) {
          if (exit > 1 && options.signal?.aborted) return 'cancelled';
          const value = tag * 10 + exit;
          for (let i = 0; i < n; i++) if (!focus || focus[i]) state.labels[i] = value;
          for (let i = 0; i < H * W; i++) {
            const x = Math.floor((i % W) / STRIDE);
            const y = Math.floor(Math.floor(i / W) / STRIDE);
            if (!focus || focus[y * (W / STRIDE) + x]) state.full[i] = value;
          }
          if (kept) kept.primed = true;
          yield {
            exit, exits: 4, width: W / STRIDE, height: H / STRIDE,
            labels: state.labels.slice(),
            ...(options.withConfidence ? { confidence: new Float32Array(n).fill(exit / 10) } : {}),
            ...(options.fullLabels ? { fullLabels: { labels: state.full.slice(), width: W, height: H } } : {}),
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

  it('recomputes the changed blocks and a margin on the kept run, and replaces the labels near them, exit by exit', async () => {
    const engine = taggingEngine();
    const reuse = new RegionReuse();
    await run(reuse, engine, frame());
    const kept = engine.calls[0]!.options.kept;
    expect(kept).toBeDefined();
    const changed = await run(reuse, engine, frame([[40, 16, 12]]));
    expect(engine.calls).toHaveLength(2);
    const { options } = engine.calls[1]!;
    expect(options.kept).toBe(kept);
    expect(options.withConfidence).toBe(true);
    // the square (x 40-51, y 16-27) changed blocks 5-6 x 2-3: the focus adds 3 blocks (24 px) a side
    const w = W / STRIDE;
    const focus = options.focus!;
    expect(focus.length).toBe((H / STRIDE) * w);
    for (let y = 0; y < H / STRIDE; y++) {
      for (let x = 0; x < w; x++) {
        const inside = x * STRIDE >= 16 && x * STRIDE < 80 && y * STRIDE < 56;
        expect(focus[y * w + x], `${x},${y}`).toBe(inside ? 1 : 0);
      }
    }
    expect(changed.exits.map((e) => e.exit)).toEqual([1, 2, 3, 4]);
    const last = changed.exits[3]!;
    expect(last.reuse).toEqual({ mode: 'regions', keyframe: null, regions: [{ x0: 40, y0: 16, x1: 56, y1: 32 }], recomputedShare: (8 * 7) / (16 * 32) });
    // labels replaced on the changed blocks and two blocks (16 px) around them; the rest of the focus was context
    expect(changed.exits.map((e) => at(e, 44, 20))).toEqual([21, 22, 23, 24]);
    expect(changed.exits.map((e) => at(e, 24, 0))).toEqual([21, 22, 23, 24]);
    expect(changed.exits.map((e) => at(e, 76, 20))).toEqual([14, 14, 14, 14]);
    expect(changed.exits.map((e) => at(e, 44, 52))).toEqual([14, 14, 14, 14]);
    expect(changed.exits.map((e) => at(e, 120, 60))).toEqual([14, 14, 14, 14]);
    expect(last.stop).toBe('final_exit');

    // the replaced labels are the reference now: the same frame again is unchanged
    const same = await run(reuse, engine, frame([[40, 16, 12]]));
    expect(same.exits[0]!.reuse.mode).toBe('reused');
    expect(at(same.exits[0]!, 44, 20)).toBe(24);
    expect(at(same.exits[0]!, 76, 20)).toBe(14);
  });

  it('runs a frame whose change and margin pass maxShare in full', async () => {
    const engine = taggingEngine();
    const reuse = new RegionReuse({ ...DEFAULT_REUSE, maxShare: 0.1 });
    await run(reuse, engine, frame());
    const r = await run(reuse, engine, frame([[40, 16, 12]]));
    expect(r.exits[0]!.reuse).toMatchObject({ mode: 'full', keyframe: 'coverage', recomputedShare: 1 });
    expect(engine.calls[1]!.options.focus).toBeUndefined();
    expect(engine.calls[1]!.options.kept).toBe(engine.calls[0]!.options.kept);
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

  it('runs changed frames in full without the native executor', async () => {
    const engine = taggingEngine(false);
    const reuse = new RegionReuse();
    await run(reuse, engine, frame());
    expect((await run(reuse, engine, frame())).exits[0]!.reuse.mode).toBe('reused');
    expect((await run(reuse, engine, frame([[40, 16, 12]]))).exits[0]!.reuse.keyframe).toBe('no_native');
    expect(engine.calls.map((c) => c.options.kept)).toEqual([undefined, undefined]);
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
    expect(at(next.exits[3]!, 44, 20)).toBe(34);
    // a cancelled frame may have moved the kept run's features on where it differed from the
    // reference: those blocks count as changed, even once the picture is the reference's again
    const cancelled = reuse.run(engine, frame([[80, 40, 12]]), { signal: AbortSignal.abort('superseded') });
    expect((await cancelled.next()).value).toMatchObject({ exit: 1, stop: null });
    expect(await cancelled.next()).toEqual({ done: true, value: 'cancelled' });
    const after = await run(reuse, engine, frame([[40, 16, 12]]));
    expect(after.exits[0]!.reuse.mode).toBe('regions');
    expect(after.exits[0]!.reuse.regions).toEqual([{ x0: 40, y0: 16, x1: 56, y1: 32 }, { x0: 80, y0: 40, x1: 96, y1: 56 }]);
    // a keyframe that ends before its stop runs again on the next frame, for the same reason
    const bright = frame();
    bright.rgb.fill(160);
    const keyframe = reuse.run(engine, bright, { signal: AbortSignal.abort('superseded') });
    expect((await keyframe.next()).value).toMatchObject({ exit: 1, reuse: { mode: 'full', keyframe: 'global_change' } });
    expect(await keyframe.next()).toEqual({ done: true, value: 'cancelled' });
    expect((await run(reuse, engine, frame([[40, 16, 12]]))).exits[0]!.reuse.keyframe).toBe('global_change');
    expect((await run(reuse, engine, frame([[40, 16, 12]]))).exits[0]!.reuse.mode).toBe('reused');
  });

  it('pastes frame-size labels too, and stops at max_exit', async () => {
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
    expect(last.fullLabels!.labels[20 * W + 76]).toBe(14);
    // the reference now mixes exits 4 and 2: a reused answer says the lower
    expect((await run(reuse, engine, frame([[40, 16, 12]]))).exits[0]!.exit).toBe(2);
  });

  it('gives a GFLOPs cap to its one run as it is', async () => {
    const engine = taggingEngine();
    const reuse = new RegionReuse();
    await run(reuse, engine, frame());
    await run(reuse, engine, frame([[4, 4, 8], [236, 112, 8]]), { budget: { gflops: 10 } });
    expect(engine.calls).toHaveLength(2);
    expect(engine.calls[1]!.options.budget).toEqual({ gflops: 10 });
    expect(engine.calls[1]!.options.focus).toBeDefined();
  });
});
