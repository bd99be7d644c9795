#!/usr/bin/env bash
# Runs the model side with an interpreter that has PyTorch. Debian's python3-torch lives
# in /usr/bin/python3, which is often not the python3 first on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${ADPC_PYTHON:-}"
if [ -z "$PY" ]; then
  for candidate in /usr/bin/python3 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import torch' 2>/dev/null; then
      PY="$candidate"; break
    fi
  done
fi
if [ -z "$PY" ]; then
  echo "error: no python3 with PyTorch found. Run 'npm run setup:python' (Debian/Ubuntu)" >&2
  echo "       or set ADPC_PYTHON to an interpreter that has torch, numpy and pillow." >&2
  exit 3
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" "$@"
