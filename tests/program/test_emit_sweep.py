"""`emit --train` across the shipped specs and the data sources: each script runs to its end
with plain `python` (graphspec unimportable) and prints what `graphspec run` printed for the
same spec, line for line: losses, validation, "Finished Training", the evaluation.

Every run is cut short with `--set` (a couple of steps or two tiny epochs) on data the test
makes (or ships: digits from scikit-learn, the .npy/.csv/.txt files under specs/data). The
shipped specs `emit --train` refuses, or cannot run offline, are listed with the reason, and the
refusal is checked too. The whole sweep is a soak (`-m soak`, about three minutes on two busy
cores); a representative few run by default.
"""

from __future__ import annotations

import contextlib
import glob
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.runhelp import SPECS, python_child, run_cli
from PIL import Image

from graphspec.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

RUN_ONLY = ("model: ", "data: ", "data path: ", "batches: ", "train: ", "wrote: ")
"""Lines only the run prints (what it read and wrote); the script prints every other one."""
NO_GRAPHSPEC = (
    "import runpy, sys; sys.modules['graphspec'] = None; "
    "runpy.run_path(sys.argv[1], run_name='__main__')"
)
SHORT = ["--set", "train.steps=2", "--set", "train.log_every=1"]

NOT_EMITTED = {
    "bert_attention": "emit --train needs a spec with data:",
    "zoo/convnext_tiny": "emit --train needs a spec with data:",
    "zoo/deeplabv3_resnet50": "emit --train needs a spec with data:",
    "zoo/densenet121": "emit --train needs a spec with data:",
    "zoo/efficientnet_b0": "emit --train needs a spec with data:",
    "zoo/gpt": "emit --train needs a spec with data:",
    "zoo/gpt2": "emit --train needs a spec with data:",
    "zoo/gpt2_hf": "emit --train needs a spec with data:",
    "zoo/mobilenet_v2": "emit --train needs a spec with data:",
    "zoo/resnet18": "emit --train needs a spec with data:",
    "zoo/unet": "emit --train needs a spec with data:",
    "zoo/vgg11": "emit --train needs a spec with data:",
    "zoo/vit_b_16": "emit --train needs a spec with data:",
}
"""Model-only specs: no data, so nothing to train; `emit --train` says so (E-DATA)."""
NOT_OFFLINE = {
    "cifar": "CIFAR-10 is downloaded on demand (170 MB, checked by its MD5 sums): no network here",
}
"""Specs whose script `emit --train` writes but whose data a network-free test cannot have.
(The CIFAR10 code path is the tutorial's; the MNIST family runs below on files in its format.)"""


def _shipped() -> list[str]:
    names = [
        str(Path(p).relative_to(SPECS).with_suffix(""))
        for p in glob.glob(str(SPECS / "**" / "*.yaml"), recursive=True)
    ]
    return sorted(names)


def _emit(spec: Path, out: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["emit", str(spec), "--train", "-o", str(out)])
    return code, err.getvalue()


def run_and_script_agree(spec: Path, tmp_path: Path, *sets: str) -> list[str]:
    """Run `spec`, emit the run's spec.yaml (data paths made absolute) as a script, run that
    with plain python in `tmp_path`, and compare; returns the lines both printed."""
    run = run_cli(spec, "--no-plots", *sets, runs=tmp_path / "runs")
    assert run.code == 0, run.err[-3000:]
    script = tmp_path / "train_script.py"
    code, err = _emit(run.run_dir / "spec.yaml", script)
    assert code == 0, err
    proc = python_child("-c", NO_GRAPHSPEC, str(script), cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]  # ran to its end
    expected = [line for line in run.out.splitlines()[:-1] if not line.startswith(RUN_ONLY)]
    assert proc.stdout.splitlines() == expected
    assert any("loss" in line for line in expected)
    assert list(tmp_path.glob("*_net.pth"))  # the script saved its weights (then reloaded them)
    return expected


# -- the shipped specs ---------------------------------------------------------------------------


def test_every_shipped_spec_is_swept_or_says_why():
    listed = set(NOT_EMITTED) | set(NOT_OFFLINE) | set(SHIPPED_FEW) | set(SHIPPED_REST)
    assert listed == set(_shipped())


@pytest.mark.parametrize("name", sorted(NOT_EMITTED))
def test_model_only_specs_are_refused_with_the_reason(tmp_path, name):
    code, err = _emit(SPECS / f"{name}.yaml", tmp_path / "train.py")
    assert code == 2 and NOT_EMITTED[name] in err
    assert not (tmp_path / "train.py").exists()


