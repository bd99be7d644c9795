"""The network's state_dict matches the official ADP-C code key for key, shape for shape."""
from pathlib import Path

import pytest
import torch

from models.adpc.network import ARCHS, build_model, strip_official_prefix

FIXTURES = Path(__file__).parent / "fixtures"


def official_keys(arch):
    entries = {}
    for line in (FIXTURES / f"official_keys_{arch}.txt").read_text().splitlines():
        name, _, shape = line.partition(" ")
        entries[name] = tuple(int(s) for s in shape.split(",") if s)
    return entries


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_state_dict_matches_official(arch):
    ours = {k: tuple(v.shape) for k, v in build_model(arch).state_dict().items()}
    theirs = official_keys(arch)
    assert sorted(set(theirs) - set(ours)) == []
    assert sorted(set(ours) - set(theirs)) == []
    assert {k: v for k, v in ours.items() if theirs[k] != v} == {}


def test_official_checkpoint_loads_strictly():
    source = build_model("tiny")
    with torch.no_grad():
        for p in source.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    official = {"model." + k: v for k, v in source.state_dict().items()}
    official["loss.criterion.weight"] = torch.ones(19)
    target = build_model("tiny")
    target.load_state_dict(strip_official_prefix(official), strict=True)
    for k, v in source.state_dict().items():
        assert torch.equal(target.state_dict()[k], v), k


def test_every_masked_conv_has_lambda_and_square_dis():
    keys = build_model("w18s2").state_dict().keys()
    lambdas = {k[: -len(".Lambda")] for k in keys if k.endswith(".Lambda")}
    dists = {k[: -len(".square_dis")] for k in keys if k.endswith(".square_dis")}
    assert lambdas == dists
    assert not any(k.startswith(("conv1", "conv2", "layer1", "exit1")) for k in lambdas)
    assert any(k.startswith("last_layer") for k in lambdas)
