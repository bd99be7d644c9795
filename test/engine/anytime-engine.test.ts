import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '../../src/bundle/manifest.js';
import { parseBudget } from '../../src/engine/budget.js';
import { writeCrossovers } from '../../src/bundle/crossovers.js';
import { AnytimeEngine, type ExitResult, type StageForm } from '../../src/engine/anytime-engine.js';
import { nativeUnavailable } from '../../src/native/native-executor.js';
import { readReference, readReferenceIndex } from '../helpers/reference.js';
import { exportTinyBundle } from '../helpers/tiny-bundle.js';

let dir: string;
let engine: AnytimeEngine;
let image: Float32Array;

async function collect(gen: AsyncGenerator<ExitResult, unknown>): Promise<ExitResult[]> {
  const out: ExitResult[] = [];
  for await (const r of gen) out.push(r);
  return out;
}

beforeAll(async () => {
  dir = exportTinyBundle();
  engine = await AnytimeEngine.load(dir, { provider: 'cpu', threads: 1 });
  image = readReference(dir, readReferenceIndex(dir), 'image').data as Float32Array;
}, 120_000);

afterAll(async () => {
  await engine?.close();
  rmSync(dirname(dir), { recursive: true, force: true });
});

describe('AnytimeEngine', () => {
  it('reports what it loaded', () => {
    const info = engine.info();
    expect(info.provider).toBe('cpu');
    expect(info.input).toEqual({ height: 64, width: 128 });
    expect(info.output).toEqual({ height: 16, width: 32, stride: 4 });
    expect(info.exitGflops).toHaveLength(4);
    expect(info.exitGflops).toEqual([...info.exitGflops].sort((a, b) => a - b));
  });

  it('returns four exits in order, labels equal to the PyTorch reference', async () => {
    const index = readReferenceIndex(dir);
    const results = await collect(engine.run(image));
    expect(results.map((r) => r.exit)).toEqual([1, 2, 3, 4]);
    expect(results.map((r) => r.stop)).toEqual([null, null, null, 'final_exit']);
    results.forEach((r) => {
      const ref = readReference(dir, index, `stage${r.exit}.labels`).data as Uint8Array;
      let same = 0;
      for (let i = 0; i < ref.length; i++) if (ref[i] === r.labels[i]) same++;
      expect(same / ref.length).toBeGreaterThanOrEqual(0.9999);
      expect(r.labels.length).toBe(16 * 32);
    });
    expect(results[1]!.computedShare).toBeGreaterThan(0);
    expect(results[1]!.computedShare).toBeLessThan(1);
    const cumulative = results.map((r) => r.cumulativeGflops);
    expect(cumulative).toEqual([...cumulative].sort((a, b) => a - b));
  });

  it('counts dense GFLOPs when nothing is skipped (threshold 1)', async () => {
    const results = await collect(engine.run(image, { budget: { threshold: 1 } }));
    const info = engine.info();
    results.forEach((r, i) => {
      expect(r.computedShare).toBe(1);
      expect(r.cumulativeGflops).toBeCloseTo(info.exitGflops[i]!, 9);
    });
  });

  it('runs the plain graphs when nothing is skipped, the native executor or onnxruntime otherwise', async () => {
    // no crossovers.json in this bundle: the native executor where it is built (plain when
    // everything is computed), else the sparse head below half the positions
    const native = 'isa' in engine.info().native;
    const first = native ? 'native' : 'masked';
    const off = await collect(engine.run(image, { budget: { threshold: 1 } }));
    expect(off.map((r) => r.form)).toEqual([first, 'plain', 'plain', 'plain']);
    const on = await collect(engine.run(image));
    const fallback = ['masked', 'masked', on[3]!.computedShare < 0.5 ? 'sparse' : 'masked'];
    expect(on.map((r) => r.form)).toEqual([first, ...(native ? ['native', 'native', 'native'] : fallback)]);
  });

  it('gives the reference labels and the same GFLOPs in every form', async () => {
    const index = readReferenceIndex(dir);
    const forms: StageForm[] = ['masked', 'native'];
    const runs = new Map<StageForm, ExitResult[]>();
    for (const form of forms) {
      if (form === 'native' && !('isa' in engine.info().native)) continue;
      const pinned = await AnytimeEngine.load(dir, { threads: 1, warmup: false, forms: { 1: form, 2: form, 3: form, 4: form } });
      try {
        const results = await collect(pinned.run(image));
        expect(results.map((r) => r.form)).toEqual([form, form, form, form]);
        for (const r of results) {
          const ref = readReference(dir, index, `stage${r.exit}.labels`).data as Uint8Array;
          let same = 0;
          for (let i = 0; i < ref.length; i++) if (ref[i] === r.labels[i]) same++;
          expect(same / ref.length, `${form} exit ${r.exit}`).toBeGreaterThanOrEqual(0.9999);
        }
        runs.set(form, results);
      } finally {
        await pinned.close();
      }
    }
    const sparse = await AnytimeEngine.load(dir, { threads: 1, warmup: false, forms: { 1: 'masked', 2: 'masked', 3: 'masked', 4: 'sparse' } });
    try {
      const results = await collect(sparse.run(image));
      expect(results[3]!.form).toBe('sparse');
      expect(Buffer.from(results[3]!.labels).equals(Buffer.from(runs.get('masked')![3]!.labels))).toBe(true);
      runs.set('sparse', results);
    } finally {
      await sparse.close();
    }
    const gflops = [...runs.values()].map((rs) => rs.map((r) => r.cumulativeGflops));
    for (const g of gflops) g.forEach((v, i) => expect(v).toBeCloseTo(gflops[0]![i]!, 9));
  });

  it('refuses to pin a form the bundle does not have', async () => {
    await expect(AnytimeEngine.load(dir, { warmup: false, forms: { 2: 'sparse' } })).rejects.toThrow(/stage 2 has no sparse form/);
  });

  it('counts fewer GFLOPs when CA skips', async () => {
    const skipped = await collect(engine.run(image));
    expect(skipped[3]!.cumulativeGflops).toBeLessThan(engine.info().exitGflops[3]!);
  });

  it('stops at max_exit', async () => {
    const results = await collect(engine.run(image, { budget: { max_exit: 2 } }));
    expect(results.map((r) => r.exit)).toEqual([1, 2]);
    expect(results[1]!.stop).toBe('max_exit');
    const one = await collect(engine.run(image, { budget: { max_exit: 1 } }));
    expect(one.map((r) => [r.exit, r.stop])).toEqual([[1, 'max_exit']]);
  });

  it('stops before a stage that would exceed the GFLOPs budget', async () => {
    const info = engine.info();
    const results = await collect(engine.run(image, { budget: { gflops: info.exitGflops[0]! * 1.0001, threshold: 1 } }));
    expect(results.map((r) => [r.exit, r.stop])).toEqual([[1, 'gflops']]);
    const two = await collect(engine.run(image, { budget: { gflops: info.exitGflops[1]! * 1.0001, threshold: 1 } }));
    expect(two.map((r) => r.stop)).toEqual([null, 'gflops']);
  });

  it('stops when the deadline would pass, always returning exit 1', async () => {
    const results = await collect(engine.run(image, { budget: { deadline_ms: 0.001 } }));
    expect(results.map((r) => [r.exit, r.stop])).toEqual([[1, 'deadline']]);
    const roomy = await collect(engine.run(image, { budget: { deadline_ms: 60_000 } }));
    expect(roomy.at(-1)!.stop).toBe('final_exit');
  });

  it('stops at the deadline when waiting for the device ate the time left', async () => {
    // stage 2 is granted the device only after the deadline has passed
    let gate: (() => void) | undefined;
    const acquire = async (stage: number) => {
      if (stage === 2) await new Promise<void>((resolve) => (gate = resolve));
      return () => undefined;
    };
    const gen = engine.run(image, { budget: { deadline_ms: 25 }, acquire, arrivedAt: performance.now() });
    const first = await gen.next();
    expect(first.value).toMatchObject({ exit: 1, stop: null });
    const second = gen.next();
    while (!gate) await new Promise((r) => setImmediate(r));
    const waitUntil = performance.now() + 30;
    while (performance.now() < waitUntil) await new Promise((r) => setTimeout(r, 5));
    gate();
    expect(await second).toEqual({ done: true, value: 'deadline' });
  });

  it('gives way before exit 1 when a contended device comes too late, and only then', async () => {
    const acquire = async () => () => undefined;
    // the deadline has passed when the device is granted
    const late = { budget: { deadline_ms: 5 }, arrivedAt: performance.now() - 1000, acquire };
    const gen = engine.run(image, { ...late, waiting: () => true });
    expect(await gen.next()).toEqual({ done: true, value: 'deadline' });
    // nobody waits: the late first exit still comes
    expect((await collect(engine.run(image, { ...late, waiting: () => false }))).map((r) => [r.exit, r.stop])).toEqual([[1, 'deadline']]);
    // in time: others waiting change nothing
    const roomy = await collect(engine.run(image, { budget: { deadline_ms: 60_000 }, acquire, waiting: () => true }));
    expect(roomy.at(-1)!.stop).toBe('final_exit');
  });

  it('starts the next stage before handing out an exit, so the consumer overlaps it', async () => {
    const events: string[] = [];
    const acquire = async (stage: number) => {
      events.push(`device for stage ${stage}`);
      return () => undefined;
    };
    const gen = engine.run(image, { acquire });
    for (let k = 1; k <= 4; k++) {
      const step = await gen.next();
      events.push(`exit ${(step.value as ExitResult).exit}`);
    }
    expect(events).toEqual(['device for stage 1', 'device for stage 2', 'exit 1', 'device for stage 3', 'exit 2', 'device for stage 4', 'exit 3', 'exit 4']);
  });

  it('starts no stage past a stop when the forms do not depend on the share', async () => {
    // pinned forms: each next stage starts as soon as the last one ends, unless a stop may come
    const pinned = await AnytimeEngine.load(dir, { threads: 1, warmup: false, forms: { 1: 'masked', 2: 'masked', 3: 'masked', 4: 'masked' } });
    try {
      const asked: number[] = [];
      const acquire = async (stage: number) => {
        asked.push(stage);
        return () => undefined;
      };
      expect((await collect(pinned.run(image, { acquire, budget: { max_exit: 2 } }))).map((r) => [r.exit, r.stop])).toEqual([[1, null], [2, 'max_exit']]);
      expect(asked).toEqual([1, 2]);
      asked.length = 0;
      const gflops = pinned.info().exitGflops[0]! * 1.0001;
      expect((await collect(pinned.run(image, { acquire, budget: { gflops, threshold: 1 } }))).map((r) => r.stop)).toEqual(['gflops']);
      expect(asked).toEqual([1]);
      asked.length = 0;
      expect((await collect(pinned.run(image, { acquire, budget: { deadline_ms: 0.001 } }))).map((r) => r.stop)).toEqual(['deadline']);
      expect(asked).toEqual([1]);
      asked.length = 0;
      expect((await collect(pinned.run(image, { acquire }))).map((r) => r.exit)).toEqual([1, 2, 3, 4]);
      expect(asked).toEqual([1, 2, 3, 4]);
    } finally {
      await pinned.close();
    }
  });

  it('fails on the next call, not in the process, when a stage started early fails while the consumer has an exit', async () => {
    const acquire = async (stage: number) => {
      if (stage === 2) throw new Error('no device for stage 2');
      return () => undefined;
    };
    const gen = engine.run(image, { acquire });
    const first = await gen.next();
    expect(first.value).toMatchObject({ exit: 1, stop: null });
    // the failure has happened before the consumer asks again (an unhandled rejection would fail this test)
    await new Promise((r) => setImmediate(r));
    await expect(gen.next()).rejects.toThrow('no device for stage 2');
    // the run is over, and the engine runs the next frame
    expect((await collect(engine.run(image))).at(-1)!.stop).toBe('final_exit');
  });

  it('is cancelled between stages by an AbortSignal', async () => {
    const controller = new AbortController();
    const gen = engine.run(image, { signal: controller.signal });
    const first = await gen.next();
    expect(first.done).toBe(false);
    controller.abort();
    const next = await gen.next();
    expect(next).toEqual({ done: true, value: 'cancelled' });
    const pre = new AbortController();
    pre.abort();
    const results = await collect(engine.run(image, { signal: pre.signal }));
    expect(results.map((r) => [r.exit, r.stop])).toEqual([[1, 'cancelled']]);
  });

  it('returns confidence only when asked', async () => {
    const [plain] = await collect(engine.run(image, { budget: { max_exit: 1 } }));
    const [withConf] = await collect(engine.run(image, { budget: { max_exit: 1 }, withConfidence: true }));
    expect(plain!.confidence).toBeUndefined();
    expect(withConf!.confidence!.length).toBe(16 * 32);
    expect(Math.max(...withConf!.confidence!)).toBeLessThanOrEqual(1);
  });
});

