"""The closed registry of ops: a spec's `op:` name resolves here and nowhere else.

Adding an op: write its class (named as the op) in the family module it belongs to, then add a
line for it to `_FAMILY` below.

A family module is imported the first time one of its ops is looked up, so validating LeNet
never builds the pydantic models of the attention or arithmetic ops (about 0.05 s of start-up).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping

from graphspec.ops.base import Op, ShapeError

_FAMILY: dict[str, str] = {
    "Conv2d": "conv",
    "Linear": "linear",
    "MaxPool2d": "pooling",
    "AvgPool2d": "pooling",
    "max_pool2d": "pooling",
    "avg_pool2d": "pooling",
    "BatchNorm2d": "norm",
    "Dropout": "norm",
    "ReLU": "activations",
    "Sigmoid": "activations",
    "Tanh": "activations",
    "relu": "activations",
    "sigmoid": "activations",
    "tanh": "activations",
    "Flatten": "reshape",
    "flatten": "reshape",
    "view": "reshape",
    "reshape": "reshape",
    "add": "combine",
    "cat": "combine",
    "expr": "expr",
    "Embedding": "embedding",
    "embedding": "embedding",
    "positions": "embedding",
    "LayerNorm": "norm",
    "dropout": "norm",
    "MultiheadAttention": "attention",
    "scaled_dot_product_attention": "attention",
    "matmul": "attention",
    "GELU": "activations",
    "gelu": "activations",
    "softmax": "activations",
    "eq": "arith",
    "ne": "arith",
    "sub": "arith",
    "mul": "arith",
    "div": "arith",
    "pow": "arith",
    "sqrt": "arith",
    "unsqueeze": "tensor",
    "expand": "tensor",
    "repeat": "tensor",
    "transpose": "tensor",
    "permute": "tensor",
    "contiguous": "tensor",
    "masked_fill": "tensor",
}
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
