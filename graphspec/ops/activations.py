"""Activations, as modules (`nn.ReLU`) and functions (`F.relu`, `torch.tanh`): shape unchanged,
and the bases every activation family shares.

ReLU's variants (GELU, ReLU6, LeakyReLU, SiLU, Hardswish, ...) are relu_variants.py, softmax is
softmax.py: families of their own, so a spec builds the models of the families it names only.
A function form is its module's twin (`class gelu(Functional, GELU)`): the same fields and
rule, with the code written by `Op`'s default emitters from `torch_name`.
"""

from typing import Literal

from graphspec.core.fields import Bool
from graphspec.core.shapes import TensorType
from graphspec.ops import layout
from graphspec.ops.base import Cost, Op, expect_float, numel


class _Activation(Op):
    def infer(self, inputs: list[TensorType]) -> TensorType:
        expect_float(inputs[0], self.op)
        return layout.elementwise(inputs[0], inputs[0])


class _KeepsResult(_Activation):
    def saves_result(self) -> bool:
        return True  # backward is written with the result: tanh' = 1 - tanh^2

    def saves_inputs(self) -> bool:
        return False

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outputs[0]), saved=("out0",))  # backward uses the result


class _InPlace(_Activation):
    inplace: Bool = False
    """Overwrite the input instead of writing a new tensor."""
    kind = "module"

    def saves_result(self) -> bool:
        return self.inplace  # the input is gone: an in-place form's backward reads its result


class ReLU(_KeepsResult, _InPlace):
    """torch.nn.ReLU: max(x, 0)."""

    op: Literal["ReLU"]
    torch_name = "nn.ReLU"


class Sigmoid(_KeepsResult):
    """torch.nn.Sigmoid"""

    op: Literal["Sigmoid"]
    kind = "module"
    torch_name = "nn.Sigmoid"


class Tanh(_KeepsResult):
    """torch.nn.Tanh"""

    op: Literal["Tanh"]
    kind = "module"
    torch_name = "nn.Tanh"


class relu(_KeepsResult):  # noqa: N801 - op names are torch's own
    """torch.nn.functional.relu"""

    op: Literal["relu"]
    torch_name = "F.relu"


class sigmoid(_KeepsResult):  # noqa: N801
    """torch.sigmoid"""

    op: Literal["sigmoid"]
    torch_name = "torch.sigmoid"


class tanh(_KeepsResult):  # noqa: N801
    """torch.tanh"""

    op: Literal["tanh"]
    torch_name = "torch.tanh"
