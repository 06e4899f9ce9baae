"""Fine-tuning graphspec:zoo/resnet18.yaml from a project outside the repository: weights from
a safetensors file saved from torchvision's resnet18 (seeded random weights), a new 10-class head
(`ignore: ["fc.*"]`), the stem and layer1-3 frozen, the head in its own parameter group.

Before the first step the model without its head computes what torchvision's does with the same
weights; after training every frozen parameter and buffer is the file's, bit for bit, and the
trainable ones moved. `emit --train` of the run's spec prints the same losses, and a resumed run
never reads the initial weights again."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import torch
from helpers.finetune import FROZEN, make_project, resnet18_state
from helpers.runhelp import python_child, run_cli

from graphspec.cli import main
from graphspec.compiler.pipeline import compile_file
from graphspec.language.weights import matches
from graphspec.training import program as programs
from graphspec.training import weights as start_weights

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The project folder, its spec, and one finished run of it (made in that folder: paths
    in a spec are relative to the working folder)."""
    folder = tmp_path_factory.mktemp("finetune")
    spec = make_project(folder)
    before = os.getcwd()
    os.chdir(folder)
    try:
        run = run_cli(spec, "--no-plots", runs=folder / "runs")
        yield folder, spec, run
    finally:
        os.chdir(before)


@pytest.fixture
def inside(project, monkeypatch):
    monkeypatch.chdir(project[0])
    return project


def test_the_model_without_its_head_computes_torchvisions(inside):
    import torchvision
    from safetensors.torch import load_file

    folder, spec, _ = inside
    compiled = compile_file(spec)
    model = compiled.build()
    start_weights.load(model, start_weights.read(compiled))  # what `run` does before step 1
    reference = torchvision.models.resnet18()
    reference.load_state_dict(load_file(folder / "resnet18.safetensors"))
    model.fc = reference.fc = torch.nn.Identity()
    model.eval(), reference.eval()
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        diff = (model(x) - reference(x)).abs().max().item()
    assert diff <= 1e-5
    assert model(x).shape == (4, 512)


def test_frozen_entries_stay_the_files_and_trainable_ones_move(inside):
    from safetensors.torch import load_file

    folder, _, run = inside
    assert run.code == 0, run.err
    import torchvision

    params = torchvision.models.resnet18().named_parameters()
    frozen_count = sum(p.numel() for name, p in params if matches(name, FROZEN))
    assert f"({frozen_count:,} frozen)" in run.out  # conv1, bn1, layer1-3, counted by torch
    start = load_file(folder / "resnet18.safetensors")
    final = torch.load(run.run_dir / "weights.pt", weights_only=True)
    frozen = [k for k in start if matches(k, FROZEN)]
    assert len(frozen) == 90 and "layer3.1.bn2.running_var" in frozen  # buffers too
    for key in frozen:
        assert torch.equal(final[key], start[key]), key
    trainable = [k for k in start if k.startswith("layer4.") and "num_batches" not in k]
    assert trainable and all(not torch.equal(final[k], start[k]) for k in trainable)
    assert final["fc.weight"].shape == (10, 512)


def test_the_run_folder_records_the_weights(inside):
    folder, _, run = inside
    record = json.loads((run.run_dir / "weights.json").read_text())
    data = (folder / "resnet18.safetensors").read_bytes()
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    assert record["from"] == str(folder / "resnet18.safetensors")  # resolved beside the spec
    assert Path(record["path"]) == folder / "resnet18.safetensors"
    assert len(record["loaded"]) == 120 and "layer4.1.bn2.num_batches_tracked" in record["loaded"]
    assert sorted(record["ignored"]) == ["fc.bias", "fc.weight"]
    assert record["missing"] == record["unexpected"] == [] and record["renamed"] == {}


def test_freeze_and_groups_shape_the_optimizer(inside):
    _, spec, _ = inside
    compiled = compile_file(spec)
    program = programs.load(compiled.spec, str(spec))
    model = program.freeze(compiled.build())
    groups = program.parameters(model)
    named = {id(p): n for n, p in model.named_parameters()}
    assert sorted(named[id(p)] for p in groups[0]["params"]) == ["fc.bias", "fc.weight"]
    assert groups[0]["lr"] == 0.05 and "lr" not in groups[1]  # the rest: the optimizer's lr
    in_groups = {named[id(p)] for g in groups for p in g["params"]}
    assert in_groups == {n for n, p in model.named_parameters() if p.requires_grad}
    assert not any(matches(n, FROZEN) for n in in_groups)
    model.train()
    assert not model.layer1[0].bn1.training and model.layer4[0].bn1.training


