#!/usr/bin/env bash
# Packs what a bare x86-64 Linux machine without internet needs to run the engine from this
# checkout: DIR/node.tar.xz (this node, unpacked under /usr/local) and DIR/node_modules.tar.xz
# (the production dependencies trimmed to linux-x64, with the native addon built here).
# scripts/gpu-check.sh --runtime DIR unpacks them where node or node_modules are missing.
#
#   bash scripts/gpu/pack-runtime.sh .gpu-runtime
#
# It prints the archives' sizes beside the checkout's: a machine that takes at most 64 MiB per
# call may need the two archives sent in two calls (docs/GPU.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${1:?usage: pack-runtime.sh DIR}
mkdir -p "$DIR"
[ "$(uname -m)" = x86_64 ] || { echo "pack-runtime: this packs x86-64 binaries; run it on x86-64" >&2; exit 2; }
[ -f native/build/Release/adpc_native.node ] || echo "pack-runtime: the native addon is not built here: the engine will run every stage in onnxruntime" >&2

node_bin=$(command -v node)
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/bin"
cp "$node_bin" "$staging/bin/node"
tar -C "$staging" -cJf "$DIR/node.tar.xz" bin/node

mapfile -t modules < <(npm ls --omit=dev --all --parseable 2>/dev/null | sed "s|^$PWD/||" | grep '^node_modules/' | sort -u)
tar --exclude='*/napi-v6/darwin' --exclude='*/napi-v6/win32' --exclude='*/napi-v6/linux/arm64' \
  -cJf "$DIR/node_modules.tar.xz" "${modules[@]}" $( [ -f native/build/Release/adpc_native.node ] && echo native/build/Release/adpc_native.node )

du -b "$DIR"/*.tar.xz | awk '{ printf "pack-runtime: %s %.1f MiB\n", $2, $1 / 1048576 }'
git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | awk '{ printf "pack-runtime: the checkout'"'"'s tracked files: %.1f MiB\n", $1 / 1048576 }'
