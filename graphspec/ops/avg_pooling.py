"""Average pooling over 1, 2 and 3 spatial dims, as modules (`nn.AvgPool2d`) and functions
(`F.avg_pool2d`): pooling.py's windows, each averaged.
"""

from typing import Literal

from graphspec.core.fields import Bool, Size
from graphspec.ops.base import Functional
from graphspec.ops.pooling import _Pool


class _AvgPool(_Pool):
    count_include_pad: Bool = True
    """Count the zero padding in each average."""
    kind = "module"
    family = "AvgPool"


class _AvgPool2d(_AvgPool):
    divisor_override: Size | None = None
    """Divide each sum by this instead of the window's size."""


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
