// Prints one closing line "N passed, N failed" from vitest's JSON report and pytest's
// JUnit XML, so CI counts both suites. A missing report counts as a failure, and so does a
// vitest file that failed outside its tests (it did not load, or a hook threw): vitest's JSON
// counts no test for it, only the file's status says so. The typecheck (its exit status in
// ADPC_TYPECHECK_RC) counts as one more suite: passed or failed.
import { readFileSync, existsSync } from 'node:fs';

const [vitestPath, pytestPath] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;

const typecheck = process.env.ADPC_TYPECHECK_RC;
if (typecheck !== undefined) {
  if (typecheck === '0') passed += 1;
  else {
    console.error('typecheck failed (tsc --noEmit, tsc --noEmit -p web)');
    failed += 1;
  }
}

if (vitestPath && existsSync(vitestPath)) {
  const report = JSON.parse(readFileSync(vitestPath, 'utf8'));
  passed += report.numPassedTests ?? 0;
  failed += report.numFailedTests ?? 0;
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  for (const file of report.testResults ?? []) {
    if (file.status === 'failed' && !(file.assertionResults ?? []).some((a) => a.status === 'failed')) {
      console.error(`suite failed outside its tests: ${file.name}: ${(file.message ?? '').split('\n')[0]}`);
      failed += 1;
    }
  }
} else {
  console.error(`missing vitest report: ${vitestPath}`);
  failed += 1;
}

if (pytestPath && existsSync(pytestPath)) {
  const xml = readFileSync(pytestPath, 'utf8');
  const attr = (name) => {
    const m = xml.match(new RegExp(`<testsuite[^>]*\\s${name}="(\\d+)"`));
    return m ? Number(m[1]) : 0;
  };
  const tests = attr('tests');
  const bad = attr('failures') + attr('errors');
  const skip = attr('skipped');
  passed += tests - bad - skip;
  failed += bad;
  skipped += skip;
} else {
  console.error(`missing pytest report: ${pytestPath}`);
  failed += 1;
}

console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
