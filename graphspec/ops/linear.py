"""Affine maps: `nn.Linear`."""

from typing import Literal

from graphspec.core.fields import Bool, Size
from graphspec.core.shapes import Dim, TensorType
from graphspec.ops.base import (
    WEIGHTS_HINT,
    Cost,
    Op,
    ShapeError,
    State,
    check_given,
    expect_weights_dtype,
    numel,
    params_state,
)


class Linear(Op):
    """torch.nn.Linear: y = x W^T + b over the last dimension."""

    op: Literal["Linear"]
    in_features: Size | None = None
    """Inferred from the input's last dimension when left out."""
    out_features: Size
    """Size of each output vector (the last dim)."""
    bias: Bool = True
    """Add a learned bias."""
    kind = "module"
    torch_name = "nn.Linear"

    def resolve(self, inputs: list[TensorType]) -> "Linear":
        (x,) = inputs
        if x.rank == 0:
            raise ShapeError("Linear expects at least one dimension, got a scalar")
        last = x.shape[-1]
        if not last.is_static:
            raise ShapeError(
                f"Linear needs a concrete last dimension, got '{last}' in {x}",
                hint=WEIGHTS_HINT.format(field="in_features"),
            )
        check_given(self, "in_features", last.value, f"last dim of {x}")
        return self.model_copy(update={"in_features": last.value})

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        expect_weights_dtype(x, "Linear")
        return x.with_shape((*x.shape[:-1], Dim(self.out_features)))

    def param_count(self) -> int:
        return self.in_features * self.out_features + (self.out_features if self.bias else 0)

    def state(self) -> dict[str, State]:
        return params_state(
            weight=(self.out_features, self.in_features),
            bias=(self.out_features,) if self.bias else None,
        )

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        out = numel(outputs[0])
        return Cost(macs=out * self.in_features, flops=out if self.bias else 0, saved=("in0",))

    def emit_init(self) -> str:
        return self.torch_call("nn.Linear", ("in_features", "out_features"))
