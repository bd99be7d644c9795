"""Writes a model bundle: manifest.json, the stage graphs, the dense baseline, the native
programs and the PyTorch references (the format is docs/BUNDLE.md; src/bundle/ reads it).

Only this module writes manifest.json. Measured crossovers between forms live beside it in
crossovers.json, written by `npm run bench:stages -- --write-crossover`.
"""
from __future__ import annotations

import json
import shutil
import sys
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from . import native_program
from .data import MEAN, STD
from .flops import GIGA, ConvCost, conv_costs, dense_gflops, gflops_by_resolution, segment_gflops
from .graphs import (DenseBaselineGraph, FullLabelsGraph, PlainStageGraph, SparseHeadStage4Graph,
                     Stage1Graph, StageGraph, truncated_fills)
from .network import ADPCNet
from .weight_store import WeightStore

WEIGHTS_FILE = "weights.bin"

BUNDLE_FORMAT = "adpc-bundle"
BUNDLE_VERSION = 2
OPSET = 17
CLASSES_FILE = Path(__file__).resolve().parents[1] / "cityscapes-classes.json"
FLOPS_CONVENTION = "conv multiply-adds / 1024^3; masked convs: dense x share + RBF fill"


def cityscapes_classes() -> List[Dict]:
    return json.loads(CLASSES_FILE.read_text())


def feature_names(prefix: str, count: int) -> List[str]:
    return [f"{prefix}{i}" for i in range(count)]


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


class References:
    """PyTorch inputs and outputs saved for the exactness tests (reference/index.json)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.index: Dict = {}
        folder.mkdir(parents=True)

    def save(self, name: str, t: torch.Tensor) -> None:
        file = f"{name}.bin"
        t.detach().contiguous().numpy().tofile(self.folder / file)
        self.index[name] = {**tensor_spec(name, t), "file": file}

    def close(self) -> None:
        (self.folder / "index.json").write_text(json.dumps(self.index, indent=1) + "\n")


def masked_resolutions(costs: Sequence[ConvCost], k: int) -> List[Tuple[int, int]]:
    """Output sizes of stage k's masked convs, largest first: the order of `computed`."""
    return sorted({c.out_size for c in costs if c.stage == k and c.masked}, key=lambda s: -s[0] * s[1])


def stage_entry(k: int, file: str, inputs, in_names, outputs, out_names, costs, resolutions) -> Dict:
    of_stage = [c for c in costs if c.stage == k]
    return {
        "index": k,
        "file": file,
        "inputs": [tensor_spec(n, t) for n, t in zip(in_names, inputs)],
        "outputs": [tensor_spec(n, t) for n, t in zip(out_names, outputs)],
        "dense_gflops": round(segment_gflops(costs, k), 6),
        "gflops_by_resolution": {r: round(g, 6) for r, g in gflops_by_resolution(costs, k).items()},
        "masked_resolutions": [list(r) for r in resolutions],
        "masked_conv_gflops": [  # per entry of masked_resolutions: dense GFLOPs and fill channels
            {"gflops": round(sum(c.macs for c in of_stage if c.masked and c.out_size == r) / GIGA, 6),
             "fill_channels": sum(c.out_channels for c in of_stage if c.masked and c.out_size == r)}
            for r in resolutions],
        "unmasked_gflops": round(sum(c.macs for c in of_stage if not c.masked) / GIGA, 6),
    }


RANDOM_SOURCE = {"kind": "random", "path": ""}


