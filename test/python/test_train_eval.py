"""Training, resuming and evaluating end to end on a tiny dataset in the Cityscapes layout."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from models.adpc import checkpoint, evaluate, train
from models.adpc.data import DatasetError, InMemorySplit, find_samples, read_pair
from models.adpc.train import class_weights


def write_split(root, split, count, label_kind="labelTrainIds"):
    img_dir = root / "leftImg8bit" / split / "town"
    lab_dir = root / "gtFine" / split / "town"
    img_dir.mkdir(parents=True)
    lab_dir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        label = np.zeros((32, 64), np.uint8)
        label[:10] = 10
        label[10:20, : 20 + i] = 2
        label[20:] = 0
        image = (label[..., None] * 12 + rng.integers(0, 20, (32, 64, 3))).astype(np.uint8)
        Image.fromarray(image).save(img_dir / f"town_000000_{i:06d}_leftImg8bit.png")
        if label_kind == "labelIds":  # raw Cityscapes ids: road 7, building 11, sky 23
            label = np.choose(label.clip(0, 10) // 5, [np.full_like(label, 7), np.full_like(label, 11), np.full_like(label, 23)])
        Image.fromarray(label).save(lab_dir / f"town_000000_{i:06d}_gtFine_{label_kind}.png")


@pytest.fixture()
def dataset(tmp_path):
    write_split(tmp_path, "train", 4)
    write_split(tmp_path, "test", 3)
    return tmp_path


def test_loader_reads_train_ids_and_raw_label_ids(tmp_path):
    write_split(tmp_path, "val", 2, label_kind="labelIds")
    samples = find_samples(tmp_path, "val")
    _, label = read_pair(samples[0])
    assert set(np.unique(label)) <= {0, 2, 10}


def test_loader_errors_name_the_problem(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        find_samples(tmp_path, "train")
    write_split(tmp_path, "train", 1)
    next((tmp_path / "gtFine" / "train" / "town").iterdir()).unlink()
    with pytest.raises(DatasetError, match="no label"):
        find_samples(tmp_path, "train")


def test_batches_are_augmented_and_shaped(dataset):
    data = InMemorySplit(dataset, "train")
    x, y = data.batch([0, 1], crop=(24, 40), scale_range=(0.5, 1.5), flip=True)
    assert x.shape == (2, 3, 24, 40) and y.shape == (2, 24, 40)
    assert y.dtype == torch.int64


def test_class_weights_balance_frequencies():
    freq = torch.zeros(19, dtype=torch.float64)
    freq[0], freq[1], freq[2] = 0.8, 0.15, 0.05
    w = class_weights(freq, 1.0)
    assert w[2] > w[1] > w[0]
    assert float(w[:3].mean()) == pytest.approx(1.0)
    assert torch.equal(class_weights(freq, 0.0), torch.ones(19))


def test_train_resume_and_evaluate(dataset, tmp_path):
    out = tmp_path / "run"
    args = ["--data", str(dataset), "--out", str(out), "--arch", "tiny", "--batch", "2",
            "--crop", "32", "64", "--ca-threshold", "0.5", "--ca-from", "2",
            "--log-every", "1", "--checkpoint-every", "2", "--distill", "0.5"]
    train.main(args + ["--iters", "2"])
    config = json.loads((out / "config.json").read_text())
    assert config["arch"] == "tiny" and config["ca_threshold"] == 0.5
    assert torch.load(out / "last.pt")["step"] == 2
    train.main(args + ["--iters", "4", "--resume"])
    assert torch.load(out / "last.pt")["step"] == 4

    final = checkpoint.load(out / "final.pt")
    assert final.input_size == (32, 64) and final.arch == "tiny" and final.optimizer is None
    assert final.config["iters"] == 4
    result = evaluate.evaluate(str(out / "final.pt"), str(dataset), "test", [0.3])
    assert result["images"] == 3 and result["arch"] == "tiny"
    for run in [result["ca_off"]] + result["ca"]:
        gflops = [e["gflops"] for e in run["exits"]]
        assert gflops == sorted(gflops)
        assert all(0 <= e["miou"] <= 100 for e in run["exits"])
    assert [e["gflops"] for e in result["ca_off"]["exits"]] == pytest.approx(
        result["exit_gflops_dense"], abs=1e-3)
    assert "| CA off |" in evaluate.table(result)


def test_fitted_iters_fill_the_budget_and_respect_the_cap():
    # 100 s budget, 10 s gone, 0.5 s a step: 97% of 90 s is 174 more steps
    assert train.fitted_iters(25, 0.5, 10.0, 100.0, 10_000) == 199
    assert train.fitted_iters(25, 0.5, 10.0, 100.0, 60) == 60
    assert train.fitted_iters(25, 0.5, 150.0, 100.0, 10_000) == 25


def test_budgeted_mixed_ca_bfloat16_run_records_its_fitted_steps(dataset, tmp_path):
    out = tmp_path / "budget"
    train.main(["--data", str(dataset), "--out", str(out), "--arch", "tiny", "--batch", "2",
                "--crop", "32", "64", "--ca-threshold", "0.5", "--ca-share", "0.5", "--amp", "true",
                "--iters", "100000", "--time-budget-s", "3", "--log-every", "1000"])
    # fitted after the timed steps, or cut where the budget ran out on a slow machine
    config = json.loads((out / "config.json").read_text())
    assert 0 < config["iters"] < 100000
    state = torch.load(out / "final.pt")
    assert state["config"]["iters"] == config["iters"]
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_a_resumed_run_keeps_its_step_count_instead_of_a_fresh_budget(dataset, tmp_path):
    out = tmp_path / "resumed"
    args = ["--data", str(dataset), "--out", str(out), "--arch", "tiny", "--batch", "2",
            "--crop", "32", "64", "--checkpoint-every", "2", "--log-every", "1000"]
    train.main(args + ["--iters", "2"])
    # a budget this small would stop a fresh run after its first step
    train.main(args + ["--iters", "6", "--time-budget-s", "0.001", "--resume"])
    assert torch.load(out / "last.pt")["step"] == 6
    assert json.loads((out / "config.json").read_text())["iters"] == 6


def test_training_rejects_a_bad_ca_share():
    with pytest.raises(ValueError, match="ca_share"):
        train.TrainConfig(ca_share=1.5)
