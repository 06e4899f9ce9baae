"""The Python API: `graphspec.compile_file` and `graphspec.build_module`."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import graphspec
from graphspec.core.errors import SpecError

LENET = str(Path(__file__).resolve().parents[2] / "specs" / "lenet.yaml")


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


def test_to_networkx_is_the_typed_graph():
    import networkx as nx

    compiled = graphspec.compile_file(LENET)
    g = compiled.to_networkx()
    assert isinstance(g, nx.DiGraph) and g.graph["name"] == "Net"
    assert list(g.nodes) == list(compiled.graph.nodes)
    assert nx.is_directed_acyclic_graph(g)
    assert g.nodes["pool1"]["shape"] == ("N", "6", "14", "14")
    assert g.nodes["conv1"]["op"] == "Conv2d" and g.nodes["conv1"]["params"] == 156
    assert sum(params for _, params in g.nodes(data="params")) == 61_706
    assert list(g.predecessors("conv1")) == ["x"] and g.edges["x", "conv1"]["port"] is None
    # a networkx order of the graph is one the generated forward could run in
    order = list(nx.topological_sort(g))
    assert order.index("conv1") < order.index("pool1") < order.index("fc3")


def nx_sorted(g) -> list[str]:
    import networkx as nx

    return list(nx.topological_sort(g))


def test_to_networkx_nests_blocks():
    bert = str(Path(LENET).with_name("bert_attention.yaml"))
    g = graphspec.compile_file(bert).to_networkx()
    calls = {n: d["inner"] for n, d in g.nodes(data=True) if d["inner"] is not None}
    assert set(calls) == {"embed", "attention"}
    assert g.nodes["attention"]["op"] == "block MultiHeadAttention"
    assert g.graph["outputs"] == ["attention", "attention.attn"]  # the first port, and `attn`
    inner = calls["attention"]
    assert inner.nodes["scores"]["shape"] == ("N", "12", "L", "L")
    assert nx_sorted(inner).index("scores") > 0


def test_compile_text_needs_no_file_and_names_it_in_errors():
    text = Path(LENET).read_text()
    compiled = graphspec.compile_text(text)
    assert compiled.graph.total_params == 61_706
    assert type(graphspec.build_module(compiled)).__name__ == "Net"
    with pytest.raises(graphspec.SpecError) as info:
        graphspec.compile_text(text.replace("op: Conv2d", "op: Conv2dd", 1), "cell[3]")
    assert str(info.value.problems[0].pos).startswith("cell[3]:")


def test_the_api_is_discoverable():
    listed = dir(graphspec)
    for name in ("compile_file", "compile_text", "build_module", "Compiled", "SpecError"):
        assert name in listed and getattr(graphspec, name).__doc__
