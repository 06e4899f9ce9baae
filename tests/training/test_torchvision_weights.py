"""`weights: {from: torchvision:ResNet18_Weights.IMAGENET1K_V1}` resolved offline: the file
torchvision would have downloaded, in torch hub's cache under TORCH_HOME, whose name carries a
prefix of its sha256. Here the test makes that file (a seeded resnet18 state_dict) and points
the enum's URL at a name built from the file's own hash, since nothing downloads here."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from helpers.finetune import make_project, resnet18_state
from helpers.runhelp import run_cli

NAME = "torchvision:ResNet18_Weights.IMAGENET1K_V1"

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """TORCH_HOME in tmp_path, a saved state_dict and its sha256; `name(prefix)` points the
    enum's URL at resnet18-<prefix>.pth and returns the path torchvision would use."""
    from torchvision.models import ResNet18_Weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.chdir(tmp_path)
    saved = tmp_path / "saved.pth"
    torch.save(resnet18_state(), saved)
    digest = hashlib.sha256(saved.read_bytes()).hexdigest()
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)

    def name(prefix: str, put: bool = True):
        file = f"resnet18-{prefix}.pth"
        url = f"https://download.pytorch.org/models/{file}"
        monkeypatch.setattr(ResNet18_Weights.IMAGENET1K_V1.value, "url", url)
        if put:
            (folder / file).write_bytes(saved.read_bytes())
        return folder / file, url

    spec = make_project(tmp_path, steps=1, weights=NAME)
    return spec, digest, name


def test_a_file_whose_hash_fits_its_name_loads(hub, tmp_path):
    spec, digest, name = hub
    path, _ = name(digest[:8])
    run = run_cli(spec, "--no-plots", runs=tmp_path / "runs")
    assert run.code == 0, run.err
    record = json.loads((run.run_dir / "weights.json").read_text())
    assert record["from"] == NAME and record["path"] == str(path)
    assert record["sha256"] == digest and len(record["loaded"]) == 120
    final = torch.load(run.run_dir / "weights.pt", weights_only=True)
    assert torch.equal(final["layer1.0.conv1.weight"], resnet18_state()["layer1.0.conv1.weight"])


def test_a_file_whose_hash_differs_from_its_name_is_refused(hub, tmp_path):
    spec, digest, name = hub
    wrong = "0" * 8 if not digest.startswith("0" * 8) else "1" * 8
    path, url = name(wrong)
    run = run_cli(spec, runs=tmp_path / "runs")
    assert run.code == 2, run.err
    assert "E-WEIGHTS" in run.err and digest in run.err and wrong in run.err and url in run.err
    assert not (tmp_path / "runs").exists()  # refused before the run folder


def test_a_missing_file_names_its_path_and_url(hub, tmp_path):
    spec, digest, name = hub
    path, url = name(digest[:8], put=False)
    run = run_cli(spec, runs=tmp_path / "runs")
    assert run.code == 2, run.err
    assert "E-WEIGHTS" in run.err and str(path) in run.err and url in run.err
    assert "finetune.yaml:8:" in run.err  # at the spec's weights.from
