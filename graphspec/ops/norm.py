"""Normalisation and regularisation: `nn.BatchNorm2d`, `nn.LayerNorm`, `nn.Dropout`, `F.dropout`."""

from __future__ import annotations

from math import prod
from typing import Annotated, Literal

from pydantic import Field

from graphspec.core.fields import NonNegFloat, PosFloat, Probability, Size
from graphspec.core.shapes import TensorType
from graphspec.ops import layout
from graphspec.ops.base import Cost, Op, ShapeError, check_given, expect_float, expect_rank, numel


class BatchNorm2d(Op):
    """torch.nn.BatchNorm2d over (N, C, H, W)."""

    op: Literal["BatchNorm2d"]
    num_features: Size | None = None
    """Inferred from the channel dimension when left out."""
    eps: PosFloat = 1e-5
    momentum: NonNegFloat | None = 0.1
    affine: bool = True
    track_running_stats: bool = True
    kind = "module"
    torch_name = "nn.BatchNorm2d"

    def buffer_count(self) -> int:
        return 2 * self.num_features + 1 if self.track_running_stats else 0

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        c = self.num_features  # kept: the input and each channel's mean and 1/std
        return Cost(flops=4 * numel(outputs[0]), saved=("in0", (c, "float32"), (c, "float32")))

    def resolve(self, inputs: list[TensorType]) -> BatchNorm2d:
        (x,) = inputs
        expect_rank(x, (4,), "BatchNorm2d")
        channels = x.shape[1]
        if not channels.is_static:
            raise ShapeError(f"BatchNorm2d needs a concrete channel count, got '{channels}'")
        check_given(self, "num_features", channels.value, f"channel dim of {x}")
        return self.model_copy(update={"num_features": channels.value})

    def infer(self, inputs: list[TensorType]) -> TensorType:
        expect_float(inputs[0], "BatchNorm2d")
        # torch runs float16/bfloat16 inputs against float32 weights and statistics, not float64.
        if inputs[0].dtype == "float64" and (self.affine or self.track_running_stats):
            raise ShapeError(
                "BatchNorm2d has float32 weights and running statistics but its input is float64",
                code="E-DTYPE",
                hint="declare the input float32",
            )
        return layout.fresh(inputs[0])

    def param_count(self) -> int:
        return 2 * self.num_features if self.affine else 0

    def emit_init(self) -> str:
        return self.torch_call("nn.BatchNorm2d", ("num_features",))


class Dropout(Op):
    """torch.nn.Dropout: zeroes elements with probability p while training."""

    op: Literal["Dropout"]
    p: Probability = 0.5
    inplace: bool = False
    kind = "module"
    torch_name = "nn.Dropout"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        out = numel(outputs[0])  # in training the scaled mask (the input's dtype) is kept
        return Cost(flops=out, saved=((out, inputs[0].dtype),) if 0 < self.p < 1 else ())

    def infer(self, inputs: list[TensorType]) -> TensorType:
        expect_float(inputs[0], "Dropout")
        return layout.elementwise(inputs[0], inputs[0])

    def emit_init(self) -> str:
        return self.torch_call("nn.Dropout", ("p",))


class dropout(Op):  # noqa: N801 - op names are torch's own
    """torch.nn.functional.dropout, active only while training (`training=self.training`)."""

    op: Literal["dropout"]
    p: Probability = 0.5
    torch_name = "F.dropout"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        out = numel(outputs[0])  # in training the scaled mask (the input's dtype) is kept
        return Cost(flops=out, saved=((out, inputs[0].dtype),) if 0 < self.p < 1 else ())

    def infer(self, inputs: list[TensorType]) -> TensorType:
        expect_float(inputs[0], "dropout")
        return layout.elementwise(inputs[0], inputs[0])

    def emit_call(self, node: str, args: list[str]) -> str:
        return f"F.dropout({args[0]}, p={self.p!r}, training=self.training)"


class LayerNorm(Op):
    """torch.nn.LayerNorm over the trailing `normalized_shape` dims (default: the last dim)."""

    op: Literal["LayerNorm"]
    normalized_shape: Size | Annotated[list[Size], Field(min_length=1, max_length=8)] | None = None
    """Inferred as the input's last dim when left out."""
    eps: PosFloat = 1e-5
    elementwise_affine: bool = True
    bias: bool = True
    kind = "module"
    torch_name = "nn.LayerNorm"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        out = numel(outputs[0])
        shape = self.normalized_shape
        # kept: the input, and each row's mean and 1/std
        rows = out // prod([shape] if isinstance(shape, int) else shape)
        return Cost(flops=5 * out, saved=("in0", (rows, "float32"), (rows, "float32")))

    def resolve(self, inputs: list[TensorType]) -> LayerNorm:
        (x,) = inputs
        given = self.normalized_shape
        want = [given] if isinstance(given, int) else given or [None]
        if x.rank < len(want):
            raise ShapeError(
                f"LayerNorm over {len(want)} dim(s) needs an input of rank "
                f"{len(want)} or more, got {x}",
                field="normalized_shape",
            )
        trailing = x.shape[x.rank - len(want) :]
        if not all(d.is_static for d in trailing):
            raise ShapeError(f"LayerNorm needs concrete sizes in the dims it normalizes, got {x}")
        have = [d.value for d in trailing]
        if given is None:
            return self.model_copy(update={"normalized_shape": have[0]})
        if have != want:
            raise ShapeError(
                f"normalized_shape is {given} but the input's trailing dims are {have} (in {x})",
                field="normalized_shape",
                hint="leave normalized_shape out to normalize over the last dim",
            )
        return self

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        expect_float(x, "LayerNorm")
        if x.dtype == "float64" and self.elementwise_affine:
            raise ShapeError(
                "LayerNorm's weights are float32 and cannot take a float64 input",
                code="E-DTYPE",
                hint="feed it float32, or set elementwise_affine: false",
            )
        return layout.fresh(x)

    def param_count(self) -> int:
        if not self.elementwise_affine:
            return 0
        size = self.normalized_shape
        numel = size if isinstance(size, int) else prod(size)
        return numel * (2 if self.bias else 1)

    def emit_init(self) -> str:
        return self.torch_call("nn.LayerNorm", ("normalized_shape",))
