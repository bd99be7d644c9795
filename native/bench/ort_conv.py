"""ONNX graphs of bench/shapes.txt's convolutions for ort_conv.mjs (NCHW, opset 17).

Each graph holds five convolutions (+ bias + ReLU) of one shape so that a run's fixed cost
is shared: a chain when the conv maps its input shape onto itself, otherwise five convs
with their own weights reading the same input. Written to bench/out/<name>.onnx.
Run with a python that has torch: /usr/bin/python3 native/bench/ort_conv.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
CONVS = 5


def read_shapes(path: Path) -> list[dict]:
    shapes = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, *nums = line.split()
        cin, cout, k, stride, oh, ow = map(int, nums)
        shapes.append(dict(name=name, cin=cin, cout=cout, k=k, stride=stride, oh=oh, ow=ow))
    return shapes


class FiveConvs(nn.Module):
    def __init__(self, s: dict):
        super().__init__()
        self.chain = s["cin"] == s["cout"] and s["stride"] == 1
        self.convs = nn.ModuleList(
            nn.Conv2d(s["cin"], s["cout"], s["k"], stride=s["stride"], padding=s["k"] // 2)
            for _ in range(CONVS))

    def forward(self, x: torch.Tensor):
        if self.chain:
            for conv in self.convs:
                x = torch.relu(conv(x))
            return x
        return tuple(torch.relu(conv(x)) for conv in self.convs)


def main() -> int:
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    torch.manual_seed(0)
    for s in read_shapes(HERE / "shapes.txt"):
        model = FiveConvs(s).eval()
        x = torch.randn(1, s["cin"], s["oh"] * s["stride"], s["ow"] * s["stride"])  # NCHW
        outputs = ["y"] if model.chain else [f"y{i}" for i in range(CONVS)]
        torch.onnx.export(model, (x,), str(out / f"{s['name']}.onnx"), opset_version=17,
                          input_names=["x"], output_names=outputs)
    print(f"ort_conv.py: wrote {len(read_shapes(HERE / 'shapes.txt'))} graphs to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
