"""torchvision's own modules, built from torchvision itself: `StochasticDepth`, `Permute`.

They are what torchvision's models hold (ConvNeXt's `stochastic_depth`, the `Permute` children
of its blocks' `nn.Sequential`), so a spec that uses them lines up child for child with the
model whose state_dict it loads. The emitted file imports torchvision only when one is used
(codegen writes the imports the code reads).
"""

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from graphspec.core.codetext import literal as code_literal
from graphspec.core.fields import Int, Probability
from graphspec.core.shapes import FLOAT_DTYPES, TensorType
from graphspec.ops import layout
from graphspec.ops.base import Cost, Op, ShapeError, literal, numel
from graphspec.ops.tensor import permuted


class StochasticDepth(Op):
    """torchvision.ops.StochasticDepth: while training, each sample ('row') or the whole batch
    ('batch') of a residual branch is dropped with probability `p` and the rest scaled by
    1/(1-p); the identity in eval. It returns its input itself in eval mode (and at p=0)."""

    op: Literal["StochasticDepth"]
    p: Probability
    """The probability of dropping a sample's (or the batch's) branch."""
    mode: Literal["row", "batch"]
    """'row': one draw per sample (dim 0); 'batch': one draw for the whole batch."""
    kind = "module"
    torch_name = "torchvision.ops.StochasticDepth"
    positional: ClassVar[tuple[str, ...]] = ("p", "mode")
    shares_input = "eval"

    def saves_inputs(self) -> bool:
        return False  # backward multiplies by the kept noise, which it holds itself

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        if x.dtype not in FLOAT_DTYPES:
            raise ShapeError(f"StochasticDepth scales its input: got {x.dtype}", code="E-DTYPE")
        if x.rank == 0 and self.mode == "row":
            raise ShapeError(f"StochasticDepth 'row' draws one value per sample of dim 0: got {x}")
        return layout.fresh(x)

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        if self.p == 0:
            return Cost()  # the input itself, in training too
        (x,), out = inputs, numel(outputs[0])
        rows = 1 if self.mode == "batch" else x.shape[0].value
        # input * noise: the noise (one value per row, broadcast) is what backward keeps
        return Cost(flops=out, saved=((rows, x.dtype),))

    def emit_init(self) -> str:
        return f"torchvision.ops.StochasticDepth({literal(self.p)}, {code_literal(self.mode)})"


class Permute(Op):
    """torchvision.ops.Permute: `x.permute(dims)` as a module, so it can sit in a group as
    ConvNeXt's blocks hold it (`block.1`, `block.6`); the functional form is `permute`."""

    op: Literal["Permute"]
    dims: Annotated[list[Int], Field(min_length=1, max_length=8)]
    """The input's dims in their new order."""
    kind = "module"
    torch_name = "torchvision.ops.Permute"
    shares_input = "view"

    def saves_inputs(self) -> bool:
        return False

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost()

    def infer(self, inputs: list[TensorType]) -> TensorType:
        return permuted(inputs[0], self.dims, self.op)  # the functional form's rule

    def emit_init(self) -> str:
        return f"torchvision.ops.Permute({code_literal([int(d) for d in self.dims])})"
