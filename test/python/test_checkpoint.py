"""One checkpoint schema: written by training, read by export and evaluation."""
from pathlib import Path

import pytest
import torch

from models.adpc import checkpoint
from models.adpc.network import build_model


def test_round_trip_keeps_the_input_size_and_refuses_other_files(tmp_path):
    net = build_model("tiny")
    path = tmp_path / "a.pt"
    checkpoint.save(path, checkpoint.Checkpoint("tiny", (64, 128), net.state_dict(), {"lr": 0.1}, step=3))
    back = checkpoint.load(path)
    assert (back.arch, back.input_size, back.step, back.config) == ("tiny", (64, 128), 3, {"lr": 0.1})
    assert not (tmp_path / "a.pt.tmp").exists()
    for name, tensor in back.network().state_dict().items():
        assert torch.equal(tensor, net.state_dict()[name])

    torch.save({"model." + k: v for k, v in net.state_dict().items()}, tmp_path / "official.pth")
    with pytest.raises(checkpoint.CheckpointError, match="--official"):
        checkpoint.load(tmp_path / "official.pth")
    torch.save({"format": checkpoint.FORMAT, "version": 99}, tmp_path / "future.pt")
    with pytest.raises(checkpoint.CheckpointError, match="version 99"):
        checkpoint.load(tmp_path / "future.pt")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(checkpoint.CheckpointError, match="cannot be read"):
        checkpoint.load(tmp_path / "text.pt")


def test_the_shipped_checkpoint_follows_the_schema():
    ckpt = checkpoint.load(Path(__file__).resolve().parents[2] / "models/checkpoints/default/model.pt")
    assert ckpt.arch == "w18s1" and ckpt.input_size == (256, 512)
    ckpt.network()
