#!/usr/bin/env bash
# Installs the Python packages from Debian for /usr/bin/python3: the model side (torch 1.13) and
# the Python stream client's websockets (client/adpc_client.py).
set -euo pipefail
if /usr/bin/python3 -c 'import torch, numpy, PIL, pytest, onnx, jsonschema, websockets' 2>/dev/null; then
  echo "python: torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') already installed"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
  python3-torch python3-numpy python3-pil python3-pytest python3-onnx python3-jsonschema python3-websockets >/dev/null
/usr/bin/python3 -c 'import torch; print("python: torch", torch.__version__, "installed")'
