"""The FLOPs counter reproduces the published figures at 1024x2048."""
import pytest
import torch

from models.adpc.flops import (ConvCost, conv_costs, counted_gflops, dense_gflops, exit_gflops,
                               gflops_by_resolution, segment_gflops, summary)
from models.adpc.network import build_model


def test_w48():
    costs = conv_costs(build_model("w48"), 1024, 2048)
    assert dense_gflops(costs) == pytest.approx(696.2, abs=0.1)
    for got, want in zip(exit_gflops(costs), [41.9, 105.6, 368.0, 701.3]):
        assert got == pytest.approx(want, abs=0.1)
    # the published per-segment split
    assert segment_gflops(costs, 1, head=False) == pytest.approx(39.84, abs=0.01)
    assert segment_gflops(costs, 3, head=False) == pytest.approx(260.86, abs=0.01)
    assert segment_gflops(costs, 4, head=True) == pytest.approx(64.95, abs=0.01)


def test_w18_small_v2_and_v1():
    s2 = summary("w18s2", 1024, 2048)
    assert s2["dense_gflops"] == pytest.approx(71.6, abs=0.1)
    assert s2["exit_gflops"][3] == pytest.approx(73.2, abs=0.1)
    assert summary("w18s1", 1024, 2048)["dense_gflops"] == pytest.approx(31.1, abs=0.1)


def test_masked_share_counts_dense_times_p_plus_fill():
    cost = ConvCost("c", 2, False, macs=1000, out_channels=2, out_size=(4, 5), masked=True)
    assert cost.counted_macs(1.0) == 1000
    assert cost.counted_macs(0.5) == pytest.approx(500 + 0.25 * 2 * 49 * 20)
    assert cost.counted_macs(0.0) == 0
    plain = ConvCost("c", 1, False, macs=1000, out_channels=2, out_size=(4, 5), masked=False)
    assert plain.counted_macs(0.0) == 1000


def test_counted_gflops_from_masks():
    costs = conv_costs(build_model("tiny"), 64, 128)
    full = [torch.ones(1, 16, 32), torch.ones(1, 16, 32), torch.ones(1, 16, 32)]
    assert counted_gflops(costs, full) == pytest.approx(exit_gflops(costs))
    none = [torch.zeros(1, 16, 32)] * 3
    skipped = counted_gflops(costs, none)
    assert skipped == pytest.approx([exit_gflops(costs)[0]] * 4)
    split = gflops_by_resolution(costs, 4)
    assert sum(split.values()) == pytest.approx(segment_gflops(costs, 4))
    assert set(split) >= {"16x32", "8x16", "4x8", "2x4"}
