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