def test_the_emitted_script_prints_the_same_losses(inside, tmp_path):
    folder, _, run = inside
    script = tmp_path / "train.py"
    assert main(["emit", str(run.run_dir / "spec.yaml"), "--train", "-o", str(script)]) == 0
    text = script.read_text()
    assert "load_weights(net)" in text and "parameters(net)" in text
    proc = python_child(script, cwd=folder, timeout=300)
    assert proc.returncode == 0, proc.stderr
    ran = [line for line in run.out.splitlines() if line.startswith("step ")]
    printed = [line for line in proc.stdout.splitlines() if line.startswith("step ")]
    assert len(ran) == 2 and printed == ran


def test_resume_never_reloads_the_initial_weights(inside, tmp_path, monkeypatch):
    import shutil

    folder, _, run = inside
    copy = tmp_path / "run"
    shutil.copytree(run.run_dir, copy)
    monkeypatch.chdir(tmp_path)
    weights = folder / "resnet18.safetensors"  # spec.yaml names it by its absolute path
    hidden = weights.with_suffix(".hidden")
    weights.rename(hidden)  # gone while resuming: a reload of the initial weights would fail
    try:
        resumed = run_cli("--resume", copy, "--set", "train.steps=3", "--no-plots")
        assert resumed.code == 0, resumed.err
        assert "step 3/3" in resumed.out
        fresh = run_cli(copy / "spec.yaml", runs=tmp_path / "runs")  # the control: a new run
        assert fresh.code == 2 and "E-WEIGHTS" in fresh.err and "does not exist" in fresh.err
    finally:
        hidden.rename(weights)


def test_summary_counts_trainable_and_frozen_parameters(inside, capsys):
    import torchvision

    _, spec, _ = inside
    assert main(["summary", "--json", str(spec)]) == 0
    shown = json.loads(capsys.readouterr().out)
    model = torchvision.models.resnet18(num_classes=10)
    frozen = sum(p.numel() for n, p in model.named_parameters() if matches(n, FROZEN))
    assert shown["frozen_params"] == frozen > 0
    assert shown["trainable_params"] == shown["total_params"] - frozen
    assert main(["summary", str(spec)]) == 0
    assert f"frozen (train.freeze): {frozen:,}" in capsys.readouterr().out


def test_transforms_may_be_a_torchvision_weights_preprocessing(inside, tmp_path):
    from PIL import Image
    from torchvision.models import ResNet18_Weights

    folder, spec, _ = inside
    preset = 'transforms: "torchvision:ResNet18_Weights.IMAGENET1K_V1"}'
    text = spec.read_text().replace("shuffle: true}", f"shuffle: true, {preset}")
    text = text.replace("[N, 3, 32, 32]", "[N, 3, 224, 224]")
    own = tmp_path / "preset.yaml"
    own.write_text(text)
    compiled = compile_file(own)
    trainset, _ = programs.load(compiled.spec, str(own)).make_data()
    image, label = trainset[0]
    path, _ = trainset.samples[0]
    want = ResNet18_Weights.IMAGENET1K_V1.transforms()(Image.open(path).convert("RGB"))
    assert image.shape == (3, 224, 224) and torch.equal(image, want)
    own.write_text(text.replace("IMAGENET1K_V1", "IMAGENET9K_V9"))
    run = run_cli(own, runs=tmp_path / "runs")
    assert run.code == 2 and "E-DATA" in run.err and "IMAGENET9K_V9" in run.err
    own.write_text(text.replace("torchvision:ResNet18_Weights", "torchvision:resnet18"))
    assert main(["validate", str(own)]) == 2  # not a weights name: refused by validate


def test_a_run_folder_and_a_torch_file_are_sources_too(inside, tmp_path):
    folder, spec, run = inside
    text = spec.read_text().replace("steps: 2", "steps: 1")
    own = tmp_path / "again.yaml"
    own.write_text(text.replace("from: resnet18.safetensors", f"from: {run.run_dir}"))
    again = run_cli(own, "--no-plots", runs=tmp_path / "runs")
    assert again.code == 0, again.err
    record = json.loads((again.run_dir / "weights.json").read_text())
    assert record["path"] == str(run.run_dir / "weights.pt")
    assert len(record["loaded"]) == 120 and "fc.weight" in record["ignored"]  # ignore: fc.*
    torch.save({"state": resnet18_state(), "note": "more than tensors"}, tmp_path / "nested.pt")
    own.write_text(text.replace("resnet18.safetensors", str(tmp_path / "nested.pt")))
    refused = run_cli(own, runs=tmp_path / "runs2")
    assert refused.code == 2 and "E-WEIGHTS" in refused.err and "not a state_dict" in refused.err
    assert not (tmp_path / "runs2").exists()
