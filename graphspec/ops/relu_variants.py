"""ReLU's variants and relatives, as modules (`nn.ReLU6`) and functions (`F.relu6`): smooth
(GELU, SiLU, Mish, Softplus), clipped (ReLU6, Hardtanh), leaky (LeakyReLU, ELU), and the
piecewise approximations MobileNetV3 uses (Hardswish, Hardsigmoid). Shape unchanged.

A family of its own so that a spec of ReLUs and sigmoids never builds these models (start-up);
each function form is its module's twin, as in activations.py.
"""

from typing import Literal

from graphspec.core.fields import Float
from graphspec.core.shapes import TensorType
from graphspec.ops.activations import _Activation, _InPlace
from graphspec.ops.base import Functional, ShapeError


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
