#!/usr/bin/env bash
# The project's test command: typecheck, vitest (TypeScript) and pytest (models/), one summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p reports
rm -f reports/vitest.json reports/pytest.xml
npx tsc --noEmit
typecheck_rc=$?
npx vitest run --reporter=default --reporter=json --outputFile.json=reports/vitest.json
vitest_rc=$?
bash scripts/py.sh -m pytest -q -p no:cacheprovider test/python --junitxml=reports/pytest.xml
pytest_rc=$?
node scripts/test-summary.mjs reports/vitest.json reports/pytest.xml
summary_rc=$?
if [ $typecheck_rc -ne 0 ]; then echo 'typecheck failed (tsc --noEmit)' >&2; fi
if [ $typecheck_rc -ne 0 ] || [ $vitest_rc -ne 0 ] || [ $pytest_rc -ne 0 ] || [ $summary_rc -ne 0 ]; then exit 1; fi
