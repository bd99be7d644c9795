#!/usr/bin/env bash
# The GPU figures docs/GPU.md asks for, in one run on a GPU machine:
#   - which execution providers start (scripts/gpu/providers.ts);
#   - on the default bundle and the synthetic test split, per live provider, interleaved with
#     the CPU: labels identical to the CPU provider's (target >= 99.9% of pixels), time to each
#     exit, CA on vs off, the plain model (scripts/gpu/measure.ts);
#   - the same for a large model: W48 at 512x1024 with random weights, exported here;
#   - the stage-form crossovers per provider (npm run bench:stages -- --write-crossover);
#   - a Markdown report of it all (scripts/gpu/report.ts).
#
#   bash scripts/gpu-check.sh [--out DIR] [--images N] [--w48-images N] [--threads N]
#                             [--providers cpu,webgpu,cuda] [--cpu-only] [--no-w48]
#                             [--no-crossovers] [--debs DIR] [--runtime DIR] [--dry-run]
#
# --cpu-only runs every step on the CPU provider alone (to check the script where there is no
# GPU); --dry-run prints the commands. --debs DIR unpacks the .deb files there (e.g. the Vulkan
# loader, libvulkan1) before anything runs, for a machine whose image lacks them; --runtime DIR
# unpacks what scripts/gpu/pack-runtime.sh made (node, node_modules) where they are missing.
# Output (at most 8 files, for a machine that sends back only a few): report.md, providers.json,
# default.json, w48.json, crossovers.json, bench-stages-PROVIDER.json, gpu-check.log.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT_DIR=reports/gpu
WORK=${ADPC_GPU_WORK:-runs/gpu-check}
IMAGES=30
W48_IMAGES=5
THREADS=0
PROVIDERS=
CPU_ONLY=0
W48=1
CROSSOVERS=1
DRY=0
DEBS=
RUNTIME=
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT_DIR=$2; shift 2 ;;
    --images) IMAGES=$2; shift 2 ;;
    --w48-images) W48_IMAGES=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --providers) PROVIDERS=$2; shift 2 ;;
    --cpu-only) CPU_ONLY=1; shift ;;
    --no-w48) W48=0; shift ;;
    --no-crossovers) CROSSOVERS=0; shift ;;
    --debs) DEBS=$2; shift 2 ;;
    --runtime) RUNTIME=$2; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

mkdir -p "$OUT_DIR" "$WORK"
LOG="$OUT_DIR/gpu-check.log"
: >"$LOG"
say() { echo "gpu-check: $*" | tee -a "$LOG" >&2; }
run() {
  echo "+ $*" | tee -a "$LOG" >&2
  if [ "$DRY" = 0 ]; then "$@"; fi
}
started=$SECONDS
step() { say "[$((SECONDS - started)) s] $*"; }

