// Starts one execution provider on the probe graph and checks its answer. Run as a script
// (`node --import tsx src/runtime/provider-probe.ts cuda`) it prints the outcome as one JSON
// line: provider-check.ts runs each probe in its own process, so that a GPU context, a driver
// crash or onnxruntime's own stderr never lands in the server.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkProviderName, createSession, floatTensor, releaseSession, type ProviderName } from './onnx.js';
import { PROBE_INPUT_DIMS, probeExpected, probeInput, probeModel } from './probe-model.js';

export type ConcreteProvider = Exclude<ProviderName, 'auto'>;

export interface ProbeOutcome {
  readonly provider: ConcreteProvider;
  readonly live: boolean;
  /** Milliseconds from creating the session to the checked result (or to the failure). */
  readonly ms: number;
  /** Why it is not live. */
  readonly error?: string;
}

/** Largest absolute difference accepted from the reference: the probe's arithmetic is exact. */
const TOLERANCE = 1e-4;

export async function probeProvider(provider: ConcreteProvider): Promise<ProbeOutcome> {
  const dir = await mkdtemp(join(tmpdir(), 'adpc-probe-'));
  const path = join(dir, 'probe.onnx');
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    await writeFile(path, probeModel());
    const loaded = await createSession(path, { provider, threads: 1 });
    try {
      const outputs = await loaded.session.run({ x: floatTensor(probeInput(), PROBE_INPUT_DIMS) });
      const y = outputs.y?.data as Float32Array | undefined;
      const expected = probeExpected();
      if (!y || y.length !== expected.length) return { provider, live: false, ms: elapsed(), error: 'the probe graph returned no output of the expected size' };
      const worst = y.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i]!)), 0);
      if (!(worst <= TOLERANCE)) return { provider, live: false, ms: elapsed(), error: `wrong result: the probe convolution differs from the reference by up to ${worst}` };
      return { provider, live: true, ms: elapsed() };
    } finally {
      await releaseSession(loaded);
    }
  } catch (e) {
    return { provider, live: false, ms: elapsed(), error: (e as Error).message.split(path).join('the probe graph') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const name = checkProviderName(process.argv[2] ?? '');
  if (name === 'auto') throw new Error('probe one concrete provider, not auto');
  process.stdout.write(`${JSON.stringify(await probeProvider(name))}\n`);
  process.exit(0);
}
