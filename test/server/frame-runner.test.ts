// The one frame path on its own: bounded decode slots, the output bound, failures as answers.
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { ErrorReporter } from '../../server/error-report.js';
import { FrameRunner } from '../../server/frame-runner.js';
import { ServerMetrics } from '../../server/metrics.js';
import type { FrameEngine } from '../../server/model-info.js';
import { SlotScheduler, type Release } from '../../server/slot-scheduler.js';
import type { ExitResult } from '../../src/engine/anytime-engine.js';
import { flatPng } from '../helpers/server.js';

/** Slots that remember how many were ever held at once. */
class CountingSlots extends SlotScheduler {
  held = 0;
  most = 0;
  override async acquire(deadline: number): Promise<Release> {
    const release = await super.acquire(deadline);
    this.most = Math.max(this.most, ++this.held);
    return () => {
      this.held--;
      release();
    };
  }
}

const input = { height: 8, width: 16, scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] };

function engine(run: () => AsyncGenerator<ExitResult, 'final_exit'>): FrameEngine {
  return { manifest: { input, stages: [{ dense_gflops: 1 }] }, info: () => ({}), run } as unknown as FrameEngine;
}

const oneExit = async function* (): AsyncGenerator<ExitResult, 'final_exit'> {
  yield { exit: 1, exits: 1, labels: new Uint8Array(8), width: 4, height: 2, gflops: 1, cumulativeGflops: 1, computedShare: 1, computeMs: 0, form: 'masked', stop: 'final_exit' };
  return 'final_exit';
};

function runner(decodeSlots: number) {
  const metrics = new ServerMetrics();
  const decode = new CountingSlots(decodeSlots);
  const r = new FrameRunner({
    metrics, reporter: new ErrorReporter(pino({ level: 'silent' }), metrics), device: new SlotScheduler(1), decode,
    limits: { maxFramePixels: 40_000_000, maxFrameSide: 16_384, maxOutputPixels: 1000 },
  });
  return { r, decode, metrics };
}

const job = (e: FrameEngine, bytes: Uint8Array, frameSize = false) => ({
  engine: e, input: { kind: 'encoded' as const, bytes }, budget: {}, arrivedAt: performance.now(), frameSize,
  context: { route: 'test', requestId: 't' }, onExit: () => undefined,
});

describe('FrameRunner', () => {
  it('never decodes more frames at once than it has decode slots', async () => {
    const png = await flatPng(1024, 1024);
    for (const slots of [1, 2]) {
      const { r, decode } = runner(slots);
      const ends = await Promise.all(Array.from({ length: 5 }, () => r.run(job(engine(oneExit), png))));
      expect(ends.map((e) => e.outcome)).toEqual(Array(5).fill('completed'));
      expect(decode.most).toBe(slots);
    }
  });

  it('refuses frame-size answers above the output bound, and stride answers pass', async () => {
    const { r } = runner(1);
    const png = await flatPng(40, 30);
    expect(await r.run(job(engine(oneExit), png, true))).toMatchObject({ outcome: 'rejected', error: { code: 'OUTPUT_TOO_LARGE' } });
    expect(await r.run(job(engine(oneExit), png, false))).toMatchObject({ outcome: 'completed', stop: 'final_exit' });
  });

  it('turns a throwing engine into a failed frame answered INTERNAL, and waits for nothing after', async () => {
    const { r, metrics } = runner(1);
    const broken = engine(async function* (): AsyncGenerator<ExitResult, 'final_exit'> {
      throw new Error('boom');
    });
    const end = await r.run(job(broken, await flatPng(4, 4)));
    expect(end).toMatchObject({ outcome: 'failed', error: { code: 'INTERNAL' } });
    expect('error' in end && end.error.message).not.toContain('boom'); // the cause stays in the log
    expect(r.inFlight).toBe(0);
    await r.idle();
    expect(await metrics.registry.getSingleMetricAsString('adpc_frames_total')).toContain('outcome="failed"} 1');
  });

  it('gives every frame in flight its own input, and a later frame the input of one that ended', async () => {
    const { r } = runner(2);
    const seen: Float32Array[] = [];
    const gates: (() => void)[] = [];
    const held = engine(async function* (data: Float32Array): AsyncGenerator<ExitResult, 'final_exit'> {
      seen.push(data);
      await new Promise<void>((resolve) => gates.push(resolve));
      yield* oneExit();
      return 'final_exit';
    } as unknown as () => AsyncGenerator<ExitResult, 'final_exit'>);
    const raw = (value: number) => ({ ...job(held, new Uint8Array(0)), input: { kind: 'raw' as const, bytes: new Uint8Array(16 * 8 * 3).fill(value), width: 16, height: 8, channels: 3 as const } });
    const a = r.run(raw(10));
    const b = r.run(raw(200));
    await vi.waitFor(() => expect(gates).toHaveLength(2));
    expect(seen[0]).not.toBe(seen[1]);
    // each frame's values, whichever order the decodes ended in
    expect(seen.map((d) => Math.round(d[0]! * 255)).sort((x, y) => x - y)).toEqual([10, 200]);
    expect(seen.every((d) => d.every((v) => v === d[0]))).toBe(true);
    for (const open of gates.splice(0)) open();
    await Promise.all([a, b]);
    const c = r.run(raw(77));
    await vi.waitFor(() => expect(gates).toHaveLength(1));
    expect([seen[0], seen[1]]).toContain(seen[2]);
    expect(seen[2]!.every((v) => Math.round(v * 255) === 77)).toBe(true);
    gates[0]!();
    expect(await c).toMatchObject({ outcome: 'completed' });
  });
});
