#!/usr/bin/env bash
# Reproduces the shipped default model: synthetic data, CA-off training in two phases (the
# second continues the first at a lower learning rate and closer scale range), CA fine-tuning,
# evaluation on the fixed test split, then the checkpoint copied to models/checkpoints/default.
# About 2 hours on a 2-core CPU. Re-running skips finished phases and resumes a stopped one.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/synth}
THRESHOLDS=${THRESHOLDS:-"0.93 0.97 0.99"}

[ -d "$DATA/leftImg8bit/train" ] || npm run -s synth -- --out "$DATA" --count 3000 --split train --height 256 --width 512
[ -d "$DATA/leftImg8bit/test" ] || npm run -s synth -- --out "$DATA" --count 500 --split test --height 256 --width 512

[ -f runs/default-pretrain/final.pt ] || npm run -s train -- --config models/configs/default-pretrain.json --data "$DATA" --resume
[ -f runs/default-continue/final.pt ] || npm run -s train -- --config models/configs/default-continue.json --data "$DATA" --resume
[ -f runs/default-ca/final.pt ] || npm run -s train -- --config models/configs/default-ca.json --data "$DATA" --resume

# shellcheck disable=SC2086
npm run -s evaluate -- --checkpoint runs/default-ca/final.pt --data "$DATA" --split test \
  --threshold $THRESHOLDS --threads 2 --json runs/default-ca/eval.json

mkdir -p models/checkpoints/default
cp runs/default-ca/final.pt models/checkpoints/default/model.pt
cp runs/default-ca/config.json models/checkpoints/default/config.json
cp runs/default-pretrain/config.json models/checkpoints/default/config-pretrain.json
cp runs/default-continue/config.json models/checkpoints/default/config-continue.json
cp runs/default-ca/eval.json models/checkpoints/default/eval.json
echo "default model written to models/checkpoints/default"
