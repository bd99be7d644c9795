"""Exports a checkpoint as a model bundle (the format: docs/BUNDLE.md; the writer: bundle.py).

    python -m models.adpc.export --checkpoint runs/x/final.pt --out models/default
    python -m models.adpc.export --official hrnet_w48_adpc.pth --arch w48 \\
        --height 1024 --width 2048 --out models/w48-official
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from . import checkpoint
from .bundle import export_bundle
from .data import normalise

OFFICIAL_THRESHOLD = 0.998  # every published ADP-C run


def read_sample(path: str, height: int, width: int) -> torch.Tensor:
    from PIL import Image
    img = Image.open(path).convert("RGB").resize((width, height), Image.BILINEAR)
    return normalise(torch.from_numpy(np.asarray(img).copy())[None])


def main(argv=None):
    parser = argparse.ArgumentParser(description="Export an ADP-C bundle (stage-wise ONNX and native programs)")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a checkpoint written by models.adpc.train")
    src.add_argument("--official", help="a checkpoint saved by the official ADP-C code")
    parser.add_argument("--arch", help="architecture of an --official checkpoint")
    parser.add_argument("--height", type=int, help="input height (default: the checkpoint's input size)")
    parser.add_argument("--width", type=int, help="input width (default: the checkpoint's input size)")
    parser.add_argument("--threshold", type=float,
                        help="default CA threshold (default: the training threshold, or 0.998 for --official)")
    parser.add_argument("--evaluation", help="evaluation JSON to record in the manifest")
    parser.add_argument("--sample", help="an image (PNG/JPEG) for the reference outputs")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    try:
        if args.official:
            if not (args.arch and args.height and args.width):
                parser.error("--official needs --arch, --height and --width")
            net = checkpoint.load_official(args.official, args.arch)
            source = {"kind": "official", "path": Path(args.official).name}
            height, width = args.height, args.width
            threshold = args.threshold or OFFICIAL_THRESHOLD
        else:
            ckpt = checkpoint.load(args.checkpoint)
            net = ckpt.network()
            source = {"kind": "checkpoint", "path": Path(args.checkpoint).name, "config": ckpt.config}
            height = args.height or ckpt.input_size[0]
            width = args.width or ckpt.input_size[1]
            threshold = args.threshold or ckpt.config.get("ca_threshold", OFFICIAL_THRESHOLD)
        evaluation = json.loads(Path(args.evaluation).read_text()) if args.evaluation else None
        sample = read_sample(args.sample, height, width) if args.sample else None
        manifest = export_bundle(net, Path(args.out), height, width, threshold,
                                 Path(args.out).name, sample, evaluation, source)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    size = sum(f.stat().st_size for f in Path(args.out).rglob("*") if f.is_file())
    print(f"wrote {args.out}: {len(manifest['stages'])} stages + dense baseline + native programs, "
          f"{size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
