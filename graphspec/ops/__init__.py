"""The closed registry of ops: a spec's `op:` name resolves here and nowhere else.

Adding an op: write its class (named as the op, with `op: Literal["name"]`) in the family module
it belongs to; the registry finds it there. A new family module is also a line in `FAMILIES`.

A family module is imported the first time one of its ops is looked up, so validating LeNet
never builds the pydantic models of the attention or arithmetic ops (about 0.05 s of start-up).
The modules of this package leave out `from __future__ import annotations`: pydantic evaluates a
string annotation again for every subclass that inherits it, and with ~120 op classes that was
about 40% of the CPU time of importing the families LeNet uses (bench/startup.py).
"""

import importlib
import re
from collections.abc import Iterator, MutableMapping
from pathlib import Path

from graphspec.ops.base import Op, ShapeError

FAMILIES = (
    "conv",
    "conv_transpose",
    "linear",
    "pooling",
    "avg_pooling",
    "adaptive_pooling",
    "norm",
    "activations",
    "relu_variants",
    "softmax",
    "resample",
    "reshape",
    "combine",
    "expr",
    "embedding",
    "attention",
    "recurrent",
    "transformer",
    "arith",
    "reduce",
    "tensor",
    "indexing",
    "shift",
    "vision",
)
"""The modules under graphspec/ops/ that define ops, in the order docs list them."""
_OP_LINE = re.compile(r'^    op: Literal\["(\w+)"\]', re.M)


def _index() -> dict[str, str]:
    """Op name -> its family module, read from the families' text without importing them: each
    op class states `op: Literal["name"]` (tests/ops/test_registry.py holds the index to the
    classes), so a new op is its class and nothing else."""
    here = Path(__file__).parent
    return {
        name: family
        for family in FAMILIES
        for name in _OP_LINE.findall((here / f"{family}.py").read_text(encoding="utf-8"))
    }


_FAMILY = _index()
"""Op name -> the module under graphspec/ops/ that defines it, in the order docs list them."""


class Registry(MutableMapping[str, type[Op]]):
    """`_FAMILY` as a mapping of op name to class, importing each family on first lookup.

    Iterating yields the names without importing anything; `items()` and `values()` import all.
    Writable so that tests can swap an op for a broken one (pytest's monkeypatch.setitem).
    """

    def __init__(self, family: dict[str, str]) -> None:
        self._family = dict(family)
        self._loaded: dict[str, type[Op]] = {}

    def __getitem__(self, name: str) -> type[Op]:
        if name not in self._loaded:
            module = importlib.import_module(f"graphspec.ops.{self._family[name]}")
            self._loaded[name] = getattr(module, name)
        return self._loaded[name]

    def __setitem__(self, name: str, cls: type[Op]) -> None:
        self._family.setdefault(name, cls.__module__.rsplit(".", 1)[-1])
        self._loaded[name] = cls

    def __delitem__(self, name: str) -> None:
        del self._family[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._family)

    def __len__(self) -> int:
        return len(self._family)

    def __contains__(self, name: object) -> bool:
        return name in self._family


OPS = Registry(_FAMILY)

__all__ = ["OPS", "Op", "ShapeError"]
