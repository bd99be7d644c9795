"""Bundle export: the manifest contract and official checkpoints."""
import json
from pathlib import Path

import jsonschema
import pytest
import torch

from models.adpc import checkpoint, export
from models.adpc.network import build_model


def official_checkpoint(path, arch="tiny"):
    net = build_model(arch)
    state = {"model." + k: v for k, v in net.state_dict().items()}
    state["loss.criterion.weight"] = torch.ones(19)
    torch.save(state, path)
    return net


def test_official_checkpoint_exports_a_bundle(tmp_path):
    official_checkpoint(tmp_path / "official.pth")
    out = tmp_path / "bundle"
    export.main(["--official", str(tmp_path / "official.pth"), "--arch", "tiny", "--height", "64",
                 "--width", "96", "--out", str(out)])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "adpc-bundle" and manifest["version"] == 2
    assert manifest["input"]["height"] == 64 and manifest["output"] == {"height": 16, "width": 24, "stride": 4}
    assert manifest["threshold"] == 0.998
    assert [s["index"] for s in manifest["stages"]] == [1, 2, 3, 4]
    assert manifest["stages"][1]["inputs"][-1] == {"name": "threshold", "dtype": "float32", "shape": [1]}
    assert [o["name"] for o in manifest["stages"][3]["outputs"]] == ["logits", "labels", "confidence", "computed"]
    for stage in manifest["stages"]:
        assert (out / stage["file"]).is_file()
        assert sum(stage["gflops_by_resolution"].values()) == pytest.approx(stage["dense_gflops"], abs=1e-5)
    assert len(manifest["classes"]) == 19 and manifest["classes"][10]["name"] == "sky"
    assert (out / "dense.onnx").is_file() and (out / "reference" / "index.json").is_file()


def test_official_checkpoint_must_match_strictly(tmp_path):
    official_checkpoint(tmp_path / "tiny.pth", "tiny")
    with pytest.raises(SystemExit):  # a tiny checkpoint is not a w18s1 one
        export.main(["--official", str(tmp_path / "tiny.pth"), "--arch", "w18s1", "--height", "64",
                     "--width", "64", "--out", str(tmp_path / "x")])
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "plain.pth")
    with pytest.raises(ValueError, match="model."):
        checkpoint.load_official(str(tmp_path / "plain.pth"), "tiny")
    state = torch.load(tmp_path / "tiny.pth")
    state["optimizer.state"] = torch.zeros(1)
    torch.save(state, tmp_path / "extra.pth")
    with pytest.raises(ValueError, match="unexpected keys"):
        checkpoint.load_official(str(tmp_path / "extra.pth"), "tiny")

def test_export_warns_when_the_reference_never_skips(tmp_path, capsys):
    official_checkpoint(tmp_path / "official.pth")
    export.main(["--official", str(tmp_path / "official.pth"), "--arch", "tiny", "--height", "64",
                 "--width", "96", "--threshold", "1.0", "--out", str(tmp_path / "bundle")])
    err = capsys.readouterr().err
    assert "stage 2 computes 384 of 384 positions" in err and "--sample" in err


SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "bundle.schema.json"


def validate_manifest(manifest):
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator(schema).validate(manifest)


def test_exported_manifests_follow_the_engine_schema(tmp_path):
    official_checkpoint(tmp_path / "official.pth")
    out = tmp_path / "bundle"
    export.main(["--official", str(tmp_path / "official.pth"), "--arch", "tiny", "--height", "64",
                 "--width", "96", "--out", str(out)])
    validate_manifest(json.loads((out / "manifest.json").read_text()))
    validate_manifest(json.loads((SCHEMA.parents[1] / "models" / "default" / "manifest.json").read_text()))
    broken = json.loads((out / "manifest.json").read_text())
    broken["stages"][0]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        validate_manifest(broken)
