"""A checkpoint with the network's initial (random) weights, for timing a large model whose
trained weights are not at hand: `npm run export` reads it like any trained checkpoint.

    bash scripts/py.sh scripts/gpu/random-checkpoint.py --arch w48 --height 512 --width 1024 \\
        --out runs/w48-random.pt

Its labels mean nothing and CA skips little (random logits are rarely confident): figures
from it are times at the computed shares it reports, not accuracy.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from models.adpc import checkpoint
from models.adpc.network import build_model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="w48")
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--threshold", type=float, default=0.995, help="the bundle's default CA threshold")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    net = build_model(args.arch).eval()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    checkpoint.save(Path(args.out), checkpoint.Checkpoint(
        arch=args.arch, input_size=(args.height, args.width), model=net.state_dict(),
        config={"arch": args.arch, "ca_threshold": args.threshold, "random_weights": True, "seed": args.seed}))
    params = sum(p.numel() for p in net.parameters())
    print(f"wrote {args.out}: {args.arch} with random weights, {params / 1e6:.1f} M parameters, "
          f"input {args.height}x{args.width}")


if __name__ == "__main__":
    main()
