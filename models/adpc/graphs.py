"""The stage graphs a bundle is made of, as torch modules that torch.onnx exports.

Stage 1 takes the normalised image; stage k > 1 takes the previous stage's branch features,
the merged logits and the CA threshold, applies CA itself and returns its branch features
(not stage 4), the merged logits, a uint8 label map, the confidence (max softmax) at 1/4
resolution and the computed positions per masked resolution (docs/BUNDLE.md). Each stage
has a dense-masked form (ADP-C's reference), a plain form (CA off), and stage 4 a form whose
final head runs only at the computed positions; DenseBaselineGraph is the plain HRNet.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Dict, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .network import RBF_SIZE, ADPCNet, MaskedConv2d, MaskSource, exit_input, fill_radius, max_softmax, rbf_fill

FILL_TOLERANCE = 1e-6


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


class FullLabelsGraph(nn.Module):
    """Labels at the input size from merged logits upsampled bilinearly: the paper's
    evaluation protocol, as a graph so that no float logits leave onnxruntime."""

    def __init__(self, height: int, width: int):
        super().__init__()
        self.size = (height, width)

    def forward(self, logits):  # [1,K,h,w] -> uint8 [1,H,W]
        up = F.interpolate(logits, size=self.size, mode="bilinear", align_corners=False)
        return up.argmax(dim=1).to(torch.uint8)


class DenseBaselineGraph(nn.Module):
    """The plain HRNet a user would otherwise run: backbone and final head, no early exits."""

    def __init__(self, net: ADPCNet):
        super().__init__()
        self.net = net

    def forward(self, image):
        logits = self.net.forward_dense(image)
        labels, _ = labels_and_confidence(logits)
        return logits, labels


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
