"""Elementwise activations, as modules (`nn.ReLU`) and functions (`F.relu`): shape unchanged."""

from __future__ import annotations

from typing import Literal

from graphspec.ops.base import Op, expect_float
from graphspec.shapes import TensorType


class _Activation(Op):
    def infer(self, inputs: list[TensorType]) -> TensorType:
        expect_float(inputs[0], self.op)
        return inputs[0]


class ReLU(_Activation):
    """torch.nn.ReLU"""

    op: Literal["ReLU"]
    inplace: bool = False
    kind = "module"
    torch_name = "nn.ReLU"

    def emit_init(self) -> str:
        return self.torch_call("nn.ReLU")


class Sigmoid(_Activation):
    """torch.nn.Sigmoid"""

    op: Literal["Sigmoid"]
    kind = "module"
    torch_name = "nn.Sigmoid"

    def emit_init(self) -> str:
        return "nn.Sigmoid()"


class Tanh(_Activation):
    """torch.nn.Tanh"""

    op: Literal["Tanh"]
    kind = "module"
    torch_name = "nn.Tanh"

    def emit_init(self) -> str:
        return "nn.Tanh()"


class relu(_Activation):  # noqa: N801 - op names are torch's own
    """torch.nn.functional.relu"""

    op: Literal["relu"]
    torch_name = "F.relu"

    def emit_call(self, node: str, args: list[str]) -> str:
        return f"F.relu({args[0]})"


class sigmoid(_Activation):  # noqa: N801
    """torch.sigmoid"""

    op: Literal["sigmoid"]
    torch_name = "torch.sigmoid"

    def emit_call(self, node: str, args: list[str]) -> str:
        return f"torch.sigmoid({args[0]})"


class tanh(_Activation):  # noqa: N801
    """torch.tanh"""

    op: Literal["tanh"]
    torch_name = "torch.tanh"

    def emit_call(self, node: str, args: list[str]) -> str:
        return f"torch.tanh({args[0]})"
