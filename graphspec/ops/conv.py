"""Convolutions over 1, 2 and 3 spatial dims: `nn.Conv1d/2d/3d` (transposed: conv_transpose.py).

Inputs are batched, (N, C, *spatial): an input of one rank less is refused (see
`base.expect_batched`), not read as one unbatched sample.
"""

from math import prod
from typing import ClassVar, Literal

from graphspec.core.fields import Bool, Size
from graphspec.core.shapes import Dim, TensorType
from graphspec.ops.base import (
    WEIGHTS_HINT,
    Cost,
    NonNegs,
    Op,
    ShapeError,
    Sizes,
    State,
    check_given,
    expect_batched,
    expect_weights_dtype,
    numel,
    params_state,
    per_axis,
)


def window_out(
    size: Dim, kernel: int, stride: int, pad: int, dil: int, ceil: bool, what: str
) -> Dim:
    """torch's output length for a sliding window (conv and pooling share it), symbolic too:
    stride 1 with `padding = dilation*(kernel-1)/2` keeps `H`; stride 2 gives `(H + 1)//2`."""
    span = size + 2 * pad - dil * (kernel - 1) - 1
    if not size.is_static:
        # ceil_mode drops a last window that would start past the input (size + pad): the
        # count is min(ceil(span / s), floor((span + g) / s)) + 1 with g = dil*(kernel-1) - pad
        # >= 0, which is floor((span + min(s - 1, g)) / s) + 1, one floor division
        return (span + (min(stride - 1, dil * (kernel - 1) - pad) if ceil else 0)) // stride + 1
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


