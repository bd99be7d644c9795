// The start-up provider check: the probe graph runs on the CPU, every provider gets a status
// with a reason when it is not live, and a probe that hangs or crashes is reported, not thrown.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKED_PROVIDERS, ORT_BIN_DIR, checkProviders, providerSummary } from '../../src/runtime/provider-check.js';
import { probeProvider } from '../../src/runtime/provider-probe.js';
import { probeExpected } from '../../src/runtime/probe-model.js';

describe('provider probe', () => {
  it('runs the hand-written probe graph on the CPU and matches the JavaScript convolution', async () => {
    const outcome = await probeProvider('cpu');
    expect(outcome).toMatchObject({ provider: 'cpu', live: true });
    expect(outcome.error).toBeUndefined();
    // the reference varies with position and channel: zeros, a constant or a transposed
    // layout from a provider cannot pass the check
    expect(new Set(probeExpected()).size).toBeGreaterThan(10);
  });
});

describe('checkProviders', () => {
  it('reports every provider, the CPU live, each other one live or with a reason', async () => {
    const report = await checkProviders();
    expect(report.platform).toBe(`${process.platform}-${process.arch}`);
    expect(report.onnxruntimeVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(report.providers.map((p) => p.provider)).toEqual([...CHECKED_PROVIDERS]);
    for (const p of report.providers) {
      if (!p.live) expect(p.reason, p.provider).toBeTruthy();
    }
    expect(report.providers[0]).toMatchObject({ provider: 'cpu', live: true });
    const summary = providerSummary(report);
    expect(summary).toContain('live cpu');
    for (const p of report.providers.filter((s) => !s.live)) expect(summary).toContain(`${p.provider} (`);
  }, 120_000);

  it('says CUDA is not installed, with the install command, where its provider library is absent', async (ctx) => {
    if (process.platform !== 'linux' || existsSync(join(ORT_BIN_DIR, 'libonnxruntime_providers_cuda.so'))) ctx.skip();
    const [cuda] = (await checkProviders({ providers: ['cuda'] })).providers;
    expect(cuda!.live).toBe(false);
    expect(cuda!.ms).toBeUndefined(); // not probed at all
    expect(cuda!.reason).toContain('libonnxruntime_providers_cuda.so');
    expect(cuda!.hint).toContain(process.arch === 'arm64' ? 'jetson-onnxruntime.sh' : 'ONNXRUNTIME_NODE_INSTALL=cuda12');
  });

  it('reports a probe that outlives its timeout as not live instead of waiting or throwing', async () => {
    const [cpu] = (await checkProviders({ providers: ['cpu'], timeoutMs: 1 })).providers;
    expect(cpu).toMatchObject({ provider: 'cpu', live: false });
    expect(cpu!.reason).toMatch(/probe process (was ended by SIGKILL|exited)/);
  });
});