def export_bundle(net: ADPCNet, out: Path, height: int, width: int, threshold: float,
                  name: str, sample: Optional[torch.Tensor] = None,
                  evaluation: Optional[Dict] = None, source: Dict = RANDOM_SOURCE) -> Dict:
    """Writes the whole bundle into `out` (replacing what was there). `source` says where
    the weights came from: {"kind": "checkpoint" | "official" | "random", "path", "config"?}."""
    net = net.eval()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    refs = References(out / "reference")
    costs = conv_costs(net, height, width)
    image = sample if sample is not None else torch.randn(1, 3, height, width)
    thr = torch.tensor([threshold], dtype=torch.float32)
    refs.save("image", image)
    refs.save("threshold", thr)
    stages: List[Dict] = []
    programs: List[Dict] = []
    store = WeightStore(out / WEIGHTS_FILE)

    with torch.no_grad():
        outputs = Stage1Graph(net)(image)
        n_feat = len(outputs) - 3
        in_names, out_names = ["image"], feature_names("feat", n_feat) + ["logits", "labels", "confidence"]
        export_graph(Stage1Graph(net), (image,), out / "stage1.onnx", in_names, out_names)
        stages.append(stage_entry(1, "stage1.onnx", [image], in_names, outputs, out_names, costs, []))
        for n, t in zip(out_names, outputs):
            refs.save(f"stage1.{n}", t)
        features, logits = list(outputs[:n_feat]), outputs[n_feat]
        programs.append(native_program.build_stage1(net, list(image.shape[1:]), store))

        for k in (2, 3, 4):
            resolutions = masked_resolutions(costs, k)
            args = (*features, logits, thr)
            graph = StageGraph(net, k, resolutions)
            outputs = graph(*args)
            in_names = feature_names("feat_in", len(features)) + ["logits_in", "threshold"]
            n_feat = len(outputs) - 4
            out_names = feature_names("feat", n_feat) + ["logits", "labels", "confidence", "computed"]
            export_graph(graph, args, out / f"stage{k}.onnx", in_names, out_names)
            entry = stage_entry(k, f"stage{k}.onnx", list(args), in_names, outputs, out_names, costs, resolutions)
            for n, t in zip(out_names, outputs):
                refs.save(f"stage{k}.{n}", t)
            full = resolutions[0][0] * resolutions[0][1]
            if int(outputs[-1][0]) in (0, full):
                # random noise leaves a trained model unconfident everywhere: the references
                # would then never exercise a stage that skips part of the map
                print(f"export: warning: on the reference input stage {k} computes "
                      f"{int(outputs[-1][0])} of {full} positions; pass --sample IMAGE so the "
                      "exactness tests see skipping", file=sys.stderr)
            export_graph(PlainStageGraph(net, k, resolutions), args, out / f"stage{k}.plain.onnx",
                         in_names, out_names)
            entry["plain_file"] = f"stage{k}.plain.onnx"
            if k == 4:
                export_graph(SparseHeadStage4Graph(net, resolutions), args, out / "stage4.sparse.onnx",
                             in_names, out_names)
                entry["sparse_file"] = "stage4.sparse.onnx"
            programs.append(native_program.build_stage(net, k, [list(f.shape[1:]) for f in features],
                                                       resolutions, store))
            stages.append(entry)
            features, logits = list(outputs[:n_feat]), outputs[n_feat]

        full = FullLabelsGraph(height, width)
        full_labels = full(logits)
        export_graph(full, (logits,), out / "labels_full.onnx", ["logits"], ["labels_full"])
        refs.save("stage4.labels_full", full_labels)

        baseline = DenseBaselineGraph(net)
        b_out = baseline(image)
        export_graph(baseline, (image,), out / "dense.onnx", ["image"], ["logits", "labels"])
        for n, t in zip(["logits", "labels"], b_out):
            refs.save(f"dense.{n}", t)

    refs.close()
    graphs = [s["file"] for s in stages] + [s[f] for s in stages for f in ("plain_file", "sparse_file") if f in s]
    graphs.append("labels_full.onnx")
    for file in graphs + ["dense.onnx"]:
        store.externalise(out / file)
    store.close()
    (out / "native.json").write_text(json.dumps({
        "format": native_program.FORMAT, "version": native_program.VERSION, "stages": programs}) + "\n")
    h4, w4 = stages[0]["outputs"][-3]["shape"][-2:]
    manifest = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "name": name,
        "arch": net.arch.name,
        "source": source,
        "input": {"height": height, "width": width, "channels": 3, "layout": "NCHW",
                  "color": "RGB", "scale": 1 / 255, "mean": list(MEAN), "std": list(STD)},
        "output": {"height": int(h4), "width": int(w4), "stride": 4},
        "classes": cityscapes_classes(),
        "threshold": threshold,
        "flops_convention": FLOPS_CONVENTION,
        "dense_gflops": round(dense_gflops(costs), 6),
        "stages": stages,
        "baseline": {"file": "dense.onnx", "gflops": round(dense_gflops(costs), 6),
                     "inputs": [tensor_spec("image", image)],
                     "outputs": [tensor_spec(n, t) for n, t in zip(["logits", "labels"], b_out)]},
        "full_labels": {"file": "labels_full.onnx", "inputs": [tensor_spec("logits", logits)],
                        "outputs": [tensor_spec("labels_full", full_labels)]},
        "weights": WEIGHTS_FILE,
        "native": {"program": "native.json", "stages": [1, 2, 3, 4]},
        "reference": "reference/index.json",
        "evaluation": evaluation,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest
