"""The ADP-C network: HRNetV2 with four exits and confidence adaptivity (CA).

Module names and parameter shapes follow the official ADP-C code (liuzhuang13/anytime,
lib/models/model_anytime.py) so that an official state_dict, with its `model.` prefix
stripped, loads with strict=True. Behaviour follows the official semantics:

- exits 1-3 are the "redesigned heads" (RH): pooled encoder-decoders of width
  `exit_width`; exit 4 (`last_layer`) is HRNet's own head;
- every conv after stage 1 is a MaskedConv2d (it owns `Lambda` and `square_dis`), masked by
  the merged logits of the previous exit, resized by nearest interpolation to the conv's
  output size; the stem, stage 1 and exit 1 are never masked;
- skipped positions get a 7x7 RBF fill of their computed neighbours;
- merged_{k+1} = merged_k * (1 - m) + logits_{k+1} * m at 1/4 resolution.

Unlike the official code, masks are computed for every forward from its own logits (the
official code caches them by output size, which breaks when the input size changes).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

BN_MOMENTUM = 0.01
NUM_CLASSES = 19
RBF_SIZE = 7
STEM_WIDTH = 64  # fixed in HRNet and ADP-C, whatever the branch widths
RBF_CENTRE = 100000.0  # exp(-L^2 * 1e5) underflows to 0: a skipped pixel never fills itself


# --------------------------------------------------------------------------- configs

@dataclass(frozen=True)
class StageSpec:
    num_modules: int
    num_blocks: Tuple[int, ...]
    num_channels: Tuple[int, ...]
    block: str  # "BASIC" | "BOTTLENECK"


@dataclass(frozen=True)
class ArchConfig:
    name: str
    stage1: StageSpec
    stage2: StageSpec
    stage3: StageSpec
    stage4: StageSpec
    exit_width: int  # channels inside the redesigned heads (RH) of exits 1-3
    num_classes: int = NUM_CLASSES


def _spec(modules, blocks, channels, block="BASIC"):
    return StageSpec(modules, tuple(blocks), tuple(channels), block)


ARCHS = {
    # HRNetV2-W48: the paper's main model.
    "w48": ArchConfig(
        "w48",
        _spec(1, [4], [64], "BOTTLENECK"),
        _spec(1, [4, 4], [48, 96]),
        _spec(4, [4, 4, 4], [48, 96, 192]),
        _spec(3, [4, 4, 4, 4], [48, 96, 192, 384]),
        exit_width=128,
    ),
    # HRNetV2-W18-Small-v2.
    "w18s2": ArchConfig(
        "w18s2",
        _spec(1, [2], [64], "BOTTLENECK"),
        _spec(1, [2, 2], [18, 36]),
        _spec(3, [2, 2, 2], [18, 36, 72]),
        _spec(2, [2, 2, 2, 2], [18, 36, 72, 144]),
        exit_width=64,
    ),
    # HRNetV2-W18-Small-v1.
    "w18s1": ArchConfig(
        "w18s1",
        _spec(1, [1], [32], "BOTTLENECK"),
        _spec(1, [2, 2], [16, 32]),
        _spec(1, [2, 2, 2], [16, 32, 64]),
        _spec(1, [2, 2, 2, 2], [16, 32, 64, 128]),
        exit_width=64,
    ),
    # A few thousand parameters: for fast tests of the whole pipeline.
    "tiny": ArchConfig(
        "tiny",
        _spec(1, [1], [4], "BOTTLENECK"),
        _spec(1, [1, 1], [4, 8]),
        _spec(1, [1, 1, 1], [4, 8, 16]),
        _spec(1, [1, 1, 1, 1], [4, 8, 16, 32]),
        exit_width=8,
    ),
}


def get_arch(name: str) -> ArchConfig:
    if name not in ARCHS:
        raise ValueError(f"unknown arch {name!r}; choose one of {sorted(ARCHS)}")
    return ARCHS[name]


# --------------------------------------------------------------------------- masking

def max_softmax(logits: torch.Tensor) -> torch.Tensor:
    """max_c softmax(logits)_c = 1 / sum_c exp(l_c - max l), [N,1,h,w].

    Same value as softmax(...).max(), written with reductions over channels: exported to
    ONNX it avoids a Softmax over axis 1, which onnxruntime's CPU provider runs slowly.
    """
    top = logits.max(dim=1, keepdim=True)[0]
    return 1.0 / torch.exp(logits - top).sum(dim=1, keepdim=True)


class MaskSource:
    """Per-resolution CA masks from one set of merged logits.

    A position is computed when the max softmax probability is <= threshold. Resizing
    the 1/4-resolution mask by nearest interpolation picks the same source pixels as
    resizing the logits first (the official order), so the masks are identical.
    """

    def __init__(self, logits: torch.Tensor, threshold):
        confidence = max_softmax(logits)  # [N,1,h,w]
        self.confidence = confidence
        self.full = (confidence <= threshold).to(logits.dtype)  # [N,1,h,w], 1 = compute
        self._by_size = {tuple(self.full.shape[-2:]): self.full}

    def at(self, size: Sequence[int]) -> torch.Tensor:
        key = (int(size[0]), int(size[1]))
        if key not in self._by_size:
            self._by_size[key] = F.interpolate(self.full, size=key, mode="nearest")
        return self._by_size[key]

    def fill(self, y: torch.Tensor, lam: torch.Tensor, square_dis: torch.Tensor,
             radius: int) -> torch.Tensor:
        """A masked conv's output from its dense output y (see rbf_fill)."""
        mask = self.at(y.shape[-2:])
        return rbf_fill(y, mask, 1 - mask, lam, square_dis, radius)


def rbf_square_distances(size: int = RBF_SIZE) -> torch.Tensor:
    c = size // 2
    idx = torch.arange(size, dtype=torch.float32) - c
    d = idx[:, None] ** 2 + idx[None, :] ** 2
    d[c, c] = RBF_CENTRE
    return d


def rbf_kernel(lam: torch.Tensor, square_dis: torch.Tensor) -> torch.Tensor:
    kernel = torch.exp(-(lam ** 2) * square_dis)
    return kernel / (kernel.sum() + 1e-5)


def rbf_fill(y: torch.Tensor, keep: torch.Tensor, drop: torch.Tensor, lam: torch.Tensor,
             square_dis: torch.Tensor, radius: int = RBF_SIZE // 2) -> torch.Tensor:
    """ADP-C's masked output: y where the mask is 1, the RBF interpolation of y*mask elsewhere.

    keep = mask and drop = 1 - mask, either [N,1,h,w] or already broadcast over channels.
    `radius` < 3 drops the kernel's outer rings (after normalising over all 7x7): exported
    graphs use the smallest radius whose dropped weight is negligible (see fill_radius).
    """
    channels = int(y.shape[1])
    c = RBF_SIZE // 2
    kernel = rbf_kernel(lam, square_dis)[c - radius: c + radius + 1, c - radius: c + radius + 1]
    kernel = kernel.expand(channels, 1, 2 * radius + 1, 2 * radius + 1)
    ym = y * keep
    interpolated = F.conv2d(ym, kernel, padding=radius, groups=channels)
    return ym + interpolated * drop


def fill_radius(lam: torch.Tensor, square_dis: torch.Tensor, tolerance: float) -> int:
    """Smallest kernel radius whose dropped (outer) weights sum to at most `tolerance`."""
    kernel = rbf_kernel(lam.detach(), square_dis.detach())
    c = RBF_SIZE // 2
    for radius in range(c + 1):
        inner = kernel[c - radius: c + radius + 1, c - radius: c + radius + 1].sum()
        if float(kernel.sum() - inner) <= tolerance:
            return radius
    return c


class MaskedConv2d(nn.Conv2d):
    """A conv whose output is kept only where the CA mask says compute.

    `source` is set by the network for the duration of one forward; None means CA off
    (a plain convolution, numerically what a mask of ones gives).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.Lambda = nn.Parameter(torch.tensor(3.0))
        self.square_dis = nn.Parameter(rbf_square_distances(), requires_grad=False)
        self.source: Optional[MaskSource] = None
        self.fill_radius = RBF_SIZE // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        if self.source is None:
            return y
        return self.source.fill(y, self.Lambda, self.square_dis, self.fill_radius)


# --------------------------------------------------------------------------- blocks

def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, momentum=BN_MOMENTUM)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, conv, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = _bn(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = _bn(planes)
        self.downsample = downsample

    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, conv, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv(inplanes, planes, 1, bias=False)
        self.bn1 = _bn(planes)
        self.conv2 = conv(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = _bn(planes)
        self.conv3 = conv(planes, planes * 4, 1, bias=False)
        self.bn3 = _bn(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + residual)


BLOCKS = {"BASIC": BasicBlock, "BOTTLENECK": Bottleneck}


def _make_blocks(conv, block, inplanes, planes, count) -> nn.Sequential:
    downsample = None
    if inplanes != planes * block.expansion:
        downsample = nn.Sequential(
            conv(inplanes, planes * block.expansion, 1, bias=False),
            _bn(planes * block.expansion),
        )
    layers = [block(conv, inplanes, planes, 1, downsample)]
    layers += [block(conv, planes * block.expansion, planes) for _ in range(1, count)]
    return nn.Sequential(*layers)


def upsample_to(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class HighResolutionModule(nn.Module):
    """Parallel branches of blocks, then every branch fused into every other."""

    def __init__(self, conv, spec: StageSpec, in_channels: Sequence[int]):
        super().__init__()
        block = BLOCKS[spec.block]
        n = len(spec.num_channels)
        assert len(in_channels) == n == len(spec.num_blocks), "branch counts disagree"
        self.num_branches = n
        self.branches = nn.ModuleList(
            _make_blocks(conv, block, in_channels[i], spec.num_channels[i], spec.num_blocks[i])
            for i in range(n)
        )
        self.out_channels = [c * block.expansion for c in spec.num_channels]
        self.fuse_layers = self._make_fuse_layers(conv, self.out_channels) if n > 1 else None
        self.relu = nn.ReLU(inplace=True)

    @staticmethod
    def _make_fuse_layers(conv, channels):
        n = len(channels)
        fuse_layers = []
        for i in range(n):
            row = []
            for j in range(n):
                if j > i:  # lower resolution: 1x1 conv, then bilinear upsampling in forward
                    row.append(nn.Sequential(conv(channels[j], channels[i], 1, 1, 0, bias=False),
                                             _bn(channels[i])))
                elif j == i:
                    row.append(None)
                else:  # higher resolution: (i - j) stride-2 3x3 convs
                    steps = []
                    for k in range(i - j):
                        last = k == i - j - 1
                        out_c = channels[i] if last else channels[j]
                        step = [conv(channels[j], out_c, 3, 2, 1, bias=False), _bn(out_c)]
                        if not last:
                            step.append(nn.ReLU(inplace=True))
                        steps.append(nn.Sequential(*step))
                    row.append(nn.Sequential(*steps))
            fuse_layers.append(nn.ModuleList(row))
        return nn.ModuleList(fuse_layers)

    def forward(self, xs: List[torch.Tensor]) -> List[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        if self.fuse_layers is None:
            return xs
        fused = []
        for i, row in enumerate(self.fuse_layers):
            y = None  # summed in branch order, as the official code does
            for j, layer in enumerate(row):
                if j == i:
                    z = xs[j]
                elif j > i:
                    z = upsample_to(layer(xs[j]), xs[i].shape[-2:])
                else:
                    z = layer(xs[j])
                y = z if y is None else y + z
            fused.append(self.relu(y))
        return fused


def _make_transition(conv, pre: Sequence[int], cur: Sequence[int]) -> nn.ModuleList:
    layers = []
    for i, c in enumerate(cur):
        if i < len(pre):
            layers.append(None if c == pre[i] else nn.Sequential(
                conv(pre[i], c, 3, 1, 1, bias=False), _bn(c), nn.ReLU(inplace=True)))
        else:  # a new, lower-resolution branch grown from the lowest existing one
            steps = []
            for k in range(i + 1 - len(pre)):
                out_c = c if k == i - len(pre) else pre[-1]
                steps.append(nn.Sequential(conv(pre[-1], out_c, 3, 2, 1, bias=False),
                                           _bn(out_c), nn.ReLU(inplace=True)))
            layers.append(nn.Sequential(*steps))
    return nn.ModuleList(layers)


def _redesigned_head(conv, in_c: int, width: int, depth: int, num_classes: int) -> nn.Sequential:
    """RH exit: `depth` x (2x2 avg-pool, 1x1 conv, BN, ReLU) down, depth-1 x (bilinear x2,
    1x1 conv, BN, ReLU) up, then bilinear x2 and a 1x1 classifier back at 1/4."""
    layers: List[nn.Module] = []
    c = in_c
    for _ in range(depth):
        layers += [nn.AvgPool2d(2, 2), conv(c, width, 1, 1, 0, bias=True), _bn(width),
                   nn.ReLU(inplace=True)]
        c = width
    for _ in range(depth - 1):
        layers += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                   conv(width, width, 1, 1, 0, bias=True), _bn(width), nn.ReLU(inplace=True)]
    layers += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
               conv(width, num_classes, 1, 1, 0, bias=True)]
    return nn.Sequential(*layers)


def _hrnet_head(conv, in_c: int, num_classes: int) -> nn.Sequential:
    return nn.Sequential(conv(in_c, in_c, 1, 1, 0, bias=True), _bn(in_c), nn.ReLU(inplace=True),
                         conv(in_c, num_classes, 1, 1, 0, bias=True))


def exit_input(features: List[torch.Tensor]) -> torch.Tensor:
    """Every branch upsampled to 1/4 resolution and concatenated."""
    size = features[0].shape[-2:]
    return torch.cat([features[0]] + [upsample_to(f, size) for f in features[1:]], dim=1)


# --------------------------------------------------------------------------- network

@dataclass
class AnytimeOutput:
    logits: List[torch.Tensor]  # merged logits of each exit run, [N,classes,H/4,W/4]
    masks: List[Optional[torch.Tensor]] = field(default_factory=list)
    # masks[k-2] = 1/4-resolution mask that gated stage k (k = 2..4); None with CA off


class ADPCNet(nn.Module):
    def __init__(self, arch: ArchConfig):
        super().__init__()
        self.arch = arch
        plain, masked = nn.Conv2d, MaskedConv2d
        s = STEM_WIDTH
        self.conv1 = plain(3, s, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = _bn(s)
        self.conv2 = plain(s, s, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn2 = _bn(s)
        self.relu = nn.ReLU(inplace=True)

        spec1 = arch.stage1
        block1 = BLOCKS[spec1.block]
        self.layer1 = _make_blocks(plain, block1, s, spec1.num_channels[0], spec1.num_blocks[0])
        pre = [spec1.num_channels[0] * block1.expansion]
        self.exit1 = _redesigned_head(plain, pre[0], arch.exit_width, 3, arch.num_classes)

        self.stage_channels: List[List[int]] = [pre]
        for k, spec in ((2, arch.stage2), (3, arch.stage3), (4, arch.stage4)):
            cur = [c * BLOCKS[spec.block].expansion for c in spec.num_channels]
            setattr(self, f"transition{k - 1}", _make_transition(masked, pre, cur))
            modules = []
            for _ in range(spec.num_modules):
                modules.append(HighResolutionModule(masked, spec, cur))
                cur = modules[-1].out_channels
            setattr(self, f"stage{k}", nn.Sequential(*modules))
            width = sum(cur)
            if k < 4:
                setattr(self, f"exit{k}",
                        _redesigned_head(masked, width, arch.exit_width, 4 - k, arch.num_classes))
            else:
                self.last_layer = _hrnet_head(masked, width, arch.num_classes)
            self.stage_channels.append(cur)
            pre = cur

        # The masked convs each CA mask gates: transition k-1, stage k, exit k (k = 2..4).
        self._gated = {k: [m for part in self.segment(k) for m in part.modules()
                           if isinstance(m, MaskedConv2d)] for k in (2, 3, 4)}
        self.init_weights()

    def segment(self, k: int) -> List[nn.Module]:
        """The modules run between exit k-1 and exit k (k = 2..4), in order."""
        head = self.last_layer if k == 4 else getattr(self, f"exit{k}")
        return [getattr(self, f"transition{k - 1}"), getattr(self, f"stage{k}"), head]

    def head(self, k: int) -> nn.Module:
        return self.last_layer if k == 4 else getattr(self, f"exit{k}")

    def init_weights(self):
        # Trained from scratch here (no ImageNet weights can be downloaded), so He init
        # rather than the official N(0, 0.001) meant for fine-tuning a pretrained backbone.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    # ---- the four steps, usable one by one (the ONNX export wraps them per stage)

    def run_stem(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Stem and stage 1: the single 1/4-resolution branch."""
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        return [self.layer1(x)]

    def run_backbone(self, k: int, features: List[torch.Tensor]) -> List[torch.Tensor]:
        """Transition k-1 and stage k (k = 2..4), without the exit head."""
        xs = []
        for i, t in enumerate(getattr(self, f"transition{k - 1}")):
            if t is None:
                xs.append(features[i])
            else:  # a new branch grows from the lowest-resolution one
                xs.append(t(features[i] if i < len(features) else features[-1]))
        return getattr(self, f"stage{k}")(xs)

    def run_stage1(self, x: torch.Tensor) -> Tuple[List[torch.Tensor], torch.Tensor]:
        features = self.run_stem(x)
        return features, self.exit1(exit_input(features))

    @contextmanager
    def gated(self, k: int, source: Optional[MaskSource]):
        """The masked convs of segment k (2..4) follow `source` inside this block."""
        for conv in self._gated[k]:
            conv.source = source
        try:
            yield
        finally:
            for conv in self._gated[k]:
                conv.source = None

    def run_stage(self, k: int, features: List[torch.Tensor],
                  source: Optional[MaskSource]) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """Stage k (2..4) and its exit under the masks of `source` (None = CA off)."""
        with self.gated(k, source):
            features = self.run_backbone(k, features)
            logits = self.head(k)(exit_input(features))
        return features, logits

    def forward_dense(self, x: torch.Tensor) -> torch.Tensor:
        """The plain HRNet: backbone and final head, no early exits, no CA."""
        features = self.run_stem(x)
        for k in (2, 3, 4):
            features = self.run_backbone(k, features)
        return self.last_layer(exit_input(features))

    def forward(self, x: torch.Tensor, threshold: Optional[float] = None,
                max_exit: int = 4) -> AnytimeOutput:
        """Runs exits 1..max_exit. threshold None or >= 1 turns CA off."""
        ca = threshold is not None and threshold < 1.0
        features, merged = self.run_stage1(x)
        out = AnytimeOutput(logits=[merged])
        for k in range(2, max_exit + 1):
            source = MaskSource(merged.detach(), threshold) if ca else None
            features, logits = self.run_stage(k, features, source)
            if source is not None:
                m = source.full
                merged = merged * (1 - m) + logits * m
                out.masks.append(m)
            else:
                merged = logits
                out.masks.append(None)
            out.logits.append(merged)
        return out


def build_model(arch: str) -> ADPCNet:
    return ADPCNet(get_arch(arch))


def strip_official_prefix(state_dict: dict) -> dict:
    """An official ADP-C checkpoint: keep `model.*` keys without the prefix, drop the loss."""
    return {k[len("model."):]: v for k, v in state_dict.items() if k.startswith("model.")}
