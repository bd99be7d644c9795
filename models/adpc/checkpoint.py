"""Checkpoints: one schema for what training writes and export/evaluation read.

    {"format": "adpc-checkpoint", "version": 1, "arch": "w18s1", "input_size": [256, 512],
     "model": state_dict, "config": {...training config...},
     "step": 1977, "optimizer": state_dict}          # the last two only while resumable

`input_size` is the frame size the model was trained for (the split's image size, not the
augmentation crop); export uses it as the bundle's default input size. Official ADP-C
checkpoints (`model.`-prefixed keys plus the loss weights) are read by `load_official`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch

from .network import ADPCNet, build_model, strip_official_prefix

FORMAT = "adpc-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    pass


@dataclass
class Checkpoint:
    arch: str
    input_size: Tuple[int, int]
    model: Dict[str, torch.Tensor]
    config: Dict = field(default_factory=dict)
    step: Optional[int] = None
    optimizer: Optional[Dict] = None

    def network(self) -> ADPCNet:
        net = build_model(self.arch)
        net.load_state_dict(self.model, strict=True)
        return net.eval()


def save(path: Path, ckpt: Checkpoint) -> None:
    """Writes atomically: a crash mid-write never leaves a torn checkpoint behind."""
    body = {"format": FORMAT, "version": VERSION, "arch": ckpt.arch,
            "input_size": [int(ckpt.input_size[0]), int(ckpt.input_size[1])],
            "model": ckpt.model, "config": ckpt.config}
    if ckpt.step is not None:
        body["step"] = ckpt.step
    if ckpt.optimizer is not None:
        body["optimizer"] = ckpt.optimizer
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(body, tmp)
    tmp.replace(path)


def load(path: str | Path, map_location="cpu") -> Checkpoint:
    try:
        state = torch.load(path, map_location=map_location)
    except FileNotFoundError:
        raise
    except Exception as e:  # torch raises many types for a file that is not a checkpoint
        raise CheckpointError(f"{path}: cannot be read as a checkpoint ({e})") from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        hint = (" (it looks like an official ADP-C checkpoint: export it with --official)"
                if isinstance(state, dict) and any(str(k).startswith("model.") for k in state) else "")
        raise CheckpointError(f"{path}: not an {FORMAT} file{hint}")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {state.get('version')}; "
                              f"this code reads version {VERSION}")
    missing = [k for k in ("arch", "input_size", "model") if k not in state]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {missing}")
    h, w = state["input_size"]
    return Checkpoint(arch=state["arch"], input_size=(int(h), int(w)), model=state["model"],
                      config=state.get("config", {}), step=state.get("step"),
                      optimizer=state.get("optimizer"))


def load_official(path: str | Path, arch: str) -> ADPCNet:
    """A state_dict saved by the official code: `model.` keys plus `loss.criterion.weight`."""
    state = torch.load(path, map_location="cpu")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not any(k.startswith("model.") for k in state):
        raise CheckpointError(f"{path}: no 'model.' keys; not a checkpoint saved by the official code")
    extra = [k for k in state if not k.startswith("model.") and k != "loss.criterion.weight"]
    if extra:
        raise CheckpointError(f"{path}: unexpected keys {extra[:5]}")
    net = build_model(arch)
    net.load_state_dict(strip_official_prefix(state), strict=True)
    return net.eval()
