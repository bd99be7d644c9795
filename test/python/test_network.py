"""Confidence adaptivity follows the official ADP-C semantics."""
import pytest
import torch
import torch.nn.functional as F

from models.adpc.network import (MaskSource, MaskedConv2d, build_model, rbf_fill, rbf_kernel,
                                 rbf_square_distances)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = build_model("tiny").eval()
    with torch.no_grad():  # random BN statistics so the exits disagree and confidences vary
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.normal_(0, 0.1)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.normal_(1, 0.3)
    return m


def test_four_exits_at_quarter_resolution(model):
    out = model(torch.randn(2, 3, 64, 128))
    assert [tuple(l.shape) for l in out.logits] == [(2, 19, 16, 32)] * 4
    assert out.masks == [None, None, None]


def test_threshold_one_equals_ca_off(model):
    x = torch.randn(1, 3, 64, 128)
    with torch.no_grad():
        off = model(x)
        one = model(x, threshold=1.0)
        for a, b in zip(off.logits, one.logits):
            assert torch.equal(a, b)
        # a mask of ones through the masked path (a threshold above any confidence) is CA off
        features, merged = model.run_stage1(x)
        for k in (2, 3, 4):
            source = MaskSource(merged, 2.0)
            assert bool(source.full.all())
            features, merged = model.run_stage(k, features, source)
            assert torch.allclose(merged, off.logits[k - 1], atol=1e-5)


def test_masks_are_nested_and_merging_copies(model):
    x = torch.randn(2, 3, 64, 128)
    with torch.no_grad():
        first = model(x, max_exit=1).logits[0]
        median = float(F.softmax(first, 1).max(1)[0].median())
        out = model(x, threshold=median)
    m2, m3, m4 = out.masks
    assert 0.3 < float(m2.mean()) < 0.7
    # once confident, a pixel keeps its logits: skipped at k means skipped at k+1
    assert bool((m3 <= m2).all()) and bool((m4 <= m3).all())
    for k, m in enumerate(out.masks):
        kept = (m == 0).expand_as(out.logits[k])
        assert torch.equal(out.logits[k + 1][kept], out.logits[k][kept])


def test_mask_equals_official_order_of_resizing():
    logits = torch.randn(2, 19, 16, 32) * 3
    source = MaskSource(logits, 0.5)
    for size in [(16, 32), (8, 16), (4, 8), (2, 4)]:
        resized = F.interpolate(logits, size=size)  # official: resize logits, then softmax
        official = (F.softmax(resized, 1).max(1, keepdim=True)[0] <= 0.5).float()
        assert torch.equal(source.at(size), official)


def test_masked_conv_matches_the_official_formula():
    torch.manual_seed(1)
    conv = MaskedConv2d(4, 6, 3, 1, 1, bias=False)
    x = torch.randn(1, 4, 10, 12)
    mask = (torch.rand(1, 1, 10, 12) > 0.6).float()
    conv.source = MaskSource(torch.zeros(1, 19, 10, 12), 1.0)
    conv.source.full = mask
    conv.source._by_size = {(10, 12): mask}
    y = F.conv2d(x, conv.weight, padding=1)
    kernel = torch.exp(-(3.0 ** 2) * rbf_square_distances())
    kernel = kernel / (kernel.sum() + 1e-5)
    interp = F.conv2d(y * mask, kernel.expand(6, 1, 7, 7), padding=3, groups=6)
    expected = y * mask + interp * (1 - mask)
    assert torch.allclose(conv(x), expected, atol=1e-6)
    assert float(rbf_kernel(conv.Lambda, conv.square_dis)[3, 3]) == 0.0


def test_skipped_positions_never_need_the_conv_output():
    # the property that lets a sparse conv compute y only where the mask is 1
    torch.manual_seed(2)
    y = torch.randn(1, 3, 9, 9)
    mask = (torch.rand(1, 1, 9, 9) > 0.5).float()
    lam, dis = torch.tensor(3.0), rbf_square_distances()
    noisy = y + torch.randn_like(y) * 100 * (1 - mask)
    assert torch.allclose(rbf_fill(y, mask, 1 - mask, lam, dis), rbf_fill(noisy, mask, 1 - mask, lam, dis),
                          atol=1e-5)


def test_input_size_can_change_between_calls(model):
    with torch.no_grad():
        a = model(torch.randn(1, 3, 64, 128), threshold=0.3)
        b = model(torch.randn(1, 3, 96, 64), threshold=0.3)
    assert a.logits[3].shape[-2:] == (16, 32)
    assert b.logits[3].shape[-2:] == (24, 16)
    assert b.masks[0].shape[-2:] == (24, 16)


def test_gradients_reach_lambda_in_training():
    m = build_model("tiny").train()
    out = m(torch.randn(2, 3, 64, 128), threshold=0.3)
    sum(l.mean() for l in out.logits).backward()
    lambdas = [p.grad for n, p in m.named_parameters() if n.endswith("Lambda")]
    assert any(g is not None and float(g.abs()) > 0 for g in lambdas)
