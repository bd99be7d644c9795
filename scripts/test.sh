#!/usr/bin/env bash
# The project's test command: typecheck, vitest (TypeScript) and pytest (models/), one summary line.
# On a fresh machine it first brings up the Python side (as root), or stops at once saying how.
set -uo pipefail
cd "$(dirname "$0")/.."

# find_spec looks without importing (importing torch alone takes seconds)
PY_CHECK='import importlib.util as u, sys; sys.exit(0 if all(u.find_spec(m) for m in ("torch", "numpy", "PIL", "pytest", "onnx", "jsonschema", "websockets")) else 3)'
if ! bash scripts/py.sh -c "$PY_CHECK" 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo 'npm test: installing the Python side (torch, numpy, Pillow, pytest, onnx, jsonschema, websockets from Debian): bash scripts/setup-python.sh'
    bash scripts/setup-python.sh && bash scripts/py.sh -c "$PY_CHECK" || {
      echo 'npm test: the Python side is still missing after scripts/setup-python.sh (set ADPC_PYTHON to an interpreter with torch, numpy, Pillow, pytest, onnx, jsonschema and websockets)' >&2
      exit 1
    }
  else
    echo 'npm test: Python with torch, numpy, Pillow, pytest, onnx, jsonschema and websockets is missing; install it with: sudo bash scripts/setup-python.sh (or set ADPC_PYTHON)' >&2
    exit 1
  fi
fi

mkdir -p reports
rm -f reports/vitest.json reports/pytest.xml
# the server and tests, then the page (web/: browser types)
npx tsc --noEmit && npx tsc --noEmit -p web
typecheck_rc=$?
npx vitest run --reporter=default --reporter=json --outputFile.json=reports/vitest.json
vitest_rc=$?
bash scripts/py.sh -m pytest -q -p no:cacheprovider test/python --junitxml=reports/pytest.xml
pytest_rc=$?
ADPC_TYPECHECK_RC=$typecheck_rc node scripts/test-summary.mjs reports/vitest.json reports/pytest.xml
summary_rc=$?
if [ $typecheck_rc -ne 0 ] || [ $vitest_rc -ne 0 ] || [ $pytest_rc -ne 0 ] || [ $summary_rc -ne 0 ]; then exit 1; fi
