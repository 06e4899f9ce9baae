"""Normalisation and regularisation layers: `nn.BatchNorm2d`, `nn.Dropout`."""

from __future__ import annotations

from typing import Literal

from graphspec.fields import NonNegFloat, PosFloat, Probability, Size
from graphspec.ops.base import Op, ShapeError, check_given, expect_float, expect_rank
from graphspec.shapes import TensorType


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
        return inputs[0]

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

    def infer(self, inputs: list[TensorType]) -> TensorType:
        expect_float(inputs[0], "Dropout")
        return inputs[0]

    def emit_init(self) -> str:
        return self.torch_call("nn.Dropout", ("p",))