describe.runIf(nativeUnavailable() === null)('native stages back to back', () => {
  let native: AnytimeEngine;
  beforeAll(async () => {
    native = await AnytimeEngine.load(dir, { threads: 1, warmup: false, forms: { 1: 'native', 2: 'native', 3: 'native', 4: 'native' } });
  }, 60_000);
  afterAll(async () => {
    await native?.close();
  });

  it('hold the device once, give what stage by stage gives, and run stage by stage while others wait for the device', async () => {
    const events: string[] = [];
    const acquire = async (stage: number) => {
      events.push(`device for ${stage}`);
      return () => void events.push('released');
    };
    const chained = await collect(native.run(image, { acquire }));
    expect(events).toEqual(['device for 1', 'released']);
    events.length = 0;
    const single = await collect(native.run(image, { acquire, waiting: () => true }));
    expect(events).toEqual(['device for 1', 'released', 'device for 2', 'released', 'device for 3', 'released', 'device for 4', 'released']);
    expect(chained.map((r) => [r.exit, r.stop, r.form])).toEqual(single.map((r) => [r.exit, r.stop, r.form]));
    chained.forEach((r, i) => {
      expect(r.labels).toEqual(single[i]!.labels);
      expect(r.computedShare).toBe(single[i]!.computedShare);
      expect(r.gflops).toBe(single[i]!.gflops);
    });
    // a notice that others start to wait, given as the chain would start, keeps it from starting: every stage holds the device on its own
    events.length = 0;
    const told = await collect(native.run(image, { acquire, waiting: () => false, whenWaiting: (listener) => { listener(); return () => undefined; } }));
    expect(events).toEqual(['device for 1', 'released', 'device for 2', 'released', 'device for 3', 'released', 'device for 4', 'released']);
    told.forEach((r, i) => expect(r.labels).toEqual(single[i]!.labels));
    // a chain ends at the budget's last exit
    events.length = 0;
    expect((await collect(native.run(image, { acquire, budget: { max_exit: 2 } }))).map((r) => [r.exit, r.stop])).toEqual([[1, null], [2, 'max_exit']]);
    expect(events).toEqual(['device for 1', 'released']);
  });

  it('end when cancelled between exits, and the engine runs the next frame on the same runs', async () => {
    for (let after = 1; after <= 3; after++) {
      const controller = new AbortController();
      const gen = native.run(image, { signal: controller.signal });
      for (let k = 0; k < after; k++) expect((await gen.next()).done).toBe(false);
      controller.abort();
      expect(await gen.next()).toEqual({ done: true, value: 'cancelled' });
    }
    // a consumer that stops early: the chain ends before the run is given back
    for await (const r of native.run(image)) if (r.exit === 2) break;
    expect((await collect(native.run(image))).map((r) => r.stop)).toEqual([null, null, null, 'final_exit']);
  });
});