class _Conv(Op):
    """What convolutions and transposed convolutions share: channels, groups, weights."""

    in_channels: Size | None = None
    """Inferred from the input's channel dim (dim 1) when left out."""
    out_channels: Size
    """Channels of the output: the number of filters."""
    kernel_size: Sizes
    """The window's size: one number for every spatial dim, or one per dim."""
    stride: Sizes = 1
    """Step between windows, per spatial dim or one for all."""
    dilation: Sizes = 1
    """Spacing between the kernel's elements (1: adjacent)."""
    groups: Size = 1
    """Channels split into this many groups, each convolved on its own."""
    bias: Bool = True
    """Add a learned bias per output channel."""
    kind = "module"
    dims: ClassVar[int] = 2
    """Spatial dims: 1 (N, C, L), 2 (N, C, H, W) or 3 (N, C, D, H, W)."""
    positional = ("in_channels", "out_channels", "kernel_size")

    def resolve(self, inputs: list[TensorType]) -> "_Conv":
        (x,) = inputs
        expect_batched(x, self.dims, self.op, self.family())
        channels = x.shape[1]
        if not channels.is_static:
            raise ShapeError(
                f"{self.op} needs a concrete channel count, got '{channels}'",
                hint=WEIGHTS_HINT.format(field="in_channels"),
            )
        check_given(self, "in_channels", channels.value, f"channel dim of {x}")
        return self.model_copy(update={"in_channels": channels.value})

    def family(self) -> str:
        return self.op[:-2]

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        expect_weights_dtype(x, self.op)
        self._check_groups()
        spatial = [self._out(x.shape[2 + i], i) for i in range(self.dims)]
        return x.with_shape((x.shape[0], Dim(self.out_channels), *spatial))

    def _out(self, size: Dim, axis: int) -> Dim:
        raise NotImplementedError

    def axis(self, field: str, axis: int) -> int:
        return per_axis(self, field, self.dims, single=field != "kernel_size")[axis]

    def _check_groups(self) -> None:
        for field in ("in_channels", "out_channels"):
            if getattr(self, field) % self.groups:
                raise ShapeError(
                    f"{field} {getattr(self, field)} is not divisible by groups {self.groups}",
                    code="E-CONSTRAINT",
                    field="groups",
                )

    def weight_channels(self) -> int:
        """in_channels/groups * out_channels: the weight's two channel dims, either order."""
        return self.out_channels * (self.in_channels // self.groups)

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        # torch's flop counter: batch * spatial * kernel * both channel dims of the weight, the
        # spatial size of the output (of the input for a transposed convolution)
        kernel = prod(per_axis(self, "kernel_size", self.dims, single=False))
        swept = self.swept(inputs[0], outputs[0])
        positions = numel(swept) // swept.shape[1].value  # batch * spatial
        macs = positions * self.weight_channels() * kernel
        out = numel(outputs[0])
        return Cost(macs=macs, flops=out if self.bias else 0, saved=self.saved(inputs[0]))

    def swept(self, x: TensorType, out: TensorType) -> TensorType:
        return out

    def saved(self, x: TensorType) -> tuple:
        return ("in0",)

    def param_count(self) -> int:
        kernel = per_axis(self, "kernel_size", self.dims, single=False)
        weight = self.weight_channels() * prod(kernel)
        return weight + (self.out_channels if self.bias else 0)

    def state(self) -> dict[str, State]:
        kernel = per_axis(self, "kernel_size", self.dims, single=False)
        return params_state(
            weight=(*self.weight_dims(), *kernel), bias=(self.out_channels,) if self.bias else None
        )

    def weight_dims(self) -> tuple[int, int]:
        """The weight's two channel dims: (out, in / groups)."""
        return (self.out_channels, self.in_channels // self.groups)


class _ConvNd(_Conv):
    padding: NonNegs | Literal["same", "valid"] = 0
    """Zeros (or `padding_mode`) added on both sides; 'same' keeps the size at stride 1."""
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"
    """What the padding holds: zeros, a mirror of the edge, the edge repeated, or a wrap-around."""

    def infer(self, inputs: list[TensorType]) -> TensorType:
        if self.padding == "same" and set(per_axis(self, "stride", self.dims)) != {1}:
            raise ShapeError("padding='same' needs stride 1", field="padding")
        out = super().infer(inputs)
        for i in range(self.dims):
            self._check_pad_mode(inputs[0].shape[2 + i], i)
        return out

    def _out(self, size: Dim, axis: int) -> Dim:
        k, s, d = (self.axis(f, axis) for f in ("kernel_size", "stride", "dilation"))
        if self.padding == "same":
            return size
        p = 0 if self.padding == "valid" else self.axis("padding", axis)
        return window_out(size, k, s, p, d, False, self.op)

    def saved(self, x: TensorType) -> tuple:
        uneven = self.padding == "same" and any(
            len(set(self._pads(i))) > 1 for i in range(self.dims)
        )
        if self.padding_mode == "zeros" and not uneven:
            return ("in0",)
        # F.pad (or 'same' padding with an odd total) makes a padded copy, which is kept
        padded = x.shape[0].value * x.shape[1].value
        for i in range(self.dims):
            padded *= x.shape[2 + i].value + sum(self._pads(i))
        # replicate and reflect padding's backward reads the unpadded input as well; zeros
        # (uneven 'same' padding) and circular need only the copy
        alone = self.padding_mode in ("zeros", "circular")
        return ((padded, x.dtype),) if alone else ("in0", (padded, x.dtype))

    def _pads(self, axis: int) -> tuple[int, int]:
        """(before, after) padding along an axis; 'same' puts the odd one after, as torch does."""
        if self.padding == "valid":
            return (0, 0)
        if self.padding == "same":
            total = self.axis("dilation", axis) * (self.axis("kernel_size", axis) - 1)
            return (total // 2, total - total // 2)
        p = self.axis("padding", axis)
        return (p, p)

    def least_sizes(self, inputs: list[TensorType]) -> list[tuple[Dim, int]]:
        """reflect mirrors without repeating the edge (size > padding); circular wraps at most
        the whole input once (size >= padding)."""
        if self.padding_mode not in ("reflect", "circular"):
            return []
        extra = 1 if self.padding_mode == "reflect" else 0
        x = inputs[0]
        return [(x.shape[2 + a], max(self._pads(a)) + extra) for a in range(x.rank - 2)]

    def _check_pad_mode(self, size: Dim, axis: int) -> None:
        # reflect mirrors without repeating the edge, so it needs more input than padding;
        # circular may wrap the whole input around once, no more (F.pad's rules).
        if self.padding_mode not in ("reflect", "circular"):
            return
        if not size.is_static:
            return  # taken as large enough, as a symbolic size is for the kernel
        pad = max(self._pads(axis))
        need = pad + 1 if self.padding_mode == "reflect" else pad
        if size.value < need:
            raise ShapeError(
                f"{self.op}: padding {pad} with padding_mode '{self.padding_mode}' needs an "
                f"input of at least {need}, got {size.value}",
                field="padding",
                hint="use less padding, or padding_mode: zeros",
            )


class Conv1d(_ConvNd):
    """torch.nn.Conv1d over (N, C, L): a 1-D CNN over sequences or signals."""

    op: Literal["Conv1d"]
    dims = 1
    torch_name = "nn.Conv1d"


class Conv2d(_ConvNd):
    """torch.nn.Conv2d over (N, C, H, W)."""

    op: Literal["Conv2d"]
    dims = 2
    torch_name = "nn.Conv2d"


class Conv3d(_ConvNd):
    """torch.nn.Conv3d over (N, C, D, H, W): volumes or video."""

    op: Literal["Conv3d"]
    dims = 3
    torch_name = "nn.Conv3d"
