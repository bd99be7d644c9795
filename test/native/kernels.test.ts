// The native kernels' C++ tests (native/test/kernels_test.cc) through their Makefile: every
// ISA this CPU runs against naive references, and the thread pool. arm64 NEON runs under
// qemu-user when Debian's cross compiler and qemu-aarch64 are installed.
import { execFile, execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/python.js';

const run = promisify(execFile);
const nativeDir = join(repoRoot, 'native');
const jobs = `-j${Math.max(1, availableParallelism())}`;

function onPath(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function make(target: string): Promise<{ output: string; code: number }> {
  try {
    const { stdout, stderr } = await run('make', ['-C', nativeDir, jobs, target], { maxBuffer: 64 << 20 });
    return { output: stdout + stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number };
    return { output: `${err.stdout ?? ''}${err.stderr ?? ''}`, code: err.code ?? 1 };
  }
}

// The closing line of kernels_test: "kernels_test: N passed, M failed".
function summary(output: string): { passed: number; failed: number } | undefined {
  const m = /kernels_test: (\d+) passed, (\d+) failed/.exec(output);
  return m ? { passed: Number(m[1]), failed: Number(m[2]) } : undefined;
}

const arm64Tools = ['aarch64-linux-gnu-g++', 'qemu-aarch64'];
const arm64Missing = arm64Tools.filter((t) => !onPath(t));

describe('native kernels (make -C native)', () => {
  it('check: every supported ISA matches the naive reference; the pool holds its guarantees', async () => {
    const { output, code } = await make('check');
    const s = summary(output);
    expect(s, output).toBeDefined();
    expect(s!.failed, output).toBe(0);
    expect(s!.passed).toBeGreaterThan(1000);
    expect(output).toMatch(/check-symbols: ISA units define no weak symbols/);
    expect(code, output).toBe(0);
  }, 600_000);

  if (arm64Missing.length > 0) {
    console.warn(`native kernels: arm64 NEON check skipped: ${arm64Missing.join(' and ')} not on PATH ` +
      '(apt-get install -y g++-aarch64-linux-gnu qemu-user)');
  }
  it.skipIf(arm64Missing.length > 0)('check-arm64: NEON and scalar under qemu-aarch64 match the reference', async () => {
    const { output, code } = await make('check-arm64');
    const s = summary(output);
    expect(s, output).toBeDefined();
    expect(output).toMatch(/kernels_test: ISAs scalar neon/);
    expect(s!.failed, output).toBe(0);
    expect(code, output).toBe(0);
  }, 900_000);
});
