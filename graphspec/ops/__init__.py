"""The closed registry of ops: a spec's `op:` name resolves here and nowhere else.

Adding an op: write its class in the family module it belongs to, then add it to `_ALL` below.
"""

from __future__ import annotations

from graphspec.ops import activations, combine, conv, expr, linear, norm, pooling, reshape
from graphspec.ops.base import Op, ShapeError

_ALL: tuple[type[Op], ...] = (
    conv.Conv2d,
    linear.Linear,
    pooling.MaxPool2d,
    pooling.AvgPool2d,
    pooling.max_pool2d,
    pooling.avg_pool2d,
    norm.BatchNorm2d,
    norm.Dropout,
    activations.ReLU,
    activations.Sigmoid,
    activations.Tanh,
    activations.relu,
    activations.sigmoid,
    activations.tanh,
    reshape.Flatten,
    reshape.flatten,
    reshape.view,
    reshape.reshape,
    combine.add,
    combine.cat,
    expr.expr,
)


def _name(cls: type[Op]) -> str:
    return cls.model_fields["op"].annotation.__args__[0]


OPS: dict[str, type[Op]] = {_name(cls): cls for cls in _ALL}

__all__ = ["OPS", "Op", "ShapeError"]
