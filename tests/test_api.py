"""The Python API: `graphspec.compile_file` and `graphspec.build_module`."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import graphspec
from graphspec.errors import SpecError

LENET = str(Path(__file__).resolve().parents[1] / "specs" / "lenet.yaml")


def test_build_module_gives_the_emitted_model():
    model = graphspec.build_module(LENET)
    assert type(model).__name__ == "Net"
    assert sum(p.numel() for p in model.parameters()) == 61_706
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)


def test_compile_file_types_the_graph_and_keeps_the_source():
    compiled = graphspec.compile_file(LENET)
    assert compiled.graph.total_params == 61_706
    assert str(compiled.graph.outputs[0].out) == "(N, 10)"
    assert "class Net(nn.Module):" in compiled.source


def test_bad_spec_raises_spec_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: {inputs: {x: [N, 4]}, layers: {fc: {op: Lineer}}}\n")
    with pytest.raises(SpecError) as info:
        graphspec.compile_file(str(bad))
    assert [p.code for p in info.value.problems] == ["E-OP"]


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError):
        graphspec.no_such_thing  # noqa: B018
