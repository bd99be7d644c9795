"""Exports a checkpoint as a stage-wise ONNX bundle (the contract with src/, see docs/BUNDLE.md).

    python -m models.adpc.export --checkpoint runs/x/final.pt --out models/default
    python -m models.adpc.export --official hrnet_w48_adpc.pth --arch w48 \
        --height 1024 --width 2048 --out models/w48-official

One graph per stage. Stage 1 takes the normalised image; stage k > 1 takes the previous
stage's branch features, the merged logits and the CA threshold, applies CA itself and
returns its branch features (not stage 4), the merged logits, a uint8 label map, the
confidence (max softmax) at 1/4 resolution and the computed positions per resolution.
A single dense graph of the backbone with the final head only is exported as the baseline.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import MEAN, STD
from .flops import GIGA, conv_costs, dense_gflops, gflops_by_resolution, segment_gflops
from .network import (RBF_SIZE, ADPCNet, MaskedConv2d, MaskSource, build_model, exit_input,
                      fill_radius, max_softmax, rbf_fill,
                      strip_official_prefix)

BUNDLE_FORMAT = "adpc-bundle"
BUNDLE_VERSION = 1
OPSET = 17
FILL_TOLERANCE = 1e-6

CLASSES = [
    ("road", (128, 64, 128)), ("sidewalk", (244, 35, 232)), ("building", (70, 70, 70)),
    ("wall", (102, 102, 156)), ("fence", (190, 153, 153)), ("pole", (153, 153, 153)),
    ("traffic light", (250, 170, 30)), ("traffic sign", (220, 220, 0)),
    ("vegetation", (107, 142, 35)), ("terrain", (152, 251, 152)), ("sky", (70, 130, 180)),
    ("person", (220, 20, 60)), ("rider", (255, 0, 0)), ("car", (0, 0, 142)),
    ("truck", (0, 0, 70)), ("bus", (0, 60, 100)), ("train", (0, 80, 100)),
    ("motorcycle", (0, 0, 230)), ("bicycle", (119, 11, 32)),
]


def labels_and_confidence(logits: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """uint8 label map [1,h,w] and max softmax probability [1,h,w]."""
    return logits.argmax(dim=1).to(torch.uint8), max_softmax(logits)[:, 0]


class Stage1Graph(nn.Module):
    def __init__(self, net: ADPCNet):
        super().__init__()
        self.net = net

    def forward(self, image):  # image: float32[1,3,H,W], normalised
        features, logits = self.net.run_stage1(image)
        labels, confidence = labels_and_confidence(logits)
        return (*features, logits, labels, confidence)


class ChannelMaskSource(MaskSource):
    """CA masks broadcast over channels by 1x1 convolutions before they meet the features.

    Same values as MaskSource. onnxruntime's CPU provider runs convolutions in a blocked
    channel layout (NCHWc) and keeps Mul/Add in it only when both operands are blocked
    tensors of one shape: a [N,1,h,w] mask would force layout reorders around every masked
    conv, while a mask made by a conv is itself blocked.
    """

    def __init__(self, logits: torch.Tensor, threshold):
        super().__init__(logits, threshold)
        self._expanded: Dict[Tuple[int, int, int], Tuple[torch.Tensor, torch.Tensor]] = {}

    def fill(self, y, lam, square_dis, radius):
        channels = int(y.shape[1])
        key = (int(y.shape[-2]), int(y.shape[-1]), channels)
        if key not in self._expanded:
            mask = self.at(key[:2])
            ones = torch.ones(channels, 1, 1, 1, dtype=y.dtype)
            keep = F.conv2d(mask, ones)
            drop = F.conv2d(mask, -ones, bias=torch.ones(channels, dtype=y.dtype))
            self._expanded[key] = (keep, drop)
        keep, drop = self._expanded[key]
        return rbf_fill(y, keep, drop, lam, square_dis, radius)


class StageGraph(nn.Module):
    """Stage k (2..4), dense-masked: the reference form of ADP-C."""

    def __init__(self, net: ADPCNet, k: int, resolutions: Sequence[Tuple[int, int]]):
        super().__init__()
        self.net, self.k, self.resolutions = net, k, list(resolutions)

    def forward(self, *args):  # feat_in_i: float32[1,C_i,h_i,w_i]..., logits_in, threshold: float32[1]
        *features, logits, threshold = args
        source = ChannelMaskSource(logits, threshold)
        features, new_logits = self.net.run_stage(self.k, list(features), source)
        mask = source.full
        merged = logits * (1 - mask) + new_logits * mask
        labels, confidence = labels_and_confidence(merged)
        computed = torch.stack([source.at(r).sum() for r in self.resolutions]).to(torch.int64)
        outputs = [] if self.k == 4 else list(features)
        return (*outputs, merged, labels, confidence, computed)


class PlainStageGraph(StageGraph):
    """Stage k with CA off: the fast path when every position is computed (threshold >= 1).

    Same inputs and outputs as the dense-masked form; no masks, so every conv runs as a plain
    convolution. `computed` reports every position of every masked resolution.
    """

    def forward(self, *args):
        *features, logits, _threshold = args
        features, merged = self.net.run_stage(self.k, list(features), None)
        labels, confidence = labels_and_confidence(merged)
        computed = torch.tensor([h * w for h, w in self.resolutions], dtype=torch.int64)
        outputs = [] if self.k == 4 else list(features)
        return (*outputs, merged, labels, confidence, computed)


class GatheredHead(nn.Module):
    """HRNet's final head (1x1 conv, BN, ReLU, 1x1 conv) run only at computed positions.

    Exact: both convs are 1x1, so at a computed position the head's output depends only on
    that position's input, where the mask keeps y itself; at skipped positions the merged
    logits keep the previous exit's values and the head's output is never used. The
    positions are gathered as columns of the [C, h*w] feature matrix and the logits
    scattered back, so the cost follows the number of computed positions.
    """

    def __init__(self, head: nn.Sequential):
        super().__init__()
        conv1, bn, _, conv2 = head
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        self.w1 = nn.Parameter((conv1.weight[:, :, 0, 0] * scale[:, None]).detach(), requires_grad=False)
        self.b1 = nn.Parameter(((conv1.bias - bn.running_mean) * scale + bn.bias).detach()[:, None],
                               requires_grad=False)
        self.w2 = nn.Parameter(conv2.weight[:, :, 0, 0].detach(), requires_grad=False)
        self.b2 = nn.Parameter(conv2.bias.detach()[:, None], requires_grad=False)

    def forward(self, x, mask, merged):  # x [1,C,h,w], mask [1,1,h,w], merged [1,K,h,w]
        flat = x.reshape(x.shape[1], -1)                      # [C, h*w]
        index = torch.nonzero(mask.reshape(-1)).reshape(-1)    # [P] computed positions
        cols = flat.index_select(1, index)                     # [C, P]
        hidden = torch.relu(self.w1 @ cols + self.b1)
        logits = self.w2 @ hidden + self.b2                    # [K, P]
        out = merged.reshape(merged.shape[1], -1)
        out = out.scatter(1, index[None, :].expand(logits.shape[0], -1), logits)
        return out.reshape(merged.shape)


class SparseHeadStage4Graph(StageGraph):
    """Stage 4 with its final head gathered over the computed positions (see GatheredHead)."""

    def __init__(self, net: ADPCNet, resolutions: Sequence[Tuple[int, int]]):
        super().__init__(net, 4, resolutions)
        self.head = GatheredHead(net.last_layer)

    def forward(self, *args):
        *features, logits, threshold = args
        source = ChannelMaskSource(logits, threshold)
        with self.net.gated(4, source):
            features = self.net.run_backbone(4, list(features))
        merged = self.head(exit_input(features), source.full, logits)
        labels, confidence = labels_and_confidence(merged)
        computed = torch.stack([source.at(r).sum() for r in self.resolutions]).to(torch.int64)
        return merged, labels, confidence, computed


class DenseBaselineGraph(nn.Module):
    """The plain HRNet a user would otherwise run: backbone and final head, no early exits."""

    def __init__(self, net: ADPCNet):
        super().__init__()
        self.net = net

    def forward(self, image):
        logits = self.net.forward_dense(image)
        labels, _ = labels_and_confidence(logits)
        return logits, labels


def _names(prefix: str, count: int) -> List[str]:
    return [f"{prefix}{i}" for i in range(count)]


@contextmanager
def truncated_fills(net: nn.Module, tolerance: float = FILL_TOLERANCE):
    """Exports each RBF fill with the smallest kernel whose dropped weights sum to at most
    `tolerance` (a trained Lambda near 3 leaves a 3x3 kernel): the fill dominates the cost of
    a masked conv otherwise. References are computed with the full 7x7 kernel."""
    convs = [m for m in net.modules() if isinstance(m, MaskedConv2d)]
    for conv in convs:
        conv.fill_radius = fill_radius(conv.Lambda, conv.square_dis, tolerance)
    try:
        yield
    finally:
        for conv in convs:
            conv.fill_radius = RBF_SIZE // 2


def export_graph(module: nn.Module, args: Tuple[torch.Tensor, ...], path: Path,
                 input_names: List[str], output_names: List[str]) -> None:
    # The exporter restores the wrapper's training flag afterwards, recursively: a wrapper
    # left in train mode would flip the shared network into train mode for later stages.
    module.eval()
    with truncated_fills(module), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), opset_version=OPSET, input_names=input_names,
                          output_names=output_names, do_constant_folding=True)
    assert not any(m.training for m in module.modules()), "export left the network in train mode"


def tensor_spec(name: str, t: torch.Tensor) -> Dict:
    dtype = {torch.float32: "float32", torch.uint8: "uint8", torch.int64: "int64"}[t.dtype]
    return {"name": name, "dtype": dtype, "shape": list(t.shape)}


def save_reference(folder: Path, name: str, t: torch.Tensor, index: Dict) -> None:
    file = f"{name}.bin"
    t.detach().contiguous().numpy().tofile(folder / file)
    index[name] = {**tensor_spec(name, t), "file": file}


def export_bundle(net: ADPCNet, out: Path, height: int, width: int, threshold: float,
                  name: str, sample: Optional[torch.Tensor] = None,
                  evaluation: Optional[Dict] = None, source: Optional[Dict] = None) -> Dict:
    """Writes manifest.json, stage{1..4}.onnx, dense.onnx and reference/ into `out`."""
    net = net.eval()
    if out.exists():
        shutil.rmtree(out)
    (out / "reference").mkdir(parents=True)
    costs = conv_costs(net, height, width)
    image = sample if sample is not None else torch.randn(1, 3, height, width)
    thr = torch.tensor([threshold], dtype=torch.float32)
    ref_index: Dict = {}
    save_reference(out / "reference", "image", image, ref_index)
    save_reference(out / "reference", "threshold", thr, ref_index)
    stages = []

    with torch.no_grad():
        outputs = Stage1Graph(net)(image)
        n_feat = len(outputs) - 3
        in_names, out_names = ["image"], _names("feat", n_feat) + ["logits", "labels", "confidence"]
        export_graph(Stage1Graph(net), (image,), out / "stage1.onnx", in_names, out_names)
        stages.append(stage_entry(1, "stage1.onnx", [image], in_names, outputs, out_names, costs, []))
        for n, t in zip(out_names, outputs):
            save_reference(out / "reference", f"stage1.{n}", t, ref_index)
        features, logits = list(outputs[:n_feat]), outputs[n_feat]

        for k in (2, 3, 4):
            resolutions = sorted({c.out_size for c in costs if c.stage == k and c.masked},
                                 key=lambda s: -s[0] * s[1])
            graph = StageGraph(net, k, resolutions)
            args = (*features, logits, thr)
            outputs = graph(*args)
            in_names = _names("feat_in", len(features)) + ["logits_in", "threshold"]
            n_feat = len(outputs) - 4
            out_names = _names("feat", n_feat) + ["logits", "labels", "confidence", "computed"]
            export_graph(graph, args, out / f"stage{k}.onnx", in_names, out_names)
            stages.append(stage_entry(k, f"stage{k}.onnx", list(args), in_names, outputs, out_names,
                                      costs, resolutions))
            for n, t in zip(out_names, outputs):
                save_reference(out / "reference", f"stage{k}.{n}", t, ref_index)
            full = resolutions[0][0] * resolutions[0][1]
            if int(outputs[-1][0]) in (0, full):
                # random noise leaves a trained model unconfident everywhere: the references
                # would then never exercise a stage that skips part of the map
                print(f"export: warning: on the reference input stage {k} computes "
                      f"{int(outputs[-1][0])} of {full} positions; pass --sample IMAGE so the "
                      "exactness tests see skipping", file=sys.stderr)
            export_graph(PlainStageGraph(net, k, resolutions), args, out / f"stage{k}.plain.onnx",
                         in_names, out_names)
            stages[-1]["plain_file"] = f"stage{k}.plain.onnx"
            if k == 4:
                # The sparse form of stage 4 must reproduce the dense-masked references.
                sparse = SparseHeadStage4Graph(net, resolutions)
                export_graph(sparse, args, out / "stage4.sparse.onnx", in_names, out_names)
                stages[-1]["sparse_file"] = "stage4.sparse.onnx"
            features, logits = list(outputs[:n_feat]), outputs[n_feat]

        baseline = DenseBaselineGraph(net)
        b_out = baseline(image)
        export_graph(baseline, (image,), out / "dense.onnx", ["image"], ["logits", "labels"])
        for n, t in zip(["logits", "labels"], b_out):
            save_reference(out / "reference", f"dense.{n}", t, ref_index)

    (out / "reference" / "index.json").write_text(json.dumps(ref_index, indent=1) + "\n")
    h4, w4 = stages[0]["outputs"][-3]["shape"][-2:]
    manifest = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "name": name,
        "arch": net.arch.name,
        "source": source or {},
        "input": {"height": height, "width": width, "channels": 3, "layout": "NCHW",
                  "color": "RGB", "scale": 1 / 255, "mean": list(MEAN), "std": list(STD)},
        "output": {"height": int(h4), "width": int(w4), "stride": 4},
        "classes": [{"id": i, "name": n, "color": list(c)} for i, (n, c) in enumerate(CLASSES)],
        "threshold": threshold,
        "flops_convention": "conv multiply-adds / 1024^3; masked convs: dense x share + RBF fill",
        "dense_gflops": round(dense_gflops(costs), 6),
        "stages": stages,
        "baseline": {"file": "dense.onnx", "gflops": round(dense_gflops(costs), 6),
                     "inputs": [tensor_spec("image", image)],
                     "outputs": [tensor_spec(n, t) for n, t in zip(["logits", "labels"], b_out)]},
        "reference": "reference/index.json",
        "evaluation": evaluation,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def stage_entry(k, file, inputs, in_names, outputs, out_names, costs, resolutions) -> Dict:
    return {
        "index": k,
        "file": file,
        "inputs": [tensor_spec(n, t) for n, t in zip(in_names, inputs)],
        "outputs": [tensor_spec(n, t) for n, t in zip(out_names, outputs)],
        "dense_gflops": round(segment_gflops(costs, k), 6),
        "gflops_by_resolution": {r: round(g, 6) for r, g in gflops_by_resolution(costs, k).items()},
        "masked_resolutions": [list(r) for r in resolutions],
        "masked_conv_gflops": [  # per entry of masked_resolutions: dense GFLOPs and fill channels
            {"gflops": round(sum(c.macs for c in costs if c.stage == k and c.masked
                                 and c.out_size == r) / GIGA, 6),
             "fill_channels": sum(c.out_channels for c in costs if c.stage == k and c.masked
                                  and c.out_size == r)}
            for r in resolutions],
        "unmasked_gflops": round(sum(c.macs for c in costs if c.stage == k and not c.masked) / GIGA, 6),
    }


def load_official(path: str, arch: str) -> ADPCNet:
    state = torch.load(path, map_location="cpu")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not any(k.startswith("model.") for k in state):
        raise ValueError(f"{path}: no 'model.' keys; not a checkpoint saved by the official code")
    extra = [k for k in state if not k.startswith("model.") and k != "loss.criterion.weight"]
    if extra:
        raise ValueError(f"{path}: unexpected keys {extra[:5]}")
    net = build_model(arch)
    net.load_state_dict(strip_official_prefix(state), strict=True)
    return net


def main(argv=None):
    parser = argparse.ArgumentParser(description="Export an ADP-C bundle (stage-wise ONNX)")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a checkpoint written by models.adpc.train")
    src.add_argument("--official", help="a checkpoint saved by the official ADP-C code")
    parser.add_argument("--arch", help="architecture of an --official checkpoint")
    parser.add_argument("--height", type=int, help="input height (default: the training size)")
    parser.add_argument("--width", type=int, help="input width")
    parser.add_argument("--threshold", type=float, help="default CA threshold")
    parser.add_argument("--evaluation", help="evaluation JSON to record in the manifest")
    parser.add_argument("--sample", help="an image (PNG/JPEG) for the reference outputs")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    try:
        if args.official:
            if not (args.arch and args.height and args.width):
                parser.error("--official needs --arch, --height and --width")
            net = load_official(args.official, args.arch)
            source = {"kind": "official", "path": Path(args.official).name}
            height, width, threshold = args.height, args.width, args.threshold or 0.998
        else:
            state = torch.load(args.checkpoint, map_location="cpu")
            net = build_model(state["arch"])
            net.load_state_dict(state["model"], strict=True)
            cfg = state.get("config", {})
            source = {"kind": "checkpoint", "path": Path(args.checkpoint).name, "config": cfg}
            height = args.height or 256
            width = args.width or 512
            threshold = args.threshold or cfg.get("ca_threshold", 0.998)
        evaluation = json.loads(Path(args.evaluation).read_text()) if args.evaluation else None
        sample = None
        if args.sample:
            from .data import normalise
            from PIL import Image
            img = Image.open(args.sample).convert("RGB").resize((width, height), Image.BILINEAR)
            sample = normalise(torch.from_numpy(np.asarray(img).copy())[None])
        manifest = export_bundle(net, Path(args.out), height, width, threshold,
                                 Path(args.out).name, sample, evaluation, source)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    size = sum(f.stat().st_size for f in Path(args.out).rglob("*") if f.is_file())
    print(f"wrote {args.out}: {len(manifest['stages'])} stages + dense baseline, "
          f"{size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
