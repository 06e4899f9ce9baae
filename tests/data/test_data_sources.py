"""Data sources are a family like ops/: one class per `source:`, one file each.

The `arrays` source (data/arrays.py) was added as one new file: these tests show it trains,
reaches `emit --train` unchanged, refuses bad files before training, and that no other module of
graphspec names any source.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from helpers.runhelp import ROOT, python_child, run_cli

from graphspec.cli import main
from graphspec.data import SOURCES

pytestmark = pytest.mark.usefixtures("one_thread")

SPEC = """\
name: blobs
model:
  inputs: {{x: [N, 2]}}
  layers:
    hidden: {{op: Linear, out_features: 16}}
    act: relu
    out: {{op: Linear, out_features: 3}}
data: {{source: arrays, path: {path}, inputs: [x], target: y, test_fraction: 0.25,
        batch_size: 16, shuffle: true}}
loss: CrossEntropyLoss
optimizer: {{op: Adam, lr: 0.05}}
train: {{epochs: 15, log_every: 9}}
evaluate: {{accuracy: true}}
seed: 5
device: cpu
"""


def _blobs(path: Path, n: int = 240) -> Path:
    """Three well-separated clusters in 2-D, float64 as numpy makes them."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    x = centres[y] + rng.normal(0, 0.6, (n, 2))
    np.savez(path, x=x, y=y)
    return path


def _spec(tmp_path: Path, data: Path, **extra: str) -> Path:
    text = SPEC.format(path=data)
    for key, value in extra.items():
        text = re.sub(rf"{key}: [^,}}]+", f"{key}: {value}", text, count=1)
    spec = tmp_path / "blobs.yaml"
    spec.write_text(text)
    return spec


def test_every_source_is_found_from_its_own_file():
    tags = {}
    for cls in SOURCES:
        for tag in cls.model_fields["source"].annotation.__args__:
            tags[tag] = cls.__module__
    assert {"random", "linspace", "digits", "CIFAR10", "FakeData", "arrays"} <= set(tags)
    assert tags["arrays"] == "graphspec.data.arrays"


def test_no_module_outside_its_own_names_a_source():
    """Adding a source is a one-file change: nothing branches on `source == "..."`."""
    package = ROOT / "graphspec"
    names = "random|linspace|digits|arrays|FakeData|ImageFolder|CIFAR10|MNIST"
    pattern = re.compile(rf"""\.source\s*(==|!=|in\b)|["']({names})["']""")
    offenders = []
    for path in package.rglob("*.py"):
        if path.parent.name == "data":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line) and not re.search("sampler|SAMPLERS", line):
                # sweep's "random" sampler is no data source
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_arrays_train_and_the_script_prints_the_same_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = _spec(tmp_path, _blobs(tmp_path / "blobs.npz"))
    run = run_cli(spec, runs=tmp_path / "runs")
    assert run.code == 0, run.err
    accuracy = int(
        re.search(r"on the (\d+) test (?:images|samples|positions): (\d+) %", run.out).group(2)
    )
    assert accuracy >= 90  # separable clusters: chance is 33 %
    script = tmp_path / "train.py"
    assert main(["emit", str(run.run_dir / "spec.yaml"), "--train", "-o", str(script)]) == 0
    proc = python_child(script, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    skip = ("model: ", "data: ", "data path: ", "batches: ", "train: ", "wrote: ")
    expected = [line for line in run.out.splitlines()[:-1] if not line.startswith(skip)]
    assert proc.stdout.splitlines() == expected  # shuffled, and still the same numbers


def _only_x(path: Path) -> Path:
    np.savez(path, x=np.zeros((4, 2)))
    return path


@pytest.mark.parametrize(
    ("make", "field", "message"),
    [
        (lambda d: d / "missing.npz", "path", "is not a file"),
        (lambda d: d, "path", "is not a file"),  # a folder
        (lambda d: (d / "t.npz").write_text("not a zip") and d / "t.npz", "path", "not a .npz"),
        (
            lambda d: np.savez(d / "k.npz", x=np.zeros((4, 2))) or d / "k.npz",
            "target",
            "no array 'y'",
        ),
    ],
)
def test_a_bad_file_is_refused_before_training_with_its_name(tmp_path, make, field, message):
    data = make(tmp_path)
    spec = _spec(tmp_path, data)
    run = run_cli(spec, runs=tmp_path / "runs")
    assert run.code == 2, run.err
    assert "error[E-DATA]" in run.err and message in run.err and str(data) in run.err
    line = (
        SPEC.format(path=data)
        .splitlines()
        .index(next(x for x in SPEC.format(path=data).splitlines() if "data:" in x))
    )
    assert f"{spec}:{line + 1}:" in run.err or f"{spec}:{line + 2}:" in run.err
    assert not (tmp_path / "runs").exists()  # nothing written


def test_an_object_array_is_refused_never_unpickled(tmp_path):
    sentinel = tmp_path / "sentinel"

    class Payload:
        def __reduce__(self):
            return (Path.write_text, (sentinel, "pwned"))

    x = np.empty(4, dtype=object)
    x[:] = [Payload()] * 4
    np.savez(tmp_path / "evil.npz", x=x, y=np.zeros(4, dtype=np.int64))
    pickle.loads(pickle.dumps(Payload()))  # the control: unpickling it runs the payload
    assert sentinel.exists()
    sentinel.unlink()
    run = run_cli(_spec(tmp_path, tmp_path / "evil.npz"), runs=tmp_path / "runs")
    assert run.code == 2, run.err
    assert "error[E-DATA]" in run.err and "allow_pickle" in run.err
    assert not sentinel.exists()


SOURCE_PROBE = r"""
import json, sys
from graphspec.cli import main
code = main(["validate", sys.argv[1]])
print(json.dumps({"code": code, "data": sorted(m.rsplit(".", 1)[1] for m in sys.modules
                                               if m.startswith("graphspec.data."))}))
"""


@pytest.mark.parametrize(
    ("spec", "modules"),
    [
        ("lenet", {"tensors"}),
        ("cifar", {"images", "tensors"}),  # images.py takes ShapeList from tensors.py
        ("wine", {"table"}),
    ],
)
def test_validating_a_spec_imports_only_its_own_source(spec, modules):
    """The `data:` union builds the one source a spec names (start-up); the rest stay unread."""
    import json
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", SOURCE_PROBE, f"specs/{spec}.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["code"] == 0, proc.stderr
    assert set(result["data"]) - {"base", "transforms"} == modules


def test_the_name_index_matches_the_classes():
    """Every source name read from the modules' text is the class that module defines."""
    from graphspec.data import SOURCE_MODULES, source_class

    for tag, module in SOURCE_MODULES.items():
        cls = source_class(tag)
        assert cls is not None and cls.__module__ == f"graphspec.data.{module}", tag
        assert tag in cls.model_fields["source"].annotation.__args__
    assert source_class("no_such_source") is None  # negative control
