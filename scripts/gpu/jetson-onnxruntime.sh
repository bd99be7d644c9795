#!/usr/bin/env bash
# Builds onnxruntime with CUDA and TensorRT for a Jetson (JetPack 6, arm64) at the version of
# the installed onnxruntime-node, with its Node binding, and puts the result where
# onnxruntime-node loads it: onnxruntime-node's own linux-arm64 build is CPU-only (its binding
# is compiled without CUDA or TensorRT), so a new library alone is not enough.
#
#   bash scripts/gpu/jetson-onnxruntime.sh [--out DIR] [--install] [--no-tensorrt]
#                                          [--src DIR] [--jobs N] [--dry-run]
#
# Run it on the Jetson itself (or in an nvcr.io/nvidia/l4t-jetpack container on one), after
# `npm ci`; it needs git, cmake >= 3.28, python3, g++, CUDA and cuDNN from JetPack, TensorRT
# unless --no-tensorrt, internet access (onnxruntime's sources and their submodules), and
# hours and 16+ GB of disk (use a swap file on 8 GB boards). --out DIR (default
# deploy/jetson/onnxruntime) receives the files for Dockerfile.jetson; --install also copies
# them into node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/ for running without Docker.
# Afterwards `node --import tsx scripts/gpu/providers.ts` must list cuda (and tensorrt) live.
#
# Versions: onnxruntime's CUDA provider needs CUDA 12 and cuDNN 9 (JetPack 6.1 and later;
# JetPack 6.0 has cuDNN 8.9), its TensorRT provider the TensorRT major version its release
# notes name (10.x; JetPack 6.1/6.2 ship TensorRT 10.3). Orin is CUDA architecture 87.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=deploy/jetson/onnxruntime
INSTALL=0
TENSORRT=1
SRC=${ORT_SRC:-$HOME/onnxruntime}
JOBS=$(nproc)
DRY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --install) INSTALL=1; shift ;;
    --no-tensorrt) TENSORRT=0; shift ;;
    --src) SRC=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "jetson-onnxruntime: unknown option $1" >&2; exit 2 ;;
  esac
done
run() {
  echo "+ $*" >&2
  if [ "$DRY" = 0 ]; then "$@"; fi
}

VERSION=$(node -p "require('./node_modules/onnxruntime-node/package.json').version")
BIN=node_modules/onnxruntime-node/bin/napi-v6/linux/arm64
if [ "$(uname -m)" != aarch64 ] && [ "$DRY" = 0 ]; then
  echo "jetson-onnxruntime: run this on the Jetson (arm64); this is $(uname -m). --dry-run shows the steps." >&2
  exit 2
fi
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
LIBDIR=/usr/lib/aarch64-linux-gnu
echo "jetson-onnxruntime: onnxruntime v$VERSION for onnxruntime-node $VERSION, CUDA at $CUDA_HOME, TensorRT $([ $TENSORRT = 1 ] && echo on || echo off)" >&2

if [ ! -d "$SRC/.git" ]; then
  run git clone --recursive --depth 1 --shallow-submodules --branch "v$VERSION" https://github.com/microsoft/onnxruntime "$SRC"
fi
flags=(--config Release --update --build --parallel "$JOBS" --build_shared_lib --build_nodejs --skip_tests
  --use_cuda --cuda_home "$CUDA_HOME" --cudnn_home "$LIBDIR"
  --cmake_extra_defines CMAKE_CUDA_ARCHITECTURES=87 onnxruntime_BUILD_UNIT_TESTS=OFF)
if [ "$TENSORRT" = 1 ]; then flags+=(--use_tensorrt --tensorrt_home "$LIBDIR"); fi
run bash -c "cd '$SRC' && ./build.sh ${flags[*]}"

# The Node build leaves the binding and the libraries it loads under js/node/bin; the
# provider libraries come from the C++ build folder.
want=(onnxruntime_binding.node libonnxruntime.so.1 libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so)
if [ "$TENSORRT" = 1 ]; then want+=(libonnxruntime_providers_tensorrt.so); fi
run mkdir -p "$OUT"
for f in "${want[@]}"; do
  if [ "$DRY" = 1 ]; then echo "+ cp <$f from $SRC/js/node/bin or $SRC/build/Linux/Release> $OUT/" >&2; continue; fi
  found=$(find "$SRC/js/node/bin" "$SRC/build/Linux/Release" -maxdepth 6 -name "$f" -print -quit 2>/dev/null || true)
  [ -n "$found" ] || { echo "jetson-onnxruntime: $f not found in the build" >&2; exit 1; }
  cp -L "$found" "$OUT/$f"
done
if [ "$INSTALL" = 1 ]; then
  run cp "$OUT"/*.node "$OUT"/*.so* "$BIN"/
fi
echo "jetson-onnxruntime: built into $OUT$([ $INSTALL = 1 ] && echo " and installed into $BIN"). Check: node --import tsx scripts/gpu/providers.ts" >&2
