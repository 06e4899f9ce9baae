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
    "Conv1d": "conv",
    "Conv2d": "conv",
    "Conv3d": "conv",
    "ConvTranspose1d": "conv",
    "ConvTranspose2d": "conv",
    "ConvTranspose3d": "conv",
    "Linear": "linear",
    "MaxPool1d": "pooling",
    "MaxPool2d": "pooling",
    "MaxPool3d": "pooling",
    "AvgPool1d": "pooling",
    "AvgPool2d": "pooling",
    "AvgPool3d": "pooling",
    "max_pool1d": "pooling",
    "max_pool2d": "pooling",
    "max_pool3d": "pooling",
    "avg_pool1d": "pooling",
    "avg_pool2d": "pooling",
    "avg_pool3d": "pooling",
    "AdaptiveAvgPool1d": "pooling",
    "AdaptiveAvgPool2d": "pooling",
    "AdaptiveAvgPool3d": "pooling",
    "AdaptiveMaxPool1d": "pooling",
    "AdaptiveMaxPool2d": "pooling",
    "AdaptiveMaxPool3d": "pooling",
    "adaptive_avg_pool1d": "pooling",
    "adaptive_avg_pool2d": "pooling",
    "adaptive_avg_pool3d": "pooling",
    "adaptive_max_pool1d": "pooling",
    "adaptive_max_pool2d": "pooling",
    "adaptive_max_pool3d": "pooling",
    "BatchNorm1d": "norm",
    "BatchNorm2d": "norm",
    "BatchNorm3d": "norm",
    "InstanceNorm1d": "norm",
    "InstanceNorm2d": "norm",
    "InstanceNorm3d": "norm",
    "GroupNorm": "norm",
    "LayerNorm": "norm",
    "Dropout": "norm",
    "Dropout1d": "norm",
    "Dropout2d": "norm",
    "Dropout3d": "norm",
    "dropout": "norm",
    "dropout1d": "norm",
    "dropout2d": "norm",
    "dropout3d": "norm",
    "ReLU": "activations",
    "Sigmoid": "activations",
    "Tanh": "activations",
    "relu": "activations",
    "sigmoid": "activations",
    "tanh": "activations",
    "GELU": "activations",
    "gelu": "activations",
    "ReLU6": "activations",
    "relu6": "activations",
    "LeakyReLU": "activations",
    "leaky_relu": "activations",
    "ELU": "activations",
    "elu": "activations",
    "SiLU": "activations",
    "silu": "activations",
    "Mish": "activations",
    "mish": "activations",
    "Hardswish": "activations",
    "hardswish": "activations",
    "Hardsigmoid": "activations",
    "hardsigmoid": "activations",
    "Hardtanh": "activations",
    "hardtanh": "activations",
    "Softplus": "activations",
    "softplus": "activations",
    "Softmax": "activations",
    "LogSoftmax": "activations",
    "softmax": "activations",
    "log_softmax": "activations",
    "Upsample": "resample",
    "interpolate": "resample",
    "PixelShuffle": "resample",
    "pixel_shuffle": "resample",
    "Flatten": "reshape",
    "flatten": "reshape",
    "view": "reshape",
    "reshape": "reshape",
    "Identity": "reshape",
    "add": "combine",
    "cat": "combine",
    "stack": "combine",
    "expr": "expr",
    "Embedding": "embedding",
    "embedding": "embedding",
    "positions": "embedding",
    "MultiheadAttention": "attention",
    "scaled_dot_product_attention": "attention",
    "matmul": "attention",
    "eq": "arith",
    "ne": "arith",
    "sub": "arith",
    "mul": "arith",
    "div": "arith",
    "pow": "arith",
    "sqrt": "arith",
    "clamp": "arith",
    "mean": "reduce",
    "sum": "reduce",
    "amax": "reduce",
    "amin": "reduce",
    "unsqueeze": "tensor",
    "expand": "tensor",
    "repeat": "tensor",
    "transpose": "tensor",
    "permute": "tensor",
    "contiguous": "tensor",
    "masked_fill": "tensor",
    "split": "indexing",
    "chunk": "indexing",
    "narrow": "indexing",
    "squeeze": "indexing",
    "tril": "indexing",
    "triu": "indexing",
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
