"""FLOPs in the ADP-C / HRNet convention.

Multiply-adds of convolutions only (weight.numel() x H_out x W_out; no bias, BN, pooling,
resizing or softmax), divided by 1024^3 and called "GFLOPs", so figures compare with the
paper's. A masked conv computing a share p of its positions counts dense x p plus the
RBF fill, (1 - p) x p x C_out x 49 x H_out x W_out, as the official counter does.
Exit k's cost is cumulative: everything run up to and including exit k's head.

    python -m models.adpc.flops --arch w48 --height 1024 --width 2048 --json
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .network import RBF_SIZE, ADPCNet, MaskedConv2d, build_model

GIGA = 1024 ** 3

# Which exit's segment a top-level module belongs to, and whether it is a head.
_SEGMENT = {
    "conv1": (1, False), "conv2": (1, False), "layer1": (1, False), "exit1": (1, True),
    "transition1": (2, False), "stage2": (2, False), "exit2": (2, True),
    "transition2": (3, False), "stage3": (3, False), "exit3": (3, True),
    "transition3": (4, False), "stage4": (4, False), "last_layer": (4, True),
}


@dataclass(frozen=True)
class ConvCost:
    name: str
    stage: int          # 1..4: the exit whose segment runs this conv
    head: bool          # part of the exit head rather than the backbone
    macs: int           # dense multiply-adds
    out_channels: int
    out_size: Tuple[int, int]
    masked: bool

    def counted_macs(self, share: float) -> float:
        """Multiply-adds when a share of the output positions is computed."""
        if not self.masked or share >= 1.0:
            return float(self.macs)
        h, w = self.out_size
        fill = (1.0 - share) * share * self.out_channels * RBF_SIZE * RBF_SIZE * h * w
        return self.macs * share + fill


def conv_costs(model: ADPCNet, height: int, width: int) -> List[ConvCost]:
    """Every conv of the network with its output size, from a shape-only (meta) forward."""
    meta = build_model(model.arch.name).to("meta").eval()
    costs: List[ConvCost] = []
    hooks = []

    def hook_for(name: str, module: nn.Conv2d):
        stage, head = _SEGMENT[name.split(".")[0]]

        def hook(_mod, _inp, out):
            h, w = int(out.shape[-2]), int(out.shape[-1])
            costs.append(ConvCost(name, stage, head, module.weight.numel() * h * w,
                                  module.out_channels, (h, w), isinstance(module, MaskedConv2d)))
        return hook

    for name, module in meta.named_modules():
        if isinstance(module, nn.Conv2d):
            hooks.append(module.register_forward_hook(hook_for(name, module)))
    with torch.no_grad():
        meta(torch.empty(1, 3, height, width, device="meta"))
    for h in hooks:
        h.remove()
    return costs


def dense_gflops(costs: Sequence[ConvCost]) -> float:
    """The HRNet without early exits: backbone plus the final head."""
    return sum(c.macs for c in costs if not c.head or c.stage == 4) / GIGA


def segment_gflops(costs: Sequence[ConvCost], stage: int, head: Optional[bool] = None) -> float:
    return sum(c.macs for c in costs if c.stage == stage and (head is None or c.head == head)) / GIGA


def exit_gflops(costs: Sequence[ConvCost]) -> List[float]:
    """Cumulative dense GFLOPs at each exit, with every exit head run, nothing skipped."""
    total, out = 0.0, []
    for k in (1, 2, 3, 4):
        total += segment_gflops(costs, k)
        out.append(total)
    return out


def gflops_by_resolution(costs: Sequence[ConvCost], stage: int) -> Dict[str, float]:
    """Dense GFLOPs of one stage (with its head), keyed by output size "HxW"."""
    split: Dict[str, float] = {}
    for c in costs:
        if c.stage == stage:
            key = f"{c.out_size[0]}x{c.out_size[1]}"
            split[key] = split.get(key, 0.0) + c.macs / GIGA
    return split


def mask_shares(mask: torch.Tensor, sizes) -> Dict[Tuple[int, int], float]:
    """Computed share at each size of one image's 1/4-resolution mask [1,1,h,w] (or [h,w])."""
    m = mask.reshape(1, 1, *mask.shape[-2:]).float()
    return {s: float(F.interpolate(m, size=s, mode="nearest").mean()) for s in sizes}


def counted_gflops(costs: Sequence[ConvCost], masks: Sequence[Optional[torch.Tensor]]) -> List[float]:
    """Cumulative GFLOPs per exit for one image from the masks that gated stages 2..4
    (a None mask = everything computed). Returns as many exits as masks + 1."""
    sizes = {c.out_size for c in costs}
    total = segment_gflops(costs, 1)
    out = [total]
    for k, mask in enumerate(masks, start=2):
        shares = mask_shares(mask, sizes) if mask is not None else {}
        total += sum(c.counted_macs(shares.get(c.out_size, 1.0))
                     for c in costs if c.stage == k) / GIGA
        out.append(total)
    return out


def summary(arch: str, height: int, width: int) -> dict:
    costs = conv_costs(build_model(arch), height, width)
    return {
        "arch": arch,
        "height": height,
        "width": width,
        "dense_gflops": round(dense_gflops(costs), 3),
        "exit_gflops": [round(g, 3) for g in exit_gflops(costs)],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description="ADP-C FLOPs (conv multiply-adds / 1024^3)")
    parser.add_argument("--arch", default="w18s2", help="w48 | w18s2 | w18s1 | tiny")
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.height < 32 or args.width < 32:
        parser.error("height and width must be at least 32")
    result = summary(args.arch, args.height, args.width)
    if args.json:
        print(json.dumps({k: result[k] for k in ("arch", "dense_gflops", "exit_gflops")}))
        return
    print(f"{args.arch} at {args.height}x{args.width} (conv multiply-adds / 1024^3)")
    print(f"  without exits (dense HRNet): {result['dense_gflops']:.2f} GFLOPs")
    for k, g in enumerate(result["exit_gflops"], start=1):
        print(f"  exit {k} cumulative:          {g:.2f} GFLOPs")


if __name__ == "__main__":
    main()
