"""Hydra/LightningCLI habits: bare `key=value` overrides beside `--set`, and `--print-config`."""

from __future__ import annotations

import pytest
import yaml
from helpers.runhelp import SPECS, meta, run_cli

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

SPEC = SPECS / "regression.yaml"


def test_bare_overrides_act_like_set(tmp_path):
    bare = run_cli(SPEC, "optimizer.lr=0.05", "train.steps=3", "seed=4", runs=tmp_path / "a")
    flag = run_cli(
        SPEC,
        "--set",
        "optimizer.lr=0.05",
        "--set",
        "train.steps=3",
        "--set",
        "seed=4",
        runs=tmp_path / "b",
    )
    assert bare.code == 0 and flag.code == 0, bare.err + flag.err
    assert meta(bare.run_dir)["steps"] == 3 and meta(bare.run_dir)["overrides"] == [
        "optimizer.lr=0.05",
        "train.steps=3",
        "seed=4",
    ]
    ran = yaml.safe_load((bare.run_dir / "spec.yaml").read_text())
    assert ran == yaml.safe_load((flag.run_dir / "spec.yaml").read_text())
    assert ran["optimizer"]["lr"] == 0.05 and ran["train"]["steps"] == 3


def test_print_config_prints_the_resolved_spec_and_writes_nothing(tmp_path):
    runs = tmp_path / "runs"
    res = run_cli(SPEC, "optimizer.lr=0.01", "--set", "train.steps=7", "--print-config", runs=runs)
    assert res.code == 0, res.err
    printed = yaml.safe_load(res.out)
    original = yaml.safe_load(SPEC.read_text())
    assert printed["optimizer"]["lr"] == 0.01 and printed["train"]["steps"] == 7
    assert printed["model"] == original["model"] and printed["data"] == original["data"]
    assert "#   --set optimizer.lr=0.01" in res.out
    assert not runs.exists()  # nothing written, no run folder


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("optimizer.lr=-1", "--print-config"), "E-RANGE"),  # checked like a run
        (("train.steps=3", "stray"), "'stray' is not key=value"),  # a second SPEC
        (("train.stepz=3", "--print-config"), "stepz"),
    ],
)
def test_bad_bare_overrides_are_input_errors(tmp_path, args, says):
    runs = tmp_path / "runs"
    res = run_cli(SPEC, *args, runs=runs)
    assert res.code == 2 and says in res.err and res.out == ""
    assert not runs.exists()