describe('form choice from measured crossovers', () => {
  it('runs the form that crossovers.json says is fastest at each share', async () => {
    const copy = join(mkdtempSync(join(tmpdir(), 'adpc-cross-')), 'b');
    cpSync(dir, copy, { recursive: true });
    const shares = [1, 0.5, 0.1];
    const times = (masked: number[], sparse?: number[]) => ({ shares, ms: { masked, plain: [1, null, null], ...(sparse ? { sparse } : {}) } });
    await writeCrossovers(copy, 'cpu', {
      measured_at: '2026-12-01', machine: 'test', threads: 1, native_isa: null,
      stages: { 2: times([9, 9, 9]), 3: times([9, 9, 9]), 4: times([9, 9, 9], [20, 1, 1]) },
    });
    const chosen = await AnytimeEngine.load(copy, { threads: 1, native: false });
    try {
      const results = await collect(chosen.run(image));
      const share4 = results[3]!.computedShare;
      expect(results.map((r) => r.form)).toEqual(['masked', 'masked', 'masked', share4 <= 0.98 ? 'sparse' : 'masked']);
      const off = await collect(chosen.run(image, { budget: { threshold: 1 } }));
      expect(off.map((r) => r.form)).toEqual(['masked', 'plain', 'plain', 'plain']);
    } finally {
      await chosen.close();
      rmSync(dirname(copy), { recursive: true, force: true });
    }
  });
});

