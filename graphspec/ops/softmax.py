"""Softmax and log-softmax along a dim, as modules (`nn.Softmax`) and functions (`F.softmax`):
torch's "other" non-linear activations, which normalise over a dim instead of each element.
"""

from typing import Literal

from graphspec.core.fields import Int
from graphspec.core.shapes import TensorType, normalize_dim
from graphspec.ops import layout
from graphspec.ops.activations import _KeepsResult
from graphspec.ops.base import Functional, ShapeError


class Softmax(_KeepsResult):
    """torch.nn.Softmax along `dim` (required: torch's implicit choice is deprecated)."""

    op: Literal["Softmax"]
    dim: Int
    """The dim whose entries sum to 1."""
    kind = "module"
    torch_name = "nn.Softmax"

    def infer(self, inputs: list[TensorType]) -> TensorType:
        x = layout.fresh(super().infer(inputs))  # softmax writes a contiguous result
        if normalize_dim(self.dim, max(x.rank, 1)) is None:  # a 0-d tensor takes dim 0 or -1
            raise ShapeError(
                f"{self.op}: dim {self.dim} is out of range for the rank-{x.rank} input {x}",
                field="dim",
            )
        return x


class LogSoftmax(Softmax):
    """torch.nn.LogSoftmax along `dim`: log(softmax(x)), computed stably."""

    op: Literal["LogSoftmax"]
    torch_name = "nn.LogSoftmax"


class softmax(Functional, Softmax):  # noqa: N801
    """torch.nn.functional.softmax along `dim` (required, as torch asks for it)."""

    op: Literal["softmax"]
    torch_name = "F.softmax"


class log_softmax(Functional, LogSoftmax):  # noqa: N801
    """torch.nn.functional.log_softmax along `dim`, as before NLLLoss."""

    op: Literal["log_softmax"]
    torch_name = "F.log_softmax"
