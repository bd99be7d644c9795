"""The layer program of a masked stage, for the native executor (docs/BUNDLE.md, "native").

The native executor (native/) does not read ONNX: it runs a flat list of ops over NHWC
tensors, with every BatchNorm folded into the conv before it, and computes each masked conv
only where the CA mask (or a consumer) needs it. This module walks the network's modules for
stage k in the order its forward runs them and writes that list, and `run_program` executes
a program densely with torch, ADP-C's way, so that the format itself is tested against the
stage graphs (test/python/test_native_program.py).

Ops (tensors are named, shapes [C, H, W]; weight references are [byte offset, float count]
into the bundle's weights file, float32 little-endian, see weight_store.py):
  conv        in, out, kernel (1|3), stride, pad, cin, cout, weight [cout][cin][k*k], pre_bias
              (added before the fill: a conv's own bias, BN-scaled) | null, post_bias (BN shift,
              added after the fill) | null, fill {radius, weights[(2r+1)^2]} | null (not masked),
              residual (tensor added before the activation) | null, relu
  fuse_sum    terms [{tensor, upsample}], out, relu: sum of same-size tensors and bilinear
              upsamplings (align_corners false) of smaller ones
  concat_up   parts, out: channel concat, every part but the first bilinearly upsampled to its size
  avgpool2    in, out: 2x2 average pooling, stride 2
  upsample    in, out: bilinear x2 (align_corners false)
A masked conv computes where the mask at its output size (nearest resize of the 1/4-resolution
mask) is 1; elsewhere it takes the RBF fill of its computed neighbours, pre_bias included.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .graphs import FILL_TOLERANCE
from .network import ADPCNet, BasicBlock, Bottleneck, MaskedConv2d, fill_radius, rbf_kernel
from .weight_store import WeightStore

FORMAT = "adpc-native-program"
VERSION = 1
RBF_CENTRE_INDEX = 3  # the 7x7 kernel's centre


class _Builder:
    def __init__(self, store: WeightStore):
        self.store = store
        self.tensors: Dict[str, List[int]] = {}
        self.ops: List[Dict] = []

    def tensor(self, name: str, shape: Sequence[int]) -> str:
        assert name not in self.tensors, f"tensor {name} defined twice"
        self.tensors[name] = [int(s) for s in shape]
        return name

    def fresh(self, shape: Sequence[int]) -> str:
        return self.tensor(f"t{len(self.tensors)}", shape)

    def blob(self, values: torch.Tensor) -> List[int]:
        return self.store.add_floats(values.detach().to(torch.float32).numpy())

    def conv(self, conv: nn.Conv2d, bn: Optional[nn.BatchNorm2d], x: str, relu: bool,
             residual: Optional[str] = None) -> str:
        c, h, w = self.tensors[x]
        k, s, p = conv.kernel_size[0], conv.stride[0], conv.padding[0]
        assert conv.kernel_size[0] == conv.kernel_size[1] and k in (1, 3), "1x1 and 3x3 convs only"
        assert conv.groups == 1 and conv.dilation == (1, 1) and c == conv.in_channels
        out = self.fresh([conv.out_channels, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1])
        weight = conv.weight.detach()
        bias = conv.bias.detach() if conv.bias is not None else None
        post = None
        if bn is not None:
            scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
            weight = weight * scale[:, None, None, None]
            bias = bias * scale if bias is not None else None
            post = bn.bias.detach() - bn.running_mean * scale
        fill = None
        if isinstance(conv, MaskedConv2d):
            radius = fill_radius(conv.Lambda, conv.square_dis, FILL_TOLERANCE)
            c0 = RBF_CENTRE_INDEX
            kernel = rbf_kernel(conv.Lambda.detach(), conv.square_dis.detach())
            kernel = kernel[c0 - radius: c0 + radius + 1, c0 - radius: c0 + radius + 1]
            fill = {"radius": radius, "weights": [float(v) for v in kernel.reshape(-1)]}
        self.ops.append({
            "op": "conv", "in": x, "out": out, "kernel": k, "stride": s, "pad": p,
            "cin": c, "cout": conv.out_channels,
            "weight": self.blob(weight.reshape(conv.out_channels, c, k * k)),
            "pre_bias": self.blob(bias) if bias is not None else None,
            "post_bias": self.blob(post) if post is not None else None,
            "fill": fill, "residual": residual, "relu": relu,
        })
        return out

    def op(self, kind: str, out_shape: Sequence[int], **fields) -> str:
        out = self.fresh(out_shape)
        self.ops.append({"op": kind, **fields, "out": out})
        return out

    # ---- the network's parts, in forward order

    def sequential_convs(self, seq: nn.Sequential, x: str) -> str:
        """conv, BN[, ReLU] as one Sequential (transitions and fuse steps)."""
        layers = list(seq)
        assert isinstance(layers[0], nn.Conv2d) and isinstance(layers[1], nn.BatchNorm2d)
        return self.conv(layers[0], layers[1], x, relu=len(layers) > 2)

    def transition(self, transition: nn.ModuleList, features: List[str]) -> List[str]:
        xs = []
        for i, t in enumerate(transition):
            if t is None:
                xs.append(features[i])
            elif isinstance(t[0], nn.Conv2d):
                xs.append(self.sequential_convs(t, features[i]))
            else:  # a new branch grown from the lowest-resolution one, stride-2 steps
                x = features[-1]
                for step in t:
                    x = self.sequential_convs(step, x)
                xs.append(x)
        return xs

    def block(self, block: nn.Module, x: str) -> str:
        residual = x if block.downsample is None else self.conv(block.downsample[0], block.downsample[1], x, relu=False)
        h = self.conv(block.conv1, block.bn1, x, relu=True)
        if isinstance(block, Bottleneck):
            h = self.conv(block.conv2, block.bn2, h, relu=True)
            return self.conv(block.conv3, block.bn3, h, relu=True, residual=residual)
        assert isinstance(block, BasicBlock), f"unexpected block {type(block).__name__}"
        return self.conv(block.conv2, block.bn2, h, relu=True, residual=residual)

    def module(self, module: nn.Module, xs: List[str]) -> List[str]:
        for i, branch in enumerate(module.branches):
            for block in branch:
                xs[i] = self.block(block, xs[i])
        if module.fuse_layers is None:
            return xs
        fused = []
        for i, row in enumerate(module.fuse_layers):
            terms = []
            for j, layer in enumerate(row):
                if j == i:
                    terms.append({"tensor": xs[j], "upsample": False})
                elif j > i:
                    terms.append({"tensor": self.conv(layer[0], layer[1], xs[j], relu=False), "upsample": True})
                else:
                    z = xs[j]
                    for step in layer:
                        z = self.sequential_convs(step, z)
                    terms.append({"tensor": z, "upsample": False})
            fused.append(self.op("fuse_sum", self.tensors[xs[i]], terms=terms, relu=True))
        return fused

    def final_head(self, head: nn.Sequential, features: List[str]) -> str:
        """HRNet's head (1x1 conv, BN, ReLU, 1x1 conv) with its first conv moved before the
        upsampling: conv1(concat(f0, up(f1), ...)) = W0 f0 + sum_i up(Wi fi) exactly (both are
        linear, one per position, one per channel), so each Wi runs at its branch's own size:
        an eighth of the multiply-adds for W18. Its outputs are read only where the mask
        computes (the merge keeps the previous logits elsewhere), so no fill is involved."""
        conv1, bn, _, conv2 = head
        scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
        bias = conv1.bias.detach() * scale + bn.bias.detach() - bn.running_mean * scale
        terms, start = [], 0
        for i, f in enumerate(features):
            c, h, w = self.tensors[f]
            weight = conv1.weight.detach()[:, start:start + c] * scale[:, None, None, None]
            start += c
            out = self.fresh([conv1.out_channels, h, w])
            self.ops.append({
                "op": "conv", "in": f, "out": out, "kernel": 1, "stride": 1, "pad": 0,
                "cin": c, "cout": conv1.out_channels,
                "weight": self.blob(weight.reshape(conv1.out_channels, c, 1)),
                "pre_bias": self.blob(bias) if i == 0 else None, "post_bias": None,
                "fill": None, "residual": None, "relu": False,
            })
            terms.append({"tensor": out, "upsample": i > 0})
        _, h, w = self.tensors[features[0]]
        hidden = self.op("fuse_sum", [conv1.out_channels, h, w], terms=terms, relu=True)
        return self.conv(conv2, None, hidden, relu=False)

    def head(self, head: nn.Sequential, features: List[str]) -> str:
        _, h, w = self.tensors[features[0]]
        width = sum(self.tensors[f][0] for f in features)
        x = self.op("concat_up", [width, h, w], parts=list(features)) if len(features) > 1 else features[0]
        layers = list(head)
        i = 0
        while i < len(layers):
            layer = layers[i]
            c, h, w = self.tensors[x]
            if isinstance(layer, nn.AvgPool2d):
                x = self.op("avgpool2", [c, h // 2, w // 2], **{"in": x})
                i += 1
            elif isinstance(layer, nn.Upsample):
                x = self.op("upsample", [c, h * 2, w * 2], **{"in": x})
                i += 1
            elif isinstance(layer, nn.Conv2d):
                bn = layers[i + 1] if i + 1 < len(layers) and isinstance(layers[i + 1], nn.BatchNorm2d) else None
                relu = bn is not None and i + 2 < len(layers) and isinstance(layers[i + 2], nn.ReLU)
                x = self.conv(layer, bn, x, relu=relu)
                i += 1 + (bn is not None) + relu
            else:
                raise AssertionError(f"unexpected head layer {layer}")
        return x


def build_stage1(net: ADPCNet, image_shape: Sequence[int], store: WeightStore) -> Dict:
    """Stem, stage 1 and exit 1: nothing is masked, the image is its input."""
    b = _Builder(store)
    image = b.tensor("image", image_shape)
    x = b.conv(net.conv1, net.bn1, image, relu=True)
    x = b.conv(net.conv2, net.bn2, x, relu=True)
    for block in net.layer1:
        x = b.block(block, x)
    logits = b.head(net.exit1, [x])
    _, h, w = b.tensors[x]
    return {"stage": 1, "resolutions": [[h, w]], "inputs": [image], "tensors": b.tensors, "ops": b.ops,
            "outputs": {"features": [x], "logits": logits}}


def build_stage(net: ADPCNet, k: int, feature_shapes: Sequence[Sequence[int]],
                resolutions: Sequence[Tuple[int, int]], store: WeightStore) -> Dict:
    """Stage k's program (k = 2..4); its weights go into `store`."""
    b = _Builder(store)
    inputs = [b.tensor(f"feat_in{i}", shape) for i, shape in enumerate(feature_shapes)]
    xs = b.transition(getattr(net, f"transition{k - 1}"), inputs)
    for module in getattr(net, f"stage{k}"):
        xs = b.module(module, xs)
    logits = b.final_head(net.last_layer, xs) if k == 4 else b.head(net.head(k), xs)
    program = {
        "stage": k,
        "resolutions": [list(r) for r in resolutions],
        "inputs": inputs,
        "tensors": b.tensors,
        "ops": b.ops,
        "outputs": {"features": [] if k == 4 else xs, "logits": logits},
    }
    return program


