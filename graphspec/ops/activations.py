"""Activations, as modules (`nn.ReLU`) and functions (`F.relu`, `F.softmax`): shape unchanged."""

from __future__ import annotations

from typing import Literal

from graphspec.core.fields import Int
from graphspec.core.shapes import TensorType, normalize_dim
from graphspec.ops import layout
from graphspec.ops.base import Cost, Op, ShapeError, expect_float, numel


class _Activation(Op):
    def infer(self, inputs: list[TensorType]) -> TensorType:
        expect_float(inputs[0], self.op)
        return layout.elementwise(inputs[0], inputs[0])


class ReLU(_Activation):
    """torch.nn.ReLU"""

    op: Literal["ReLU"]
    inplace: bool = False
    kind = "module"
    torch_name = "nn.ReLU"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outputs[0]), saved=("out0",))  # backward uses the result

    def emit_init(self) -> str:
        return self.torch_call("nn.ReLU")


class Sigmoid(_Activation):
    """torch.nn.Sigmoid"""

    op: Literal["Sigmoid"]
    kind = "module"
    torch_name = "nn.Sigmoid"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outputs[0]), saved=("out0",))  # backward uses the result

    def emit_init(self) -> str:
        return "nn.Sigmoid()"


class Tanh(_Activation):
    """torch.nn.Tanh"""

    op: Literal["Tanh"]
    kind = "module"
    torch_name = "nn.Tanh"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outputs[0]), saved=("out0",))  # backward uses the result

    def emit_init(self) -> str:
        return "nn.Tanh()"


class relu(_Activation):  # noqa: N801 - op names are torch's own
    """torch.nn.functional.relu"""

    op: Literal["relu"]
    torch_name = "F.relu"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outputs[0]), saved=("out0",))  # backward uses the result

    def emit_call(self, node: str, args: list[str]) -> str:
        return f"F.relu({args[0]})"


class sigmoid(_Activation):  # noqa: N801
    """torch.sigmoid"""

    op: Literal["sigmoid"]
    torch_name = "torch.sigmoid"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outputs[0]), saved=("out0",))  # backward uses the result

    def emit_call(self, node: str, args: list[str]) -> str:
        return f"torch.sigmoid({args[0]})"


class tanh(_Activation):  # noqa: N801
    """torch.tanh"""

    op: Literal["tanh"]
    torch_name = "torch.tanh"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outputs[0]), saved=("out0",))  # backward uses the result

    def emit_call(self, node: str, args: list[str]) -> str:
        return f"torch.tanh({args[0]})"


class GELU(_Activation):
    """torch.nn.GELU"""

    op: Literal["GELU"]
    approximate: Literal["none", "tanh"] = "none"
    kind = "module"
    torch_name = "nn.GELU"

    def emit_init(self) -> str:
        return self.torch_call("nn.GELU")


class gelu(_Activation):  # noqa: N801
    """torch.nn.functional.gelu"""

    op: Literal["gelu"]
    approximate: Literal["none", "tanh"] = "none"
    torch_name = "F.gelu"

    def emit_call(self, node: str, args: list[str]) -> str:
        return self.torch_call("F.gelu", leading=(args[0],))


class softmax(_Activation):  # noqa: N801
    """torch.nn.functional.softmax along `dim` (required, as torch asks for it)."""

    op: Literal["softmax"]
    dim: Int
    torch_name = "F.softmax"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outputs[0]), saved=("out0",))  # backward uses the result

    def infer(self, inputs: list[TensorType]) -> TensorType:
        x = layout.fresh(super().infer(inputs))  # softmax writes a contiguous result
        if normalize_dim(self.dim, max(x.rank, 1)) is None:  # a 0-d tensor takes dim 0 or -1
            raise ShapeError(
                f"softmax: dim {self.dim} is out of range for the rank-{x.rank} input {x}",
                field="dim",
            )
        return x

    def emit_call(self, node: str, args: list[str]) -> str:
        return f"F.softmax({args[0]}, dim={self.dim})"
