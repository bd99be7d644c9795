"""Per-exit mIoU and cumulative GFLOPs of a checkpoint on a split, CA on and CA off.

GFLOPs are counted per image from the masks CA really produced (ADP-C convention, see
flops.py) and averaged over the split. mIoU is over the classes present in the labels or
the predictions, at label resolution, two ways: `miou` from logits upsampled bilinearly
(the paper's protocol) and `miou_label_map` from the 1/4-resolution argmax scaled up by
nearest (what the engine returns, so `adpc eval` compares with this one).

    python -m models.adpc.evaluate --checkpoint models/checkpoints/default/model.pt \
        --data data/synth --split test --threshold 0.99 --json eval.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F

from .data import IGNORE, NUM_CLASSES, InMemorySplit, normalise, progress
from .flops import conv_costs, counted_gflops, dense_gflops, exit_gflops
from . import checkpoint
from .network import ADPCNet


def confusion(pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    valid = label != IGNORE
    index = label[valid].long() * NUM_CLASSES + pred[valid].long()
    return torch.bincount(index, minlength=NUM_CLASSES ** 2).view(NUM_CLASSES, NUM_CLASSES)


def iou_per_class(conf: torch.Tensor) -> List[Optional[float]]:
    tp = conf.diag().double()
    union = conf.sum(0).double() + conf.sum(1).double() - tp
    return [float(tp[c] / union[c]) if union[c] > 0 else None for c in range(NUM_CLASSES)]


def mean_iou(conf: torch.Tensor) -> float:
    values = [v for v in iou_per_class(conf) if v is not None]
    return 100.0 * sum(values) / max(len(values), 1)


def run_split(model: ADPCNet, data: InMemorySplit, threshold: Optional[float],
              batch: int = 8, label: str = "") -> Dict:
    """Runs all four exits on every image; returns per-exit mIoU, GFLOPs and shares."""
    h, w = data.images.shape[1:3]
    costs = conv_costs(model, h, w)
    confs = [torch.zeros(NUM_CLASSES, NUM_CLASSES, dtype=torch.long) for _ in range(4)]
    # The deployment protocol: argmax at 1/4 resolution, labels scaled up by nearest, as
    # the engine returns them (uint8 label maps, no logits leave the graphs).
    label_confs = [torch.zeros(NUM_CLASSES, NUM_CLASSES, dtype=torch.long) for _ in range(4)]
    gflops = torch.zeros(4, dtype=torch.float64)
    shares = torch.zeros(3, dtype=torch.float64)
    started = time.time()
    n = len(data)
    with torch.no_grad():
        for first in range(0, n, batch):
            idx = list(range(first, min(first + batch, n)))
            x = normalise(data.images[idx])
            labels = data.labels[idx]
            out = model(x, threshold=threshold)
            for k, logits in enumerate(out.logits):
                up = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear",
                                   align_corners=False)
                confs[k] += confusion(up.argmax(1), labels)
                coarse = logits.argmax(1, keepdim=True).float()
                label_confs[k] += confusion(
                    F.interpolate(coarse, size=labels.shape[-2:], mode="nearest")[:, 0].long(), labels)
            for i in range(len(idx)):
                masks = [m[i] if m is not None else None for m in out.masks]
                gflops += torch.tensor(counted_gflops(costs, masks), dtype=torch.float64)
                shares += torch.tensor([float(m[i].mean()) if m is not None else 1.0
                                        for m in out.masks], dtype=torch.float64)
            progress(label or "eval", idx[-1] + 1, n, started)
    gflops /= n
    shares /= n
    exits = []
    for k in range(4):
        exits.append({
            "exit": k + 1,
            "miou": round(mean_iou(confs[k]), 2),
            "miou_label_map": round(mean_iou(label_confs[k]), 2),
            "gflops": round(float(gflops[k]), 4),
            "computed_share": 1.0 if k == 0 else round(float(shares[k - 1]), 4),
            "class_iou": [None if v is None else round(100 * v, 2) for v in iou_per_class(confs[k])],
        })
    return {"threshold": threshold, "exits": exits, "seconds": round(time.time() - started, 1)}


def evaluate(checkpoint_path: str, data_root: str, split: str, thresholds: Sequence[float],
             count: Optional[int] = None, batch: int = 8) -> Dict:
    model = checkpoint.load(checkpoint_path).network()
    data = InMemorySplit(data_root, split, limit=count)
    h, w = data.images.shape[1:3]
    costs = conv_costs(model, h, w)
    result = {
        "checkpoint": str(checkpoint_path),
        "arch": model.arch.name,
        "split": split,
        "images": len(data),
        "height": int(h),
        "width": int(w),
        "dense_gflops": round(dense_gflops(costs), 4),
        "exit_gflops_dense": [round(g, 4) for g in exit_gflops(costs)],
        "ca_off": run_split(model, data, None, batch, "CA off"),
        "ca": [run_split(model, data, t, batch, f"CA {t}") for t in thresholds],
    }
    return result


def table(result: Dict) -> str:
    lines = [f"{result['arch']} on {result['split']} ({result['images']} images, "
             f"{result['height']}x{result['width']}); dense HRNet without exits "
             f"{result['dense_gflops']:.3f} GFLOPs",
             "| run | mIoU e1 | e2 | e3 | e4 | GFLOPs e1 | e2 | e3 | e4 | computed s2/s3/s4 |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, run in [("CA off", result["ca_off"])] + [(f"CA {r['threshold']}", r) for r in result["ca"]]:
        e = run["exits"]
        lines.append(f"| {name} | " + " | ".join(f"{x['miou']:.1f}" for x in e) + " | "
                     + " | ".join(f"{x['gflops']:.3f}" for x in e) + " | "
                     + "/".join(f"{x['computed_share']:.2f}" for x in e[1:]) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Evaluate an ADP-C checkpoint per exit")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--data", default="data/synth")
    parser.add_argument("--split", default="test")
    parser.add_argument("--threshold", type=float, nargs="+", default=[0.998],
                        help="CA thresholds to evaluate (CA off is always evaluated)")
    parser.add_argument("--count", type=int, help="only the first N images")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", help="write the result as JSON to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        result = evaluate(args.checkpoint, args.data, args.split, args.threshold, args.count,
                          args.batch)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