if [ -n "$DEBS" ]; then
  step "unpacking $DEBS/*.deb"
  for f in "$DEBS"/*.deb; do run dpkg -x "$f" /; done
  run ldconfig
  # the NVIDIA driver's Vulkan ICD where the container runtime mounts it, if the loader finds none
  icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; say "VK_DRIVER_FILES=$icd"; fi
fi
if [ -n "$RUNTIME" ]; then
  if ! command -v node >/dev/null && [ -f "$RUNTIME/node.tar.xz" ]; then step "installing node from $RUNTIME"; run tar -xJf "$RUNTIME/node.tar.xz" -C /usr/local; fi
  if [ ! -d node_modules ] && [ -f "$RUNTIME/node_modules.tar.xz" ]; then step "unpacking node_modules from $RUNTIME"; run tar -xJf "$RUNTIME/node_modules.tar.xz"; fi
fi
command -v node >/dev/null || { say "node is not on PATH (see docs/GPU.md: scripts/gpu/pack-runtime.sh)"; exit 3; }
[ -d node_modules ] || { say "node_modules is missing: run npm ci (or --runtime DIR)"; exit 3; }
tsx() { run node --import tsx "$@"; }

step "machine"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "kernel: $(uname -srm)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) cores)"
  if command -v nvidia-smi >/dev/null; then
    echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
  else
    echo "gpu: none (no nvidia-smi)"
  fi
  echo "node: $(node -v)"
  echo "vulkan loader: $(ldconfig -p | grep -c 'libvulkan.so.1' || true)"
} >"$WORK/machine.txt"
cat "$WORK/machine.txt" | tee -a "$LOG" >&2

step "execution providers"
if [ "$DRY" = 0 ]; then
  node --import tsx scripts/gpu/providers.ts --json >"$OUT_DIR/providers.json"
  node --import tsx scripts/gpu/providers.ts | tee -a "$LOG" >&2
  LIVE=$(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(r.providers.filter((p) => p.live && p.provider !== "cpu").map((p) => p.provider).join(","))' "$OUT_DIR/providers.json")
else
  echo "+ node --import tsx scripts/gpu/providers.ts --json > $OUT_DIR/providers.json" >&2
  LIVE=
fi
if [ "$CPU_ONLY" = 1 ]; then
  PROVIDERS=cpu
elif [ -z "$PROVIDERS" ]; then
  PROVIDERS=cpu${LIVE:+,$LIVE}
  [ -n "$LIVE" ] || [ "$DRY" = 1 ] || say "no GPU execution provider is live here: measuring the CPU only"
fi
say "providers measured: $PROVIDERS"

step "default bundle: $IMAGES images, labels vs CPU, exits, CA on/off, plain model"
tsx scripts/gpu/measure.ts --bundle models/default --providers "$PROVIDERS" --images "$IMAGES" \
  --threads "$THREADS" --out "$OUT_DIR/default.json" >/dev/null
REPORTS=("$OUT_DIR/default.json")

if [ "$W48" = 1 ]; then
  if bash scripts/py.sh -c 'import torch' 2>/dev/null; then
    step "W48 at 512x1024 with random weights: checkpoint, export, $W48_IMAGES images"
    if [ ! -f "$WORK/w48-random/manifest.json" ]; then
      run bash scripts/py.sh scripts/gpu/random-checkpoint.py --arch w48 --height 512 --width 1024 --out "$WORK/w48-random.pt"
      run npm run --silent export -- --checkpoint "$WORK/w48-random.pt" --out "$WORK/w48-random"
    fi
    tsx scripts/gpu/measure.ts --bundle "$WORK/w48-random" --providers "$PROVIDERS" --images "$W48_IMAGES" \
      --repeats 1 --threads "$THREADS" --out "$OUT_DIR/w48.json" >/dev/null
    REPORTS+=("$OUT_DIR/w48.json")
  else
    say "no python3 with PyTorch here: the W48 export is skipped"
  fi
fi

if [ "$CROSSOVERS" = 1 ]; then
  # on a copy of the bundle: --write-crossover writes crossovers.json into it
  run rm -rf "$WORK/default-bundle"
  run cp -r models/default "$WORK/default-bundle"
  for p in ${PROVIDERS//,/ }; do
    if [ "$p" != cpu ] && ! grep -q ADPC_PROVIDER scripts/bench-stages.ts; then
      say "bench:stages does not read ADPC_PROVIDER yet: no crossovers measured for $p"
      continue
    fi
    step "crossovers for $p"
    if [ "$DRY" = 0 ]; then
      echo "+ ADPC_PROVIDER=$p npm run bench:stages -- --bundle $WORK/default-bundle --write-crossover --json" | tee -a "$LOG" >&2
      ADPC_PROVIDER=$p npm run --silent bench:stages -- --bundle "$WORK/default-bundle" --threads "$THREADS" --images "$IMAGES" --repeats 3 \
        --write-crossover --json >"$OUT_DIR/bench-stages-$p.json"
    else
      echo "+ ADPC_PROVIDER=$p npm run bench:stages -- --bundle $WORK/default-bundle --write-crossover --json" >&2
    fi
  done
  if [ -f "$WORK/default-bundle/crossovers.json" ]; then run cp "$WORK/default-bundle/crossovers.json" "$OUT_DIR/crossovers.json"; fi
fi

step "report"
if [ "$DRY" = 0 ]; then
  {
    echo "# GPU check"
    echo
    sed 's/^/    /' "$WORK/machine.txt"
    echo
    echo "Providers: $(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(r.providers.map((p) => `${p.provider} ${p.live ? "live" : "not live"}`).join(", "))' "$OUT_DIR/providers.json")"
    echo
    node --import tsx scripts/gpu/report.ts "${REPORTS[@]}"
  } >"$OUT_DIR/report.md"
  cat "$OUT_DIR/report.md"
fi
step "done: $OUT_DIR"