# --------------------------------------------------------------------------- reference run

def _fill(z: torch.Tensor, mask: torch.Tensor, fill: Dict) -> torch.Tensor:
    r = fill["radius"]
    size = 2 * r + 1
    kernel = torch.tensor(fill["weights"], dtype=z.dtype).reshape(1, 1, size, size)
    zm = z * mask
    interpolated = F.conv2d(zm, kernel.expand(z.shape[1], 1, size, size), padding=r, groups=z.shape[1])
    return zm + interpolated * (1 - mask)


def run_program(program: Dict, weights: bytes, features: List[torch.Tensor],
                mask: Optional[torch.Tensor]) -> Tuple[List[torch.Tensor], torch.Tensor]:
    """Runs a program densely (NCHW, batch 1) under the 1/4-resolution mask (None = CA off);
    `weights` is the weights file's content."""
    blob = lambda ref: torch.from_numpy(np.frombuffer(weights, "<f4", ref[1], ref[0]).copy())  # noqa: E731
    values: Dict[str, torch.Tensor] = dict(zip(program["inputs"], features))

    def upsampled(name: str, size) -> torch.Tensor:
        x = values[name]
        return x if tuple(x.shape[-2:]) == tuple(size) else F.interpolate(x, size=size, mode="bilinear", align_corners=False)

    for op in program["ops"]:
        shape = program["tensors"][op["out"]]
        size = tuple(shape[1:])
        if op["op"] == "conv":
            k = op["kernel"]
            weight = blob(op["weight"]).reshape(op["cout"], op["cin"], k, k)
            bias = blob(op["pre_bias"]) if op["pre_bias"] else None
            z = F.conv2d(values[op["in"]], weight, bias, stride=op["stride"], padding=op["pad"])
            if op["fill"] is not None and mask is not None:
                z = _fill(z, F.interpolate(mask, size=size, mode="nearest"), op["fill"])
            if op["post_bias"]:
                z = z + blob(op["post_bias"]).reshape(1, -1, 1, 1)
            if op["residual"]:
                z = z + values[op["residual"]]
            values[op["out"]] = torch.relu(z) if op["relu"] else z
        elif op["op"] == "fuse_sum":
            total = None
            for term in op["terms"]:
                t = upsampled(term["tensor"], size) if term["upsample"] else values[term["tensor"]]
                total = t if total is None else total + t
            values[op["out"]] = torch.relu(total) if op["relu"] else total
        elif op["op"] == "concat_up":
            values[op["out"]] = torch.cat([upsampled(p, size) for p in op["parts"]], dim=1)
        elif op["op"] == "avgpool2":
            values[op["out"]] = F.avg_pool2d(values[op["in"]], 2, 2)
        elif op["op"] == "upsample":
            values[op["out"]] = F.interpolate(values[op["in"]], scale_factor=2, mode="bilinear", align_corners=False)
        else:
            raise ValueError(f"unknown op {op['op']}")
    outputs = program["outputs"]
    return [values[f] for f in outputs["features"]], values[outputs["logits"]]
