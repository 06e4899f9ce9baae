"""Pooling over 1, 2 and 3 spatial dims, as modules (`nn.MaxPool2d`) and functions
(`F.max_pool2d`), and adaptive pooling to a given output size (`nn.AdaptiveAvgPool2d`).

Inputs are batched, (N, C, *spatial), as for convolutions (`base.expect_batched`).
"""

from math import prod
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from graphspec.core.fields import Bool, Size
from graphspec.core.shapes import Dim, TensorType
from graphspec.ops.base import (
    Cost,
    Functional,
    NonNegs,
    Op,
    ShapeError,
    Sizes,
    expect_batched,
    expect_float,
    numel,
    per_axis,
)
from graphspec.ops.conv import window_out


class _Pool(Op):
    kernel_size: Sizes
    """The window's size: one number for every spatial dim, or one per dim."""
    stride: Sizes | None = None
    """Defaults to kernel_size, as in torch."""
    padding: NonNegs = 0
    """Implicit padding on both sides, at most half the kernel."""
    ceil_mode: Bool = False
    """Round the output size up: a last window may overhang the input's end."""
    dims: ClassVar[int] = 2
    family: ClassVar[str] = "MaxPool"
    positional = ("kernel_size", "stride")

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        expect_batched(x, self.dims, self.op, self.family)
        expect_float(x, self.op)
        if self.kernel_fits and x.dtype in ("float16", "bfloat16"):
            raise ShapeError(
                f"{self.op}: torch's CPU kernel for 3-D average pooling has no {x.dtype}",
                code="E-DTYPE",
                hint="pool in float32 (train: {amp: true} keeps the rest in half precision)",
            )
        spatial = [self._out(x.shape[2 + i], i) for i in range(self.dims)]
        return x.with_shape((*x.shape[:2], *spatial))

    def _out(self, size: Dim, axis: int) -> Dim:
        k = per_axis(self, "kernel_size", self.dims)[axis]
        stride = self.stride if self.stride is not None else self.kernel_size
        s = per_axis(self, "stride", self.dims, stride)[axis]
        p = per_axis(self, "padding", self.dims)[axis]
        if p * 2 > k:
            raise ShapeError(
                f"{self.op}: padding {p} is more than half the kernel size {k}",
                field="padding",
                hint=f"use padding <= {k // 2}",
            )
        if self.kernel_fits and size.is_static and size.value < k:
            raise ShapeError(
                f"{self.op}: input size {size} is smaller than the kernel size {k}",
                hint="use a smaller kernel_size or feed a larger input (padding does not count)",
            )
        return window_out(size, k, s, p, self._dilation(axis), self.ceil_mode, self.op)

    def least_sizes(self, inputs: list[TensorType]) -> list[tuple[Dim, int]]:
        if not self.kernel_fits:
            return []
        kernel = per_axis(self, "kernel_size", self.dims)
        return [(inputs[0].shape[2 + i], kernel[i]) for i in range(self.dims)]

    kernel_fits: ClassVar[bool] = False
    """torch's 3-D average pooling wants each input size >= the kernel, padding aside (a
    symbolic size is taken as large enough, as it is for every kernel)."""

    def _dilation(self, axis: int) -> int:
        return 1

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        window = prod(per_axis(self, "kernel_size", self.dims))
        return Cost(flops=numel(outputs[0]) * window, saved=self.saved(outputs[0]))

    def saved(self, out: TensorType) -> tuple:
        return ("in0",)


class _MaxPool(_Pool):
    dilation: Sizes = 1
    """Spacing between the kernel's elements."""
    kind = "module"

    def _dilation(self, axis: int) -> int:
        return per_axis(self, "dilation", self.dims)[axis]

    def saved(self, out: TensorType) -> tuple:
        return ("in0", (numel(out), "int64"))  # the input and the argmax ids


class _AvgPool(_Pool):
    count_include_pad: Bool = True
    """Count the zero padding in each average."""
    kind = "module"
    family = "AvgPool"


class _AvgPool2d(_AvgPool):
    divisor_override: Size | None = None
    """Divide each sum by this instead of the window's size."""


class MaxPool1d(_MaxPool):
    """torch.nn.MaxPool1d over (N, C, L)."""

    op: Literal["MaxPool1d"]
    dims = 1
    torch_name = "nn.MaxPool1d"


class MaxPool2d(_MaxPool):
    """torch.nn.MaxPool2d over (N, C, H, W)."""

    op: Literal["MaxPool2d"]
    torch_name = "nn.MaxPool2d"


class MaxPool3d(_MaxPool):
    """torch.nn.MaxPool3d over (N, C, D, H, W)."""

    op: Literal["MaxPool3d"]
    dims = 3
    torch_name = "nn.MaxPool3d"


class AvgPool1d(_AvgPool):
    """torch.nn.AvgPool1d over (N, C, L)."""

    op: Literal["AvgPool1d"]
    dims = 1
    torch_name = "nn.AvgPool1d"


class AvgPool2d(_AvgPool2d):
    """torch.nn.AvgPool2d over (N, C, H, W)."""

    op: Literal["AvgPool2d"]
    torch_name = "nn.AvgPool2d"


class AvgPool3d(_AvgPool2d):
    """torch.nn.AvgPool3d over (N, C, D, H, W)."""

    op: Literal["AvgPool3d"]
    dims = 3
    kernel_fits = True
    torch_name = "nn.AvgPool3d"


class max_pool1d(Functional, MaxPool1d):  # noqa: N801 - op names are torch's own
    """torch.nn.functional.max_pool1d"""

    op: Literal["max_pool1d"]
    torch_name = "F.max_pool1d"


class max_pool2d(Functional, MaxPool2d):  # noqa: N801
    """torch.nn.functional.max_pool2d"""

    op: Literal["max_pool2d"]
    torch_name = "F.max_pool2d"


class max_pool3d(Functional, MaxPool3d):  # noqa: N801
    """torch.nn.functional.max_pool3d"""

    op: Literal["max_pool3d"]
    torch_name = "F.max_pool3d"


class avg_pool1d(Functional, AvgPool1d):  # noqa: N801
    """torch.nn.functional.avg_pool1d"""

    op: Literal["avg_pool1d"]
    torch_name = "F.avg_pool1d"


class avg_pool2d(Functional, AvgPool2d):  # noqa: N801
    """torch.nn.functional.avg_pool2d"""

    op: Literal["avg_pool2d"]
    torch_name = "F.avg_pool2d"


class avg_pool3d(Functional, AvgPool3d):  # noqa: N801
    """torch.nn.functional.avg_pool3d"""

    op: Literal["avg_pool3d"]
    torch_name = "F.avg_pool3d"


# -- adaptive pooling: the output size is given, the windows follow ------------------------------

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
