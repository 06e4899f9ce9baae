"""The zoo ships inside the package: `graphspec zoo` lists every model of graphspec/zoo with
its parameter count and the torchvision weights whose state_dict is the model's key for key
(checked here against torchvision's own model, built on the meta device). specs/zoo is a link
to the same files, not a copy."""

from __future__ import annotations

import contextlib
import io
import json

import torch
import torchvision
from helpers.runhelp import ROOT

from graphspec.cli import main
from graphspec.cli.zoo_cmd import FITTING_WEIGHTS
from graphspec.compiler.pipeline import compile_file
from graphspec.compiler.state import state_table
from graphspec.language.includes import zoo_folder

ZOO = ROOT / "graphspec" / "zoo"


def _listed() -> list[dict]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["zoo", "--json"]) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_zoo_lists_every_model_with_its_parameter_count():
    rows = _listed()
    files = sorted(p.name for p in ZOO.glob("*.yaml"))
    assert [r["from"] for r in rows] == [f"graphspec:zoo/{f}" for f in files]
    assert len(files) >= 7
    for row, file in zip(rows, files, strict=True):
        assert row["params"] == compile_file(ZOO / file).graph.total_params
    by_name = {r["from"]: r["weights"] for r in rows}
    assert by_name["graphspec:zoo/resnet18.yaml"] == ["torchvision:ResNet18_Weights.IMAGENET1K_V1"]


def _builder(enum_name: str):
    for model in torchvision.models.list_models(module=torchvision.models):
        if torchvision.models.get_model_weights(model).__name__ == enum_name:
            return torchvision.models.get_model_builder(model)
    raise AssertionError(f"no torchvision model has {enum_name}")


def test_the_fitting_weights_have_the_models_keys_and_shapes():
    for name, weights in FITTING_WEIGHTS.items():
        table = state_table(compile_file(ZOO / f"{name}.yaml").graph)
        want = {k: (e.shape, e.dtype) for k, e in table.items()}
        for weight in weights:
            enum, member = weight.removeprefix("torchvision:").split(".")
            assert member in torchvision.models.get_weight(f"{enum}.{member}").__class__.__members__
            with torch.device("meta"):
                model = _builder(enum)()
            got = {k: (tuple(t.shape), str(t.dtype)[6:]) for k, t in model.state_dict().items()}
            assert got == want, name


def test_the_zoo_is_one_copy_shipped_as_package_data():
    assert (ROOT / "specs" / "zoo").resolve() == ZOO.resolve()
    assert zoo_folder() == str(ZOO.resolve())
    config = (ROOT / "pyproject.toml").read_text()
    assert "[tool.setuptools.package-data]\n" in config and 'graphspec = ["zoo/*.yaml"]' in config
