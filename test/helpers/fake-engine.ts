// Engines with a fault or a gate in front of a real one, for the server's failure paths.
import type { AnytimeEngine, ExitResult, RunOptions } from '../../src/engine/anytime-engine.js';
import type { StopReason } from '../../src/engine/budget.js';
import type { FrameEngine } from '../../server/model-info.js';

/** Runs the real engine up to `stage`, then throws there: an engine that breaks mid-frame. */
export function failingEngine(engine: AnytimeEngine, stage: number): FrameEngine {
  return {
    manifest: engine.manifest,
    info: () => engine.info(),
    run: (input: Float32Array, options?: RunOptions) => (async function* (): AsyncGenerator<ExitResult, StopReason> {
      const real = engine.run(input, options);
      for (let k = 1; k < stage; k++) {
        const step = await real.next();
        if (step.done) return step.value;
        yield step.value;
      }
      await real.return('cancelled');
      throw new Error(`stage ${stage} exploded`);
    })(),
  };
}

/** Holds every run before its first stage until `open()`; `started` resolves when one waits. */
export function gatedEngine(engine: AnytimeEngine): { engine: FrameEngine; started: Promise<void>; open: () => void } {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let started!: () => void;
  const waiting = new Promise<void>((resolve) => (started = resolve));
  return {
    engine: {
      manifest: engine.manifest,
      info: () => engine.info(),
      run: (input: Float32Array, options?: RunOptions) => (async function* (): AsyncGenerator<ExitResult, StopReason> {
        started();
        await gate;
        return yield* engine.run(input, options);
      })(),
    },
    started: waiting,
    open,
  };
}

/**
 * The first run takes the device and holds it, before its first stage, until `open()`;
 * `holding` resolves once it does, `queued(n)` once n other runs have had to wait for the
 * device meanwhile. Every run, the first one after `open()` and one turn of the event loop, is
 * the real engine's.
 */
export function deviceHoldingEngine(engine: AnytimeEngine): { engine: FrameEngine; holding: Promise<void>; queued: (n: number) => Promise<void>; open: () => void } {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let held!: () => void;
  const holding = new Promise<void>((resolve) => (held = resolve));
  let waits = 0;
  const counts: { n: number; resolve: () => void }[] = [];
  let first = true;
  return {
    engine: {
      manifest: engine.manifest,
      info: () => engine.info(),
      run: (input: Float32Array, options?: RunOptions) => (async function* (): AsyncGenerator<ExitResult, StopReason> {
        if (first) {
          first = false;
          const release = await options!.acquire!(1);
          const unsubscribe = options!.whenWaiting!(() => {
            waits++;
            for (const c of counts.filter((c) => waits >= c.n)) c.resolve();
          });
          held();
          await gate;
          unsubscribe();
          release();
          // the run granted next settles what it does with the device (in microtasks) before
          // this one asks for it again
          await new Promise((resolve) => setImmediate(resolve));
        }
        return yield* engine.run(input, options);
      })(),
    },
    holding,
    queued: (n) => new Promise<void>((resolve) => (waits >= n ? resolve() : counts.push({ n, resolve }))),
    open,
  };
}
