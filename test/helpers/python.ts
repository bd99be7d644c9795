// Runs the model side (scripts/py.sh picks an interpreter with PyTorch).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function runPython(args: string[]): string {
  return execFileSync('bash', [join(repoRoot, 'scripts', 'py.sh'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
