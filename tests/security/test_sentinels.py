"""Sentinels: a file that a successful injection would create, for every channel
outside text reaches graphspec through: file paths, names, strings, expressions, --set overrides
and checkpoints. Each payload goes through validate, summary, emit (model and --train, and the
emitted script is run with plain python), render and run; the sentinel must never appear.

The negative controls show each payload is real: run as Python (or unpickled), it does create
the sentinel.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from helpers.runhelp import SPECS, child_env

from graphspec.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def payload(sentinel: Path) -> str:
    return f"__import__('os').system('touch {sentinel}')"


def spec_with(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load((SPECS / "regression.yaml").read_text())
    data["train"] = {"steps": 2}
    edit(data)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def every_command(spec: Path, tmp_path: Path, *extra: str) -> list[int]:
    """validate, summary, emit, emit --train (and run that script), render, run: exit codes."""
    codes = []
    for argv in (
        ["validate", spec],
        ["summary", spec],
        ["emit", spec, "-o", tmp_path / "model.py"],
        ["emit", spec, "--train", "-o", tmp_path / "train.py"],
        ["render", spec, "-o", tmp_path / "g.dot"],
        ["run", spec, "-q", "--runs-dir", tmp_path / "runs", *extra],
    ):
        codes.append(main([str(a) for a in argv]))
    for script in (tmp_path / "model.py", tmp_path / "train.py"):
        if script.exists():  # the emitted program itself, run as a user would
            subprocess.run(
                [sys.executable, script], cwd=tmp_path, env=child_env(), capture_output=True,
                timeout=300,
            )  # fmt: skip
    return codes


def check_channel(tmp_path: Path, edit, *extra: str) -> None:
    sentinel = tmp_path / "PWNED"
    spec = spec_with(tmp_path, lambda d: edit(d, payload(sentinel)))
    every_command(spec, tmp_path, *extra)
    assert not sentinel.exists(), "the injected code ran"


def test_the_payload_is_real(tmp_path):
    """Negative control for every channel: evaluated as Python, the payload makes the file."""
    sentinel = tmp_path / "PWNED"
    exec(payload(sentinel))  # noqa: S102 - the point of the control
    assert sentinel.exists()


CHANNELS = {
    # names: node, class, block and input names
    "node-name": lambda d, p: d["model"]["layers"].update({p: "relu"}),
    "class-name": lambda d, p: d["model"].update({"class": p}),
    "input-name": lambda d, p: d["model"].update({"inputs": {p: [None, 1]}}),
    "block-name": lambda d, p: d.update({"blocks": {p: {"inputs": {"y": ["N", 1]},
                                                        "layers": {"z": "relu"}}}}),
    "constant-name": lambda d, p: d.update({"constants": {p: 1}}),
    # strings: the run name, the loss, the device, the optimizer, an op, a dataset root
    "run-name": lambda d, p: d.update({"name": p}),
    "loss": lambda d, p: d.update({"loss": p}),
    "device": lambda d, p: d.update({"device": p}),
    "optimizer": lambda d, p: d.update({"optimizer": {"op": p}}),
    "op": lambda d, p: d["model"]["layers"].update({"act": {"op": p}}),
    "string-newline": lambda d, p: d.update({"name": f"r\n{p}\n#"}),
    "class-label": lambda d, p: d.update({"data": {"source": "FakeData", "size": 8,
                                                   "test_size": 4, "image_size": [1, 1, 1],
                                                   "num_classes": 2, "classes": [p, "b')#"]}}),
    # expressions: an expr node, a field, a constant, the data's target
    "expr-node": lambda d, p: d["model"]["layers"].update({"e": {"op": "expr", "expr": p}}),
    "expr-field": lambda d, p: d["model"]["layers"]["hidden"].update({"out_features": p}),
    "expr-constant": lambda d, p: d["constants"].update({"n_hidden": p}),
    "data-target": lambda d, p: d["data"].update({"target": p}),
    "expr-dunder": lambda d, p: d["data"].update({"target": "x.__class__.__mro__"}),
    # YAML itself
    "shape-symbol": lambda d, p: d["model"]["inputs"].update({"x": [p, 1]}),
}  # fmt: skip


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_no_channel_runs_code(channel, tmp_path, capsys):
    check_channel(tmp_path, CHANNELS[channel])
    capsys.readouterr()


def test_a_python_tag_in_the_file(tmp_path):
    sentinel = tmp_path / "PWNED"
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        (SPECS / "regression.yaml").read_text()
        + f'extra: !!python/object/apply:os.system ["touch {sentinel}"]\n'
    )
    every_command(spec, tmp_path)
    assert not sentinel.exists()


@pytest.mark.parametrize(
    "override",
    [
        "loss={p}",
        "model.class={p}",
        "name={p}",
        "data.target={p}",
        "model.layers.hidden.out_features={p}",
        'model.layers.act={{op: expr, expr: "{p}"}}',
    ],
)
def test_overrides_run_no_code(override, tmp_path, capsys):
    sentinel = tmp_path / "PWNED"
    spec = spec_with(tmp_path, lambda d: None)
    item = override.format(p=payload(sentinel))
    main(["run", str(spec), "-q", "--runs-dir", str(tmp_path / "runs"), "--set", item])
    capsys.readouterr()
    assert not sentinel.exists()


class _Payload:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.path}",))


def test_a_pickle_in_a_checkpoint_never_runs(tmp_path, capsys):
    sentinel = tmp_path / "PWNED"
    spec = spec_with(tmp_path, lambda d: d.update({"train": {"steps": 2, "checkpoint_every": 1}}))
    assert main(["run", str(spec), "-q", "--runs-dir", str(tmp_path / "runs")]) == 0
    [run] = (tmp_path / "runs").glob("regression/*")
    from graphspec.training import checkpoint

    newest = checkpoint.listing(run)[0]
    ckpt = torch.load(newest, weights_only=True)
    ckpt["model"] = _Payload(sentinel)  # planted where the weights were
    torch.save(ckpt, newest)
    capsys.readouterr()
    code = main(["run", "--resume", str(run), "--set", "train.steps=3"])
    err = capsys.readouterr().err
    assert code == 2 and "E-CKPT" in err and "never unpickled" in err
    assert not sentinel.exists()
    # control: the planted file is a real payload, for a loader that unpickles
    torch.load(newest, weights_only=False)
    assert sentinel.exists()