describe('budgets', () => {
  it('accepts the documented fields and rejects bad values with BUDGET_INVALID', () => {
    expect(parseBudget({ max_exit: 3, gflops: 1.5, deadline_ms: 40, threshold: 0.9 })).toEqual({ max_exit: 3, gflops: 1.5, deadline_ms: 40, threshold: 0.9 });
    expect(parseBudget(undefined)).toEqual({});
    for (const bad of [{ max_exit: 0 }, { max_exit: 5 }, { max_exit: 2.5 }, { gflops: -1 }, { deadline_ms: 0 }, { threshold: 0 }, { threshold: 1.5 }, { other: 1 }]) {
      expect(() => parseBudget(bad)).toThrow(expect.objectContaining({ code: 'BUDGET_INVALID' }));
    }
  });
});

describe('bundle loading errors', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'adpc-badbundle-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  function copyBundle(name: string, edit?: (manifest: Record<string, unknown>) => void): string {
    const target = join(scratch, name);
    cpSync(dir, target, { recursive: true });
    if (edit) {
      const manifest = JSON.parse(readFileSync(join(target, 'manifest.json'), 'utf8'));
      edit(manifest);
      writeFileSync(join(target, 'manifest.json'), JSON.stringify(manifest));
    }
    return target;
  }

  it('names the file for a missing bundle', async () => {
    await expect(readManifest(join(scratch, 'nope'))).rejects.toMatchObject({ code: 'BUNDLE_NOT_FOUND', message: expect.stringContaining('manifest.json') });
  });

  it('rejects bad JSON, a wrong version and a broken manifest', async () => {
    const bad = copyBundle('badjson');
    writeFileSync(join(bad, 'manifest.json'), '{"format": ');
    await expect(readManifest(bad)).rejects.toMatchObject({ code: 'BUNDLE_INVALID' });
    await expect(readManifest(copyBundle('v99', (m) => { m.version = 99; }))).rejects.toMatchObject({ code: 'BUNDLE_VERSION' });
    await expect(readManifest(copyBundle('nostages', (m) => { m.stages = []; }))).rejects.toMatchObject({ code: 'BUNDLE_INVALID', message: expect.stringContaining('stages') });
  });

  it('rejects a graph whose names or shapes differ from the manifest, and a missing graph file', async () => {
    const renamed = copyBundle('renamed', (m) => {
      const stages = m.stages as { inputs: { name: string }[] }[];
      stages[1]!.inputs[0]!.name = 'wrong';
    });
    await expect(AnytimeEngine.load(renamed, { warmup: false })).rejects.toMatchObject({ code: 'BUNDLE_MISMATCH' });
    const reshaped = copyBundle('reshaped', (m) => {
      const stages = m.stages as { outputs: { name: string; shape: number[] }[] }[];
      stages[2]!.outputs.find((o) => o.name === 'labels')!.shape = [1, 8, 8];
    });
    await expect(AnytimeEngine.load(reshaped, { warmup: false })).rejects.toMatchObject({
      code: 'BUNDLE_MISMATCH', message: expect.stringContaining('labels is uint8[1x16x32] in the graph, uint8[1x8x8] in the manifest'),
    });
    const missing = copyBundle('missing');
    rmSync(join(missing, 'stage3.onnx'));
    await expect(AnytimeEngine.load(missing, { warmup: false })).rejects.toMatchObject({ code: 'BUNDLE_NOT_FOUND', message: expect.stringContaining('stage3.onnx') });
  });

  it('names how to install a provider that cannot start, and logs what auto picked', async (ctx) => {
    // onnxruntime-node ships no CUDA provider binaries unless they were installed
    const cuda = await AnytimeEngine.load(dir, { provider: 'cuda', warmup: false }).then(
      async (e) => { await e.close(); return null; },
      (e: unknown) => e,
    );
    if (cuda === null) ctx.skip(); // CUDA starts on this machine: there is no install hint to check
    expect(cuda).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', message: expect.stringContaining('ONNXRUNTIME_NODE_INSTALL=cuda12') });
    const lines: string[] = [];
    const auto = await AnytimeEngine.load(dir, { provider: 'auto', warmup: false, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toContain(`execution provider auto: using ${auto.provider}`);
    await auto.close();
  });

  it('says why the native executor does not run when it is turned off', async () => {
    const off = await AnytimeEngine.load(dir, { native: false, warmup: false });
    expect(off.info().native).toEqual({ unavailable: 'disabled by the engine options' });
    await off.close();
  });

  it('rejects an unknown provider by name', async () => {
    await expect(AnytimeEngine.load(dir, { provider: 'tpu' as never, warmup: false })).rejects.toMatchObject({ code: 'PROVIDER_UNKNOWN' });
  });
});
