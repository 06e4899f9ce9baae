"""The generated code's Python names for a body's nodes, kept apart from its own names.

A node's name is the user's and becomes a `state_dict` key part, so it may be any name PyTorch
takes there: `block1-0`, `0`, `self`, `layer`, `input`, `class` (Hugging Face's BERT keys are
`encoder.layer.0.attention.self.query.weight`). In the generated module each node needs

- a local variable in `forward`: its own name where Python can hold it and the code does not
  use that name itself; otherwise the name made an identifier (`block1_0`, `_0`, `self_`),
  unique in the body;
- an attribute: `self.conv1`, or for a name that is no identifier (`block1-0`, `0`, `class`)
  the module registered under the user's name (`self.add_module('block1-0', ...)`) and read
  back by it (`self.get_submodule('block1-0')`). The name reaches the source only as a
  literal (core/codetext.py).
"""

from __future__ import annotations

import keyword
import re
from typing import TYPE_CHECKING

from graphspec.core.codetext import literal
from graphspec.core.names import reserved_in_forward

if TYPE_CHECKING:
    from graphspec.compiler.infer import TypedGraph


class PyNames:
    """Local variable names of one body's values, by (node, port)."""

    def __init__(self, graph: TypedGraph) -> None:
        wanted: list[tuple[tuple[str, str], str]] = []
        for t in graph.nodes.values():
            first = next(iter(t.outs))
            for port in t.outs:
                wanted.append(((t.name, port), t.name if port == first else f"{t.name}_{port}"))
        taken = {w for _, w in wanted if not reserved_in_forward(w)}
        self._locals: dict[tuple[str, str], str] = {}
        for key, want in wanted:
            if not reserved_in_forward(want):
                self._locals[key] = want
                continue
            name = re.sub(r"\W", "_", want)
            name = name if name[0].isalpha() else f"_{name}"
            while reserved_in_forward(name) or name in taken:
                name += "_"
            taken.add(name)
            self._locals[key] = name

    def local(self, name: str, port: str) -> str:
        return self._locals[(name, port)]


def plain(name: str) -> bool:
    """Whether `self.<name>` is Python for this attribute."""
    return name.isidentifier() and not keyword.iskeyword(name)


def module_attr(name: str) -> str:
    """The text after `self.` that reads the submodule registered as `name`."""
    return name if plain(name) else f"get_submodule({literal(name)})"


def param_attr(name: str) -> str:
    """The text after `self.` that reads the parameter registered as `name`."""
    return name if plain(name) else f"get_parameter({literal(name)})"


def assign(name: str, built: str, param: bool = False) -> str:
    """The `__init__` statement registering `built` under the user's `name`."""
    if plain(name):
        return f"self.{name} = {built}"
    method = "register_parameter" if param else "add_module"
    return f"self.{method}({literal(name)}, {built})"
