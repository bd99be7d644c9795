// The closing line of `npm test` counts a vitest file that fails to load, or fails outside its
// tests, and a failed typecheck, as failed: checked on a real vitest run over a throwaway copy with broken suites.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/python.js';

const dir = mkdtempSync(join(tmpdir(), 'adpc-summary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('scripts/test-summary.mjs', () => {
  it('counts suites that fail to load or throw outside their tests as failed', () => {
    symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
    writeFileSync(join(dir, 'ok.test.ts'), "import { expect, it } from 'vitest';\nit('passes', () => expect(1).toBe(1));\n");
    writeFileSync(join(dir, 'missing-import.test.ts'), "import { it } from 'vitest';\nimport { nothing } from './nowhere.js';\nit('never runs', () => nothing());\n");
    writeFileSync(join(dir, 'throws.test.ts'), "import { it } from 'vitest';\nthrow new Error('broken at load');\nit('never runs', () => {});\n");
    writeFileSync(join(dir, 'pytest.xml'), '<?xml version="1.0"?><testsuites><testsuite name="pytest" errors="0" failures="0" skipped="0" tests="2"></testsuite></testsuites>');
    const vitest = spawnSync(join(repoRoot, 'node_modules', '.bin', 'vitest'),
      ['run', '--root', dir, '--reporter=json', `--outputFile.json=${join(dir, 'vitest.json')}`], { cwd: dir, encoding: 'utf8' });
    expect(vitest.status).toBe(1);
    const summary = spawnSync('node', [join(repoRoot, 'scripts', 'test-summary.mjs'), join(dir, 'vitest.json'), join(dir, 'pytest.xml')], { encoding: 'utf8' });
    expect(summary.stdout.trim()).toBe('3 passed, 2 failed');
    expect(summary.status).toBe(1);
    expect(summary.stderr).toContain('missing-import.test.ts');
    // and a clean run stays clean
    rmSync(join(dir, 'missing-import.test.ts'));
    rmSync(join(dir, 'throws.test.ts'));
    execFileSync(join(repoRoot, 'node_modules', '.bin', 'vitest'), ['run', '--root', dir, '--reporter=json', `--outputFile.json=${join(dir, 'vitest.json')}`], { cwd: dir, stdio: 'ignore' });
    expect(execFileSync('node', [join(repoRoot, 'scripts', 'test-summary.mjs'), join(dir, 'vitest.json'), join(dir, 'pytest.xml')], { encoding: 'utf8' }).trim()).toBe('3 passed, 0 failed');
    // the typecheck counts as a suite of its own
    const typecheck = (rc: string) => spawnSync('node', [join(repoRoot, 'scripts', 'test-summary.mjs'), join(dir, 'vitest.json'), join(dir, 'pytest.xml')],
      { encoding: 'utf8', env: { ...process.env, ADPC_TYPECHECK_RC: rc } });
    const broken = typecheck('2');
    expect(broken.stdout.trim()).toBe('3 passed, 1 failed');
    expect(broken.stderr).toContain('typecheck failed');
    expect(broken.status).toBe(1);
    expect(typecheck('0').stdout.trim()).toBe('4 passed, 0 failed');
  }, 60_000);
});
