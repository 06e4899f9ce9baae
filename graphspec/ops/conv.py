"""Convolution: `nn.Conv2d`."""

from __future__ import annotations

from typing import Literal

from graphspec.core.fields import NonNegOrPair, Size, SizeOrPair, pair
from graphspec.core.shapes import Dim, TensorType
from graphspec.ops.base import Op, ShapeError, check_given, expect_rank, expect_weights_dtype


def window_out(
    size: Dim, kernel: int, stride: int, pad: int, dil: int, ceil: bool, what: str
) -> Dim:
    """torch's output length for a sliding window (conv and pooling share it), symbolic too:
    stride 1 with `padding = dilation*(kernel-1)/2` keeps `H`; stride 2 gives `(H + 1)//2`."""
    span = size + 2 * pad - dil * (kernel - 1) - 1
    if not size.is_static:
        if ceil and pad + stride > kernel:
            # Whether the last window starts inside the input depends on the size itself.
            raise ShapeError(
                f"{what} with ceil_mode needs a concrete spatial size when padding + stride "
                f"exceeds the kernel, got symbolic '{size}'",
                hint="give the input a concrete size, or use ceil_mode: false",
            )
        return (span + (stride - 1 if ceil else 0)) // stride + 1
    # Floor division as torch's div_rtn: with ceil_mode a window may overhang the end, so a
    # kernel larger than the input still gives one output when the overhang is under a stride.
    out = (span.value + (stride - 1 if ceil else 0)) // stride + 1
    if ceil and (out - 1) * stride >= size.value + pad:
        out -= 1  # the last window must start inside the input (torch's rule)
    if out < 1:
        raise ShapeError(
            f"{what}: kernel {kernel} (dilation {dil}) is larger than the padded input "
            f"{size.value} + 2*{pad}",
            hint="use a smaller kernel_size, add padding, or feed a larger input",
        )
    return Dim(out)


class Conv2d(Op):
    """torch.nn.Conv2d"""

    op: Literal["Conv2d"]
    in_channels: Size | None = None
    """Inferred from the input when left out."""
    out_channels: Size
    kernel_size: SizeOrPair
    stride: SizeOrPair = 1
    padding: NonNegOrPair | Literal["same", "valid"] = 0
    dilation: SizeOrPair = 1
    groups: Size = 1
    bias: bool = True
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"
    kind = "module"
    torch_name = "nn.Conv2d"

    def resolve(self, inputs: list[TensorType]) -> Conv2d:
        (x,) = inputs
        expect_rank(x, (3, 4), "Conv2d")
        channels = x.shape[-3]
        if not channels.is_static:
            raise ShapeError(f"Conv2d needs a concrete channel count, got '{channels}'")
        check_given(self, "in_channels", channels.value, f"channel dim of {x}")
        return self.model_copy(update={"in_channels": channels.value})

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        expect_weights_dtype(x, "Conv2d")
        self._check_groups()
        if self.padding == "same" and pair(self.stride) != (1, 1):
            raise ShapeError("padding='same' needs stride 1", field="padding")
        spatial = [self._out(x.shape[i], i) for i in (-2, -1)]
        for i in (-2, -1):
            self._check_pad_mode(x.shape[i], i)
        return x.with_shape((*x.shape[:-3], Dim(self.out_channels), *spatial))

    def _out(self, size: Dim, axis: int) -> Dim:
        k, s, d = pair(self.kernel_size)[axis], pair(self.stride)[axis], pair(self.dilation)[axis]
        if self.padding == "same":
            return size
        p = 0 if self.padding == "valid" else pair(self.padding)[axis]
        return window_out(size, k, s, p, d, False, "Conv2d")

    def _pads(self, axis: int) -> tuple[int, int]:
        """(before, after) padding along an axis; 'same' puts the odd one after, as torch does."""
        if self.padding == "valid":
            return (0, 0)
        if self.padding == "same":
            total = pair(self.dilation)[axis] * (pair(self.kernel_size)[axis] - 1)
            return (total // 2, total - total // 2)
        p = pair(self.padding)[axis]
        return (p, p)

    def _check_pad_mode(self, size: Dim, axis: int) -> None:
        # reflect mirrors without repeating the edge, so it needs more input than padding;
        # circular may wrap the whole input around once, no more (F.pad's rules).
        if self.padding_mode not in ("reflect", "circular"):
            return
        if not size.is_static:
            raise ShapeError(
                f"Conv2d with padding_mode '{self.padding_mode}' needs a concrete "
                f"spatial size, got symbolic '{size}'"
            )
        pad = max(self._pads(axis))
        need = pad + 1 if self.padding_mode == "reflect" else pad
        if size.value < need:
            raise ShapeError(
                f"Conv2d: padding {pad} with padding_mode '{self.padding_mode}' needs an input "
                f"of at least {need}, got {size.value}",
                field="padding",
                hint="use less padding, or padding_mode: zeros",
            )

    def _check_groups(self) -> None:
        for field in ("in_channels", "out_channels"):
            if getattr(self, field) % self.groups:
                raise ShapeError(
                    f"{field} {getattr(self, field)} is not divisible by groups {self.groups}",
                    code="E-CONSTRAINT",
                    field="groups",
                )

    def param_count(self) -> int:
        kh, kw = pair(self.kernel_size)
        weight = self.out_channels * (self.in_channels // self.groups) * kh * kw
        return weight + (self.out_channels if self.bias else 0)

    def emit_init(self) -> str:
        return self.torch_call("nn.Conv2d", ("in_channels", "out_channels", "kernel_size"))
