"""Transposed convolutions over 1, 2 and 3 spatial dims: `nn.ConvTranspose1d/2d/3d`, conv.py's
weights scattered instead of gathered (a decoder's upsampling).
"""

from typing import Literal

from graphspec.core.shapes import Dim, TensorType
from graphspec.ops.base import NonNegs, ShapeError
from graphspec.ops.conv import _Conv


class _ConvTransposeNd(_Conv):
    padding: NonNegs = 0
    """Taken off both sides of the output: dilation * (kernel_size - 1) - padding is added."""
    output_padding: NonNegs = 0
    """Extra size on one side of the output, to pick among the sizes a strided conv maps from."""
    padding_mode: Literal["zeros"] = "zeros"
    """torch supports only zeros for transposed convolutions."""
    positional = ("in_channels", "out_channels", "kernel_size")

    def family(self) -> str:
        return "ConvTranspose"

    def _out(self, size: Dim, axis: int) -> Dim:
        k, s, d, p, extra = (
            self.axis(f, axis)
            for f in ("kernel_size", "stride", "dilation", "padding", "output_padding")
        )
        if extra >= s and extra >= d:
            raise ShapeError(
                f"{self.op}: output_padding {extra} must be smaller than stride {s} or "
                f"dilation {d}",
                field="output_padding",
            )
        out = (size - 1) * s - 2 * p + d * (k - 1) + extra + 1  # symbolic sizes too
        if out.is_static and out.value < 0:  # torch gives an empty output for 0
            raise ShapeError(
                f"{self.op}: input size {size} gives output size {out}",
                field="padding",
                hint="use less padding, or a larger kernel or stride",
            )
        return out

    def weight_channels(self) -> int:
        return self.in_channels * (self.out_channels // self.groups)

    def weight_dims(self) -> tuple[int, int]:
        return (self.in_channels, self.out_channels // self.groups)

    def swept(self, x: TensorType, out: TensorType) -> TensorType:
        return x  # each input position is scattered over a kernel's worth of outputs


class ConvTranspose1d(_ConvTransposeNd):
    """torch.nn.ConvTranspose1d over (N, C, L): upsamples a sequence (a decoder's conv)."""

    op: Literal["ConvTranspose1d"]
    dims = 1
    torch_name = "nn.ConvTranspose1d"


class ConvTranspose2d(_ConvTransposeNd):
    """torch.nn.ConvTranspose2d over (N, C, H, W): upsamples an image (a decoder's conv)."""

    op: Literal["ConvTranspose2d"]
    dims = 2
    torch_name = "nn.ConvTranspose2d"


class ConvTranspose3d(_ConvTransposeNd):
    """torch.nn.ConvTranspose3d over (N, C, D, H, W)."""

    op: Literal["ConvTranspose3d"]
    dims = 3
    torch_name = "nn.ConvTranspose3d"
