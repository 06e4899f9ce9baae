"""Activations, as modules (`nn.ReLU`) and functions (`F.relu`, `F.softmax`): shape unchanged.

Each function form is its module's twin (`class relu6(Functional, ReLU6)`): the same fields and
rule, with the code written by `Op`'s default emitters from `torch_name`.
"""

from typing import Literal

from graphspec.core.fields import Bool, Float, Int
from graphspec.core.shapes import TensorType, normalize_dim
from graphspec.ops import layout
from graphspec.ops.base import Cost, Functional, Op, ShapeError, expect_float, numel


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


class GELU(_Activation):
    """torch.nn.GELU: x * Phi(x), as in BERT and GPT."""

    op: Literal["GELU"]
    approximate: Literal["none", "tanh"] = "none"
    """'tanh': the tanh approximation GPT-2 used."""
    kind = "module"
    torch_name = "nn.GELU"


class gelu(Functional, GELU):  # noqa: N801
    """torch.nn.functional.gelu"""

    op: Literal["gelu"]
    torch_name = "F.gelu"


class ReLU6(_InPlace):
    """torch.nn.ReLU6: min(max(x, 0), 6), as in MobileNet."""

    op: Literal["ReLU6"]
    torch_name = "nn.ReLU6"


class relu6(Functional, ReLU6):  # noqa: N801
    """torch.nn.functional.relu6"""

    op: Literal["relu6"]
    torch_name = "F.relu6"


class LeakyReLU(_InPlace):
    """torch.nn.LeakyReLU: x, or negative_slope * x below 0."""

    op: Literal["LeakyReLU"]
    negative_slope: Float = 0.01
    """The slope below 0."""
    torch_name = "nn.LeakyReLU"
    positional = ("negative_slope",)


class leaky_relu(Functional, LeakyReLU):  # noqa: N801
    """torch.nn.functional.leaky_relu"""

    op: Literal["leaky_relu"]
    torch_name = "F.leaky_relu"
    positional = ()


class ELU(_InPlace):
    """torch.nn.ELU: x, or alpha * (exp(x) - 1) below 0."""

    op: Literal["ELU"]
    alpha: Float = 1.0
    """The value the negative side tends to is -alpha."""
    torch_name = "nn.ELU"


class elu(Functional, ELU):  # noqa: N801
    """torch.nn.functional.elu"""

    op: Literal["elu"]
    torch_name = "F.elu"


class SiLU(_InPlace):
    """torch.nn.SiLU (also called Swish): x * sigmoid(x)."""

    op: Literal["SiLU"]
    torch_name = "nn.SiLU"


class silu(Functional, SiLU):  # noqa: N801
    """torch.nn.functional.silu"""

    op: Literal["silu"]
    torch_name = "F.silu"


class Mish(_InPlace):
    """torch.nn.Mish: x * tanh(softplus(x))."""

    op: Literal["Mish"]
    torch_name = "nn.Mish"


class mish(Functional, Mish):  # noqa: N801
    """torch.nn.functional.mish"""

    op: Literal["mish"]
    torch_name = "F.mish"


class Hardswish(_InPlace):
    """torch.nn.Hardswish: x * relu6(x + 3) / 6, as in MobileNetV3."""

    op: Literal["Hardswish"]
    torch_name = "nn.Hardswish"


class hardswish(Functional, Hardswish):  # noqa: N801
    """torch.nn.functional.hardswish"""

    op: Literal["hardswish"]
    torch_name = "F.hardswish"


class Hardsigmoid(_InPlace):
    """torch.nn.Hardsigmoid: relu6(x + 3) / 6."""

    op: Literal["Hardsigmoid"]
    torch_name = "nn.Hardsigmoid"


class hardsigmoid(Functional, Hardsigmoid):  # noqa: N801
    """torch.nn.functional.hardsigmoid"""

    op: Literal["hardsigmoid"]
    torch_name = "F.hardsigmoid"


class Hardtanh(_InPlace):
    """torch.nn.Hardtanh: x clamped to [min_val, max_val]."""

    op: Literal["Hardtanh"]
    min_val: Float = -1.0
    """The lower bound."""
    max_val: Float = 1.0
    """Must be above min_val."""
    torch_name = "nn.Hardtanh"
    positional = ("min_val", "max_val")

    def infer(self, inputs: list[TensorType]) -> TensorType:
        # nn.Hardtanh asserts max_val > min_val; F.hardtanh lets them be equal.
        if self.max_val < self.min_val or (self.kind == "module" and self.max_val == self.min_val):
            above = "above" if self.kind == "module" else "at least"
            raise ShapeError(
                f"{self.op}: max_val {self.max_val} must be {above} min_val {self.min_val}",
                code="E-CONSTRAINT",
                field="max_val",
            )
        return super().infer(inputs)


class hardtanh(Functional, Hardtanh):  # noqa: N801
    """torch.nn.functional.hardtanh"""

    op: Literal["hardtanh"]
    torch_name = "F.hardtanh"
    positional = ()


class Softplus(_Activation):
    """torch.nn.Softplus: log(1 + exp(beta * x)) / beta, linear above `threshold`."""

    op: Literal["Softplus"]
    beta: Float = 1.0
    """Sharpness: larger is closer to relu."""
    threshold: Float = 20.0
    """Above beta * x > threshold, the result is x."""
    kind = "module"
    torch_name = "nn.Softplus"


class softplus(Functional, Softplus):  # noqa: N801
    """torch.nn.functional.softplus"""

    op: Literal["softplus"]
    torch_name = "F.softplus"


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
