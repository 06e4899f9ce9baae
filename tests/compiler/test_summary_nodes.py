"""`summary --json` and `TypedGraph.walk()` list every node: the insides of block calls, in
groups too, and every copy of a `repeat:`, by the path state_dict gives it. Held to the built
module: each of its leaf modules is a listed node."""

from __future__ import annotations

import pytest
from helpers.runhelp import SPECS

from graphspec.compiler import summary
from graphspec.compiler.pipeline import compile_file


@pytest.mark.parametrize("name", ["mobilenet_v2", "resnet18"])
def test_every_leaf_module_is_a_listed_node(name):
    compiled = compile_file(SPECS / "zoo" / f"{name}.yaml")
    leaves = {
        path for path, m in compiled.build().named_modules() if path and not list(m.children())
    }
    listed = [n["name"] for n in summary.as_dict(compiled.graph, name)["nodes"]]
    walked = [path for path, _, _ in compiled.graph.walk()]
    assert leaves - set(listed) == set() and leaves - set(walked) == set()
    assert len(listed) == len(set(listed))  # each once
