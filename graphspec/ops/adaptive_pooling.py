"""Adaptive pooling, as modules (`nn.AdaptiveAvgPool2d`) and functions (`F.adaptive_avg_pool2d`):
the output size is given and the windows follow, over 1, 2 and 3 spatial dims.

Inputs are batched, (N, C, *spatial), as for convolutions (`base.expect_batched`).
"""

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from graphspec.core.fields import Size
from graphspec.core.shapes import Dim, TensorType
from graphspec.ops.base import (
    Cost,
    Functional,
    Op,
    ShapeError,
    expect_batched,
    expect_float,
    numel,
)

OutputSize = Size | Annotated[list[Size | None], Field(min_length=1, max_length=3)]


class _AdaptivePool(Op):
    output_size: OutputSize
    """The size of each spatial dim after pooling (1 for a global pool); in a list, None keeps
    that dim."""
    kind = "module"
    dims: ClassVar[int] = 2
    family: ClassVar[str] = "AdaptiveAvgPool"
    positional = ("output_size",)

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        expect_batched(x, self.dims, self.op, self.family)
        expect_float(x, self.op)
        sizes = self.output_size if isinstance(self.output_size, list) else None
        if sizes is not None and len(sizes) != self.dims:
            raise ShapeError(
                f"{self.op}: output_size has {len(sizes)} values for {self.dims} spatial dim(s)",
                field="output_size",
                hint=f"give one number, or a list of {self.dims}",
            )
        if self.dims == 1 and sizes == [None]:
            raise ShapeError(
                f"{self.op}: output_size None keeps a dim only in 2-D and 3-D pooling",
                field="output_size",
            )
        wanted = sizes or [self.output_size] * self.dims
        spatial = [
            x.shape[2 + i] if want is None else self._size(x.shape[2 + i], want)
            for i, want in enumerate(wanted)
        ]
        return x.with_shape((*x.shape[:2], *spatial))

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        # each input element is read once; max pooling keeps the input and the argmax ids
        out = outputs[0]
        if "Max" in self.family:
            saved: tuple = ("in0", (numel(out), "int64"))
        else:  # to size 1 torch takes a mean, which keeps nothing
            saved = () if all(d == Dim(1) for d in out.shape[2:]) else ("in0",)
        return Cost(flops=numel(inputs[0]), saved=saved)

    def _size(self, have: Dim, want: int) -> Dim:
        if have == Dim(0):
            raise ShapeError(f"{self.op}: the input has an empty spatial dim")
        return Dim(want)


class AdaptiveAvgPool1d(_AdaptivePool):
    """torch.nn.AdaptiveAvgPool1d over (N, C, L) -> (N, C, output_size)."""

    op: Literal["AdaptiveAvgPool1d"]
    dims = 1
    torch_name = "nn.AdaptiveAvgPool1d"


class AdaptiveAvgPool2d(_AdaptivePool):
    """torch.nn.AdaptiveAvgPool2d: (N, C, H, W) -> (N, C, *output_size), as before a classifier."""

    op: Literal["AdaptiveAvgPool2d"]
    torch_name = "nn.AdaptiveAvgPool2d"


class AdaptiveAvgPool3d(_AdaptivePool):
    """torch.nn.AdaptiveAvgPool3d over (N, C, D, H, W)."""

    op: Literal["AdaptiveAvgPool3d"]
    dims = 3
    torch_name = "nn.AdaptiveAvgPool3d"


class AdaptiveMaxPool1d(AdaptiveAvgPool1d):
    """torch.nn.AdaptiveMaxPool1d over (N, C, L) -> (N, C, output_size)."""

    op: Literal["AdaptiveMaxPool1d"]
    family = "AdaptiveMaxPool"
    torch_name = "nn.AdaptiveMaxPool1d"


class AdaptiveMaxPool2d(AdaptiveAvgPool2d):
    """torch.nn.AdaptiveMaxPool2d: (N, C, H, W) -> (N, C, *output_size)."""

    op: Literal["AdaptiveMaxPool2d"]
    family = "AdaptiveMaxPool"
    torch_name = "nn.AdaptiveMaxPool2d"


class AdaptiveMaxPool3d(AdaptiveAvgPool3d):
    """torch.nn.AdaptiveMaxPool3d over (N, C, D, H, W)."""

    op: Literal["AdaptiveMaxPool3d"]
    family = "AdaptiveMaxPool"
    torch_name = "nn.AdaptiveMaxPool3d"


class adaptive_avg_pool1d(Functional, AdaptiveAvgPool1d):  # noqa: N801
    """torch.nn.functional.adaptive_avg_pool1d"""

    op: Literal["adaptive_avg_pool1d"]
    torch_name = "F.adaptive_avg_pool1d"


class adaptive_avg_pool2d(Functional, AdaptiveAvgPool2d):  # noqa: N801
    """torch.nn.functional.adaptive_avg_pool2d"""

    op: Literal["adaptive_avg_pool2d"]
    torch_name = "F.adaptive_avg_pool2d"


class adaptive_avg_pool3d(Functional, AdaptiveAvgPool3d):  # noqa: N801
    """torch.nn.functional.adaptive_avg_pool3d"""

    op: Literal["adaptive_avg_pool3d"]
    torch_name = "F.adaptive_avg_pool3d"


class adaptive_max_pool1d(Functional, AdaptiveMaxPool1d):  # noqa: N801
    """torch.nn.functional.adaptive_max_pool1d"""

    op: Literal["adaptive_max_pool1d"]
    torch_name = "F.adaptive_max_pool1d"


class adaptive_max_pool2d(Functional, AdaptiveMaxPool2d):  # noqa: N801
    """torch.nn.functional.adaptive_max_pool2d"""

    op: Literal["adaptive_max_pool2d"]
    torch_name = "F.adaptive_max_pool2d"


class adaptive_max_pool3d(Functional, AdaptiveMaxPool3d):  # noqa: N801
    """torch.nn.functional.adaptive_max_pool3d"""

    op: Literal["adaptive_max_pool3d"]
    torch_name = "F.adaptive_max_pool3d"
