"""Pooling, as modules (`nn.MaxPool2d`) and as functions (`F.max_pool2d`): one rule for all four."""

from __future__ import annotations

from typing import Literal

from graphspec.core.fields import NonNegOrPair, SizeOrPair, pair
from graphspec.core.shapes import TensorType
from graphspec.ops.base import Cost, Op, ShapeError, expect_float, expect_rank, numel
from graphspec.ops.conv import window_out


class _Pool2d(Op):
    kernel_size: SizeOrPair
    stride: SizeOrPair | None = None
    """Defaults to kernel_size, as in torch."""
    padding: NonNegOrPair = 0
    ceil_mode: bool = False

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        expect_rank(x, (3, 4), self.op)
        expect_float(x, self.op)
        spatial = [self._out(x, axis) for axis in (-2, -1)]
        return x.with_shape((*x.shape[:-2], *spatial))

    def _out(self, x: TensorType, axis: int):
        k = pair(self.kernel_size)[axis]
        s = pair(self.stride if self.stride is not None else self.kernel_size)[axis]
        p = pair(self.padding)[axis]
        if p * 2 > k:
            raise ShapeError(
                f"{self.op}: padding {p} is more than half the kernel size {k}",
                field="padding",
                hint=f"use padding <= {k // 2}",
            )
        return window_out(x.shape[axis], k, s, p, self._dilation(axis), self.ceil_mode, self.op)

    def _dilation(self, axis: int) -> int:
        return 1

    def window(self) -> int:
        kh, kw = pair(self.kernel_size)
        return kh * kw


class MaxPool2d(_Pool2d):
    """torch.nn.MaxPool2d"""

    op: Literal["MaxPool2d"]
    dilation: SizeOrPair = 1
    kind = "module"
    torch_name = "nn.MaxPool2d"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        window = self.window()
        out = numel(outputs[0])
        return Cost(flops=out * window, saved=("in0", (out, "int64")))  # input and argmax ids

    def _dilation(self, axis: int) -> int:
        return pair(self.dilation)[axis]

    def emit_init(self) -> str:
        return self.torch_call("nn.MaxPool2d", ("kernel_size", "stride"))


class AvgPool2d(_Pool2d):
    """torch.nn.AvgPool2d"""

    op: Literal["AvgPool2d"]
    count_include_pad: bool = True
    kind = "module"
    torch_name = "nn.AvgPool2d"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outputs[0]) * self.window(), saved=("in0",))

    def emit_init(self) -> str:
        return self.torch_call("nn.AvgPool2d", ("kernel_size", "stride"))


class max_pool2d(MaxPool2d):  # noqa: N801 - op names are torch's own
    """torch.nn.functional.max_pool2d"""

    op: Literal["max_pool2d"]
    kind = "function"
    torch_name = "F.max_pool2d"

    def emit_init(self) -> None:
        return None

    def emit_call(self, node: str, args: list[str]) -> str:
        return self.torch_call("F.max_pool2d", ("kernel_size", "stride"), leading=(args[0],))


class avg_pool2d(AvgPool2d):  # noqa: N801
    """torch.nn.functional.avg_pool2d"""

    op: Literal["avg_pool2d"]
    kind = "function"
    torch_name = "F.avg_pool2d"

    def emit_init(self) -> None:
        return None

    def emit_call(self, node: str, args: list[str]) -> str:
        return self.torch_call("F.avg_pool2d", ("kernel_size", "stride"), leading=(args[0],))
