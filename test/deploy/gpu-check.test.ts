// scripts/gpu-check.sh stays runnable where there is no GPU: its CPU parts end in a report
// with the labels check, and its dry run names every step.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/python.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function gpuCheck(args: string[]): Promise<{ code: number | null; stderr: string; out: string }> {
  const out = mkdtempSync(join(tmpdir(), 'adpc-gpu-check-'));
  dirs.push(out);
  const child = spawn('bash', ['scripts/gpu-check.sh', '--out', join(out, 'out'), ...args], {
    cwd: repoRoot, env: { ...process.env, ADPC_GPU_WORK: join(out, 'work') }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const [code] = await once(child, 'exit') as [number | null];
  return { code, stderr, out: join(out, 'out') };
}

describe('scripts/gpu-check.sh', () => {
  it('runs its CPU parts to a report that checks labels against the CPU provider', async () => {
    const { code, stderr, out } = await gpuCheck(['--cpu-only', '--images', '1', '--threads', '1', '--no-w48', '--no-crossovers']);
    expect(code, stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['default.json', 'gpu-check.log', 'providers.json', 'report.md']);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('| cpu | on |');
    expect(report).toMatch(/cpu\+native: labels identical to CPU on [\d.]+% of pixels at its worst exit: meets the 99\.90% target/);
    const providers = JSON.parse(readFileSync(join(out, 'providers.json'), 'utf8')) as { providers: { provider: string; live: boolean }[] };
    expect(providers.providers.find((p) => p.provider === 'cpu')?.live).toBe(true);
  }, 120_000);

  it('names every step in a dry run', async () => {
    const { code, stderr } = await gpuCheck(['--dry-run']);
    expect(code, stderr).toBe(0);
    for (const step of ['scripts/gpu/providers.ts', 'scripts/gpu/measure.ts --bundle models/default', 'random-checkpoint.py --arch w48 --height 512 --width 1024', 'npm run --silent export', 'bench:stages', '--write-crossover']) {
      expect(stderr).toContain(step);
    }
  });
});
