"""The closed registry of ops: a spec's `op:` name resolves here and nowhere else.

Adding an op: write its class in the family module it belongs to, then add it to `_ALL` below.
"""

from __future__ import annotations

from graphspec.ops import (
    activations,
    arith,
    attention,
    combine,
    conv,
    embedding,
    expr,
    linear,
    norm,
    pooling,
    reshape,
    tensor,
)
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
    embedding.Embedding,
    embedding.positions,
    norm.LayerNorm,
    norm.dropout,
    attention.MultiheadAttention,
    attention.scaled_dot_product_attention,
    attention.matmul,
    activations.GELU,
    activations.gelu,
    activations.softmax,
    arith.eq,
    arith.ne,
    arith.sub,
    arith.mul,
    arith.div,
    arith.pow,
    arith.sqrt,
    tensor.unsqueeze,
    tensor.expand,
    tensor.repeat,
    tensor.transpose,
    tensor.permute,
    tensor.contiguous,
    tensor.masked_fill,
)


def _name(cls: type[Op]) -> str:
    return cls.model_fields["op"].annotation.__args__[0]


OPS: dict[str, type[Op]] = {_name(cls): cls for cls in _ALL}

__all__ = ["OPS", "Op", "ShapeError"]