def test_the_cifar_script_is_written(tmp_path):
    code, err = _emit(SPECS / "cifar.yaml", tmp_path / "train.py")
    assert code == 0, err
    assert "torchvision.datasets.CIFAR10(" in (tmp_path / "train.py").read_text()


SHIPPED_FEW = {"wine": SHORT}  # regression, lenet, digits: tests/program/test_emit_train.py
SHIPPED_REST = {
    "autoencoder": SHORT,
    "char_gpt": SHORT,
    "digits": SHORT,
    "fit_sin": SHORT,
    "lenet": SHORT,
    "regression": SHORT,
    "resnet18_fake": SHORT,
    "seq_cnn": SHORT,
    "seq_lstm": SHORT,
    "zoo/autoencoder": SHORT,
    "zoo/seq_cnn": SHORT,
}


@pytest.mark.parametrize("name", sorted(SHIPPED_FEW))
def test_shipped_script_prints_the_run(tmp_path, monkeypatch, name):
    monkeypatch.chdir(SPECS.parent)  # seq_cnn's paths are from the repo root
    run_and_script_agree(SPECS / f"{name}.yaml", tmp_path, *SHIPPED_FEW[name])


@pytest.mark.soak
@pytest.mark.parametrize("name", sorted(SHIPPED_REST))
def test_every_shipped_script_prints_the_run(tmp_path, monkeypatch, name):
    monkeypatch.chdir(SPECS.parent)
    spec = SPECS / f"{name}.yaml"
    if name == "seq_cnn":  # its data paths are from the repo root, where the script runs too
        text = spec.read_text().replace("specs/data/", str(SPECS / "data") + "/")
        spec = tmp_path / "seq_cnn.yaml"
        spec.write_text(text)
    run_and_script_agree(spec, tmp_path, *SHIPPED_REST[name])


# -- a spec per data source, with validation (and augmentation where a source takes it) ---------

HEAD = """
name: {name}
model:
  class: Net
  inputs: {{x: {shape}}}
  layers:
{layers}
data: {data}
loss: {loss}
optimizer: {{op: SGD, lr: 0.05}}
train: {{epochs: 2, log_every: 2, validation: {{split: 0.25}}}}
seed: 3
"""
FLAT = "    flat: {op: Flatten}\n    out: {op: Linear, out_features: %d}"
AUGMENT = (
    "[{RandomResizedCrop: {size: 8, scale: [0.6, 1.0]}}, RandomHorizontalFlip, "
    "{RandomRotation: {degrees: 10}}, {ColorJitter: {brightness: 0.2}}, ToTensor, "
    "{RandomErasing: {p: 0.5}}]"
)


