"""One loader for the Cityscapes on-disk layout: the synthetic sets and real Cityscapes.

    ROOT/leftImg8bit/<split>/<city>/<name>_leftImg8bit.png
    ROOT/gtFine/<split>/<city>/<name>_gtFine_labelTrainIds.png   (trainIds, 255 = ignore)

Real Cityscapes ships `_gtFine_labelIds.png`; those are mapped to trainIds on load when no
labelTrainIds file exists, so no preprocessing script is needed.
"""
from __future__ import annotations

import functools
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

IGNORE = 255
NUM_CLASSES = 19
# HRNet's normalisation (ImageNet statistics), applied to RGB in [0, 1].
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

# Cityscapes labelIds -> trainIds (the 19 evaluated classes; everything else ignored).
_ID_TO_TRAIN = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
                24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
ID_TO_TRAIN_LUT = np.full(256, IGNORE, dtype=np.uint8)
for _id, _train in _ID_TO_TRAIN.items():
    ID_TO_TRAIN_LUT[_id] = _train


class DatasetError(Exception):
    pass


@dataclass(frozen=True)
class Sample:
    image: Path
    label: Path
    from_label_ids: bool


def find_samples(root: str | Path, split: str) -> List[Sample]:
    root = Path(root)
    image_dir = root / "leftImg8bit" / split
    if not image_dir.is_dir():
        raise DatasetError(f"no images: {image_dir} does not exist (expected the Cityscapes layout)")
    samples = []
    for image in sorted(image_dir.glob("*/*_leftImg8bit.png")):
        stem = image.name[: -len("_leftImg8bit.png")]
        label_dir = root / "gtFine" / split / image.parent.name
        train_ids = label_dir / f"{stem}_gtFine_labelTrainIds.png"
        label_ids = label_dir / f"{stem}_gtFine_labelIds.png"
        if train_ids.is_file():
            samples.append(Sample(image, train_ids, False))
        elif label_ids.is_file():
            samples.append(Sample(image, label_ids, True))
        else:
            raise DatasetError(f"no label for {image}: expected {train_ids}")
    if not samples:
        raise DatasetError(f"no *_leftImg8bit.png images under {image_dir}")
    return samples


def read_pair(sample: Sample, size: Optional[Tuple[int, int]] = None) -> Tuple[np.ndarray, np.ndarray]:
    """RGB uint8 [H,W,3] and trainIds uint8 [H,W], optionally resized to size=(H, W)."""
    image = Image.open(sample.image).convert("RGB")
    label = Image.open(sample.label)
    if size is not None and image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), Image.BILINEAR)
        label = label.resize((size[1], size[0]), Image.NEAREST)
    label_np = np.asarray(label, dtype=np.uint8)
    if sample.from_label_ids:
        label_np = ID_TO_TRAIN_LUT[label_np]
    return np.asarray(image, dtype=np.uint8), label_np


@functools.lru_cache(maxsize=None)
def _mean_std(device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    # cached: `batch` normalises each sample, and on a GPU each new tensor is a host copy
    return (torch.tensor(MEAN, device=device).view(1, 3, 1, 1),
            torch.tensor(STD, device=device).view(1, 3, 1, 1))


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N,H,W,3] -> normalised float32 [N,3,H,W], on the images' device."""
    x = images.permute(0, 3, 1, 2).float().div_(255.0)
    mean, std = _mean_std(x.device)
    return (x - mean) / std


def progress(prefix: str, done: int, total: int, started: float) -> None:
    elapsed = time.time() - started
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate > 0 else 0.0
    width = 30
    filled = int(width * done / max(total, 1))
    bar = "#" * filled + "-" * (width - filled)
    end = "\n" if done == total or not sys.stderr.isatty() else ""
    if sys.stderr.isatty() or done == total or done % max(total // 10, 1) == 0:
        sys.stderr.write(f"\r{prefix} [{bar}] {done}/{total} {rate:.1f}/s eta {eta:.0f}s{end}")
        sys.stderr.flush()


class InMemorySplit:
    """A whole split decoded into uint8 tensors once, so training steps never wait on PNGs.
    Moved to a GPU (`to`), the augmentation of `batch` runs there too."""

    def __init__(self, root: str | Path, split: str, size: Optional[Tuple[int, int]] = None,
                 limit: Optional[int] = None):
        samples = find_samples(root, split)
        if limit is not None:
            samples = samples[:limit]
        images, labels = [], []
        started = time.time()
        # PIL decodes with the GIL released, so threads load a large split several times faster
        pool = ThreadPoolExecutor(max_workers=min(16, os.cpu_count() or 1))
        try:
            for sample, (image, label) in zip(samples, pool.map(lambda s: read_pair(s, size), samples)):
                if images and image.shape != images[0].shape:
                    raise DatasetError(f"{sample.image}: size {image.shape[:2]} differs from "
                                       f"{images[0].shape[:2]}; pass a size to resize on load")
                images.append(image)
                labels.append(label)
                progress(f"loading {split}", len(images), len(samples), started)
        finally:
            pool.shutdown(cancel_futures=True)  # a failed load does not wait for the rest
        self.samples = samples
        self.images = torch.from_numpy(np.stack(images))  # [N,H,W,3] uint8
        self.labels = torch.from_numpy(np.stack(labels))  # [N,H,W] uint8

    def __len__(self) -> int:
        return len(self.samples)

    def nbytes(self) -> int:
        return sum(t.element_size() * t.nelement() for t in (self.images, self.labels))

    def to(self, device: torch.device) -> "InMemorySplit":
        self.images = self.images.to(device)
        self.labels = self.labels.to(device)
        return self

    def class_frequencies(self) -> torch.Tensor:
        counts = torch.bincount(self.labels.flatten().long(), minlength=256)[:NUM_CLASSES]
        return counts.double() / counts.sum().clamp(min=1)

    def batch(self, indices, crop: Optional[Tuple[int, int]] = None,
              scale_range: Tuple[float, float] = (1.0, 1.0), flip: bool = False,
              rng: Optional[random.Random] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Normalised images [B,3,h,w] and int64 labels [B,h,w], augmented when asked:
        random rescale, random crop (padding with ignore), horizontal flip."""
        rng = rng or random.Random(0)
        xs, ys = [], []
        for i in indices:
            x = normalise(self.images[i: i + 1])
            y = self.labels[i: i + 1].unsqueeze(1).float()
            scale = rng.uniform(*scale_range)
            if scale != 1.0:
                size = (max(8, round(x.shape[2] * scale)), max(8, round(x.shape[3] * scale)))
                x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
                y = F.interpolate(y, size=size, mode="nearest")
            if crop is not None:
                x, y = _random_crop(x, y, crop, rng)
            if flip and rng.random() < 0.5:
                x, y = x.flip(-1), y.flip(-1)
            xs.append(x)
            ys.append(y)
        return torch.cat(xs), torch.cat(ys).squeeze(1).long()


def _random_crop(x, y, crop, rng):
    ch, cw = crop
    pad_h, pad_w = max(ch - x.shape[2], 0), max(cw - x.shape[3], 0)
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), value=0.0)
        y = F.pad(y, (0, pad_w, 0, pad_h), value=float(IGNORE))
    top = rng.randint(0, x.shape[2] - ch)
    left = rng.randint(0, x.shape[3] - cw)
    return x[:, :, top: top + ch, left: left + cw], y[:, :, top: top + ch, left: left + cw]
