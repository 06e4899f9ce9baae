"""Max pooling over 1, 2 and 3 spatial dims, as modules (`nn.MaxPool2d`) and functions
(`F.max_pool2d`), and the windows all pooling shares. Average pooling is avg_pooling.py;
adaptive pooling, to a given output size, adaptive_pooling.py.

Inputs are batched, (N, C, *spatial), as for convolutions (`base.expect_batched`).
"""

from math import prod
from typing import ClassVar, Literal

from graphspec.core.fields import Bool
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