def _files(kind: str, folder: Path) -> None:
    """The data file(s) a source reads, made here: small, seeded."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    if kind == "npy":
        np.save(folder / "x.npy", x)
        np.save(folder / "y.npy", y)
    elif kind == "arrays":
        np.savez(folder / "d.npz", x=x, y=y)
    elif kind == "tensors":
        torch.save({"x": torch.from_numpy(x), "y": torch.from_numpy(y)}, folder / "d.pt")
    elif kind == "table":
        rows = ["a,b,c,d,label"]
        rows += [",".join(f"{v:.4f}" for v in r) + f",{c}" for r, c in zip(x, y, strict=True)]
        (folder / "t.csv").write_text("\n".join(rows) + "\n")
    elif kind == "text":
        (folder / "t.txt").write_text("the cat sat on the mat. " * 12)
    elif kind == "ImageFolder":
        for label in ("cat", "dog"):
            (folder / "images" / label).mkdir(parents=True)
            for i in range(10):
                pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / "images" / label / f"{i}.png")
    elif kind == "MNIST":
        _mnist_files(folder / "mnist" / "MNIST" / "raw", rng)


def _mnist_files(raw: Path, rng: np.random.Generator) -> None:
    """MNIST's four idx files, as torchvision reads them (it checks only that they exist)."""
    raw.mkdir(parents=True)
    for split, n in (("train", 24), ("t10k", 8)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        head = np.array([0x803, n, 28, 28], dtype=">i4").tobytes()
        (raw / f"{split}-images-idx3-ubyte").write_bytes(head + images.tobytes())
        head = np.array([0x801, n], dtype=">i4").tobytes()
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(head + labels.tobytes())


SOURCES = {
    "random": ("[N, 4]", FLAT % 3, "{source: random, inputs: {x: [32, 4]}, num_classes: 3, "
               "batch_size: 8}", "CrossEntropyLoss"),
    "linspace": ("[N, 1]", "    out: {op: Linear, out_features: 1}",
                 "{source: linspace, start: -1, end: 1, steps: 32, target: 'x**2', "
                 "batch_size: 8, shuffle: true}", "MSELoss"),
    "npy": ("[N, 4]", FLAT % 2, "{source: npy, inputs: [x.npy], target: y.npy, "
            "test_fraction: 0.25, batch_size: 8, shuffle: true}", "CrossEntropyLoss"),
    "arrays": ("[N, 4]", FLAT % 2, "{source: arrays, path: d.npz, inputs: [x], target: y, "
               "standardize: true, test_fraction: 0.25, batch_size: 8}", "CrossEntropyLoss"),
    "tensors": ("[N, 4]", FLAT % 2, "{source: tensors, path: d.pt, inputs: [x], target: y, "
                "test_fraction: 0.25, batch_size: 8}", "CrossEntropyLoss"),
    "table": ("[N, 4]", FLAT % 2, "{source: table, path: t.csv, target: label, num_classes: 2, "
              "test_fraction: 0.25, batch_size: 8, shuffle: true}", "CrossEntropyLoss"),
    "text": ("{shape: [N, 8], dtype: int64}",
             "    emb: {op: Embedding, num_embeddings: 11, embedding_dim: 4}\n"
             "    rnn: {op: GRU, hidden_size: 6}\n"
             "    logits: {op: Linear, out_features: 11}\n"
             "    out: {op: transpose, dim0: 1, dim1: 2}", "{source: text, path: t.txt, "
             "block_size: 8, stride: 8, test_fraction: 0.2, batch_size: 4}", "CrossEntropyLoss"),
    "digits": ("[N, 1, 8, 8]", FLAT % 10, "{source: digits, test_fraction: 0.9, batch_size: 32}",
               "CrossEntropyLoss"),
    "FakeData": ("[N, 3, 8, 8]", FLAT % 4, "{source: FakeData, size: 24, test_size: 8, "
                 f"image_size: [3, 8, 8], num_classes: 4, batch_size: 4, transforms: {AUGMENT}}}",
                 "CrossEntropyLoss"),
    "ImageFolder": ("[N, 3, 8, 8]", FLAT % 2, "{source: ImageFolder, root: images, "
                    f"test_fraction: 0.25, batch_size: 4, shuffle: true, transforms: {AUGMENT}}}",
                    "CrossEntropyLoss"),
    "MNIST": ("[N, 1, 28, 28]", FLAT % 10, "{source: MNIST, root: mnist, batch_size: 4, "
              "transforms: [{RandomRotation: {degrees: 10}}, ToTensor]}", "CrossEntropyLoss"),
}  # fmt: skip
"""Per source: input shape, layers, data, loss. (CIFAR10 and FashionMNIST share MNIST's and
the tutorial's code path; CIFAR10's files are checked by MD5 and cannot be made here.)"""
SOURCES_FEW = ("FakeData", "text")


def _source_spec(kind: str, folder: Path) -> Path:
    shape, layers, data, loss = SOURCES[kind]
    _files(kind, folder)
    spec = folder / f"{kind.lower()}.yaml"
    spec.write_text(HEAD.format(name=kind.lower(), shape=shape, layers=layers, data=data,
                                loss=loss))  # fmt: skip
    return spec


def test_every_data_source_has_a_spec():
    from graphspec.data import SOURCE_MODULES as REGISTERED

    assert set(SOURCES) | {"CIFAR10", "FashionMNIST"} == set(REGISTERED)


@pytest.mark.parametrize("kind", SOURCES_FEW)
def test_source_script_prints_the_run(tmp_path, monkeypatch, kind):
    monkeypatch.chdir(tmp_path)  # where the script runs too (MNIST's root is the working folder's)
    lines = run_and_script_agree(_source_spec(kind, tmp_path), tmp_path)
    assert sum(line.startswith("validation") for line in lines) == 2  # once an epoch


@pytest.mark.soak
@pytest.mark.parametrize("kind", sorted(set(SOURCES) - set(SOURCES_FEW)))
def test_every_source_script_prints_the_run(tmp_path, monkeypatch, kind):
    monkeypatch.chdir(tmp_path)
    lines = run_and_script_agree(_source_spec(kind, tmp_path), tmp_path)
    assert sum(line.startswith("validation") for line in lines) == 2
