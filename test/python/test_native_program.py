"""The native layer programs reproduce the stage graphs when run densely with torch."""
import numpy as np
import pytest
import torch

from models.adpc import native_program
from models.adpc.bundle import masked_resolutions
from models.adpc.flops import conv_costs
from models.adpc.graphs import StageGraph, truncated_fills
from models.adpc.network import MaskSource, build_model, max_softmax
from models.adpc.weight_store import WeightStore


def close(a, b):
    """Equal up to float32 rounding, which grows with the random weights' large activations."""
    return torch.allclose(a, b, rtol=0, atol=4e-6 * (1 + float(b.abs().max())))


def randomised(arch):
    torch.manual_seed(0)
    net = build_model(arch).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.normal_(1, 0.5)
                m.bias.normal_(0, 0.1)
            if isinstance(m, native_program.MaskedConv2d):
                m.Lambda.fill_(float(torch.empty(1).uniform_(0.5, 3.0)))
    return net


@pytest.mark.parametrize("arch,size", [("tiny", (64, 128)), ("w18s1", (64, 96))])
@pytest.mark.parametrize("ca", [True, False])
def test_programs_match_the_stage_graphs(arch, size, ca, tmp_path):
    net = randomised(arch)
    costs = conv_costs(net, *size)
    x = torch.randn(1, 3, *size)
    store = WeightStore(tmp_path / "weights.bin")
    with torch.no_grad(), truncated_fills(net):
        features, logits = net.run_stage1(x)
        stage1 = native_program.build_stage1(net, list(x.shape[1:]), store)
        store.close()
        got_features, got_logits = native_program.run_program(stage1, store.path.read_bytes(), [x], None)
        assert close(got_features[0], features[0]) and close(got_logits, logits)
        threshold = float(max_softmax(logits).median()) if ca else 1.0
        for k in (2, 3, 4):
            resolutions = masked_resolutions(costs, k)
            program = native_program.build_stage(
                net, k, [list(f.shape[1:]) for f in features], resolutions, store)
            store.close()
            outputs = StageGraph(net, k, resolutions)(*features, logits, torch.tensor([threshold]))
            mask = MaskSource(logits, threshold).full if ca else None
            got_features, head = native_program.run_program(
                program, store.path.read_bytes(), features, mask)
            merged = head if mask is None else logits * (1 - mask) + head * mask
            n = len(outputs) - 4
            assert len(got_features) == n
            for a, b in zip(got_features, outputs[:n]):
                assert close(a, b)
            assert close(merged, outputs[n])
            if ca and k == 2:  # the median of exit 1's confidence: about half is skipped
                assert 0 < int(outputs[-1][0]) < resolutions[0][0] * resolutions[0][1]
            features, logits = list(outputs[:n]), outputs[n]


def test_program_lists_every_masked_conv_with_its_fill(tmp_path):
    net = randomised("tiny")
    costs = conv_costs(net, 64, 128)
    with torch.no_grad():
        features, _ = net.run_stage1(torch.randn(1, 3, 64, 128))
    program = native_program.build_stage(net, 2, [list(f.shape[1:]) for f in features],
                                         masked_resolutions(costs, 2), WeightStore(tmp_path / "w.bin"))
    convs = [op for op in program["ops"] if op["op"] == "conv"]
    assert len(convs) == sum(1 for c in costs if c.stage == 2)
    for op in convs:
        r = op["fill"]["radius"]
        assert 0 <= r <= 3 and len(op["fill"]["weights"]) == (2 * r + 1) ** 2
        assert list(program["tensors"][op["out"]][1:]) in program["resolutions"]
