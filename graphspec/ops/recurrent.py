"""Recurrent layers as torch.nn has them: `nn.RNN`, `nn.GRU`, `nn.LSTM`, with batch_first=True.

Input (N, L, input_size), or one unbatched sequence (L, input_size). Results, named as torch
names them: `out` (N, L, D * H_out), every step's last-layer hidden state, then `h_n`
(D * num_layers, N, H_out), the last step's hidden state of every layer and direction (not
batch-first: torch keeps the layer axis first), and for LSTM `c_n` (D * num_layers, N,
hidden_size). D is 2 when bidirectional; H_out is proj_size when an LSTM projects, else
hidden_size. A later node reads one as `rnn.h_n`; the node itself is `out`.

The initial states are zeros (torch's default); the layer takes no h_0 input.
"""

from math import prod
from typing import Any, ClassVar, Literal

from graphspec.core.fields import Bool, NonNeg, Probability, Size
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


class _Recurrent(Op):
    """What the three share: the fields, the shape rule, the weights and the cost."""

    input_size: Size | None = None
    """Features per step; inferred from the input's last dim when left out."""
    hidden_size: Size
    """Features of the hidden state."""
    num_layers: Size = 1
    """Stacked layers, each reading the previous one's outputs."""
    bias: Bool = True
    """The b_ih and b_hh biases."""
    dropout: Probability = 0.0
    """Dropout on the outputs of each layer but the last, while training."""
    bidirectional: Bool = False
    """A second pass from the end of the sequence; outputs are concatenated (D = 2)."""
    kind = "module"
    arity = (1, 1)
    outputs: ClassVar[tuple[str, ...]] = ("out", "h_n")
    positional = ("input_size", "hidden_size", "num_layers")
    gates: ClassVar[int] = 1
    """Gate blocks in the weights: 1 (RNN), 3 (GRU: reset, update, new), 4 (LSTM)."""

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def out_size(self) -> int:
        """H_out: the size of the hidden state a step passes on."""
        return self.hidden_size

    def resolve(self, inputs: list[TensorType]) -> "_Recurrent":
        (x,) = inputs
        last = x.shape[-1] if x.rank else None
        if last is None or not last.is_static:
            raise ShapeError(
                f"{self.op} needs a concrete input_size, got {x}",
                hint=WEIGHTS_HINT.format(field="input_size"),
            )
        check_given(self, "input_size", last.value, f"last dim of {x}")
        return self.model_copy(update={"input_size": last.value})

    def infer(self, inputs: list[TensorType]) -> tuple[TensorType, ...]:
        (x,) = inputs
        if x.rank not in (2, 3):
            raise ShapeError(
                f"{self.op} takes (N, L, input_size) or one unbatched sequence "
                f"(L, input_size), got rank {x.rank} {x}",
                hint="batch_first: the batch, then the steps, then the features",
            )
        expect_weights_dtype(x, self.op)
        batch = x.shape[:-2]
        length = x.shape[-2]
        layers = Dim(self.directions * self.num_layers)
        out = TensorType((*batch, length, Dim(self.directions * self.out_size)), x.dtype)
        h_n = TensorType((layers, *batch, Dim(self.out_size)), x.dtype)
        states = [TensorType((layers, *batch, Dim(self.hidden_size)), x.dtype)]
        return (out, h_n, *states[: len(self.outputs) - 2])

    def _layer_shapes(self) -> list[tuple[str, int, int, int]]:
        """(name suffix, input features, hidden features read, hidden size) per layer and
        direction, as torch names them: `_l0`, `_l0_reverse`, `_l1`, ..."""
        assert self.input_size is not None  # resolve() has set it
        shapes = []
        for layer in range(self.num_layers):
            features = self.input_size if layer == 0 else self.directions * self.out_size
            for direction in range(self.directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes.append((suffix, features, self.out_size, self.hidden_size))
        return shapes

    def state(self) -> dict[str, State]:
        out: dict[str, State] = {}
        g = self.gates
        for suffix, features, hidden_in, hidden in self._layer_shapes():
            out |= params_state(
                **{
                    f"weight_ih{suffix}": (g * hidden, features),
                    f"weight_hh{suffix}": (g * hidden, hidden_in),
                    f"bias_ih{suffix}": (g * hidden,) if self.bias else None,
                    f"bias_hh{suffix}": (g * hidden,) if self.bias else None,
                    f"weight_hr{suffix}": (self.out_size, hidden) if self._projects else None,
                }
            )
        return out

    @property
    def _projects(self) -> bool:
        return False

    def param_count(self) -> int:
        return sum(prod(shape) for shape, _, _ in self.state().values())

    def emit_init(self) -> str:
        return self.torch_call(self.torch_name, self.positional)[:-1] + ", batch_first=True)"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        """The math of torch's own (non-fused) kernels, which FlopCounterMode sees as matrix
        products: per layer and direction, the input projection of every step at once, then
        a step's hidden projection (and an LSTM's output projection). Kept for backward, as
        those kernels keep them (tests/compiler/test_cost.py measures them with the fused
        mkldnn LSTM turned off; mkldnn and cuDNN keep a workspace of their own instead): the
        first layer's input, made contiguous time-major (a copy per direction, or the input
        itself when that is already its layout), each later layer's input (and dropout's
        mask and result before it), and per step the cell's own state (`_step_kept`)."""
        x = inputs[0]
        n = numel(x) // (x.shape[-1].value * x.shape[-2].value)  # batch (1 unbatched)
        steps = x.shape[-2].value
        rows = n * steps
        g, d = self.gates, self.directions
        macs = 0
        for _, features, hidden_in, hidden in self._layer_shapes():
            macs += rows * g * hidden * (features + hidden_in)
            macs += rows * hidden * self.out_size if self._projects else 0
        kept: list[Any] = []
        if n == 1 or steps == 1:
            kept.append("in0")  # time-major already: a view of the input
        else:
            kept += [(numel(x), x.dtype)] * d
        between = rows * d * self.out_size  # a later layer's input (L, N, D * H_out)
        for layer in range(self.num_layers):
            if layer:
                kept.append((between, x.dtype))
                kept += [(between, x.dtype)] if self.dropout else []  # the mask, as floats
            kept += [(self._step_kept(n) * steps + self._first_kept(n), x.dtype)] * d
        gates = rows * g * self.hidden_size * self.num_layers * d
        return Cost(macs=macs, flops=4 * gates, saved=tuple(kept))

    def _step_kept(self, n: int) -> int:
        """Elements one step of one layer and direction keeps."""
        return 7 * n * self.hidden_size

    def _first_kept(self, n: int) -> int:
        """Elements kept once per layer and direction beside the steps (the initial state)."""
        return 0


class RNN(_Recurrent):
    """torch.nn.RNN (batch_first): h_t = tanh(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh).

    Outputs `out` (N, L, D * hidden_size) and `h_n` (D * num_layers, N, hidden_size)."""

    op: Literal["RNN"]
    nonlinearity: Literal["tanh", "relu"] = "tanh"
    """The activation of each step."""
    torch_name = "nn.RNN"

    def _step_kept(self, n: int) -> int:
        return n * self.hidden_size  # the step's result, the next step's input to W_hh

    def _first_kept(self, n: int) -> int:
        return n * self.hidden_size  # the zero initial state W_hh reads first


class GRU(_Recurrent):
    """torch.nn.GRU (batch_first): reset, update and new gates per step.

    Outputs `out` (N, L, D * hidden_size) and `h_n` (D * num_layers, N, hidden_size)."""

    op: Literal["GRU"]
    torch_name = "nn.GRU"
    gates = 3


class LSTM(_Recurrent):
    """torch.nn.LSTM (batch_first): input, forget, cell and output gates, and a cell state.

    Outputs `out` (N, L, D * H_out), `h_n` (D * num_layers, N, H_out) and `c_n`
    (D * num_layers, N, hidden_size), H_out being proj_size when set, else hidden_size. In
    generated code: `out, (h_n, c_n) = self.lstm(x)`, as torch returns them."""

    op: Literal["LSTM"]
    proj_size: NonNeg = 0
    """Project each hidden state to this size (0: no projection); below hidden_size."""
    torch_name = "nn.LSTM"
    outputs: ClassVar[tuple[str, ...]] = ("out", "h_n", "c_n")
    gates = 4

    @property
    def out_size(self) -> int:
        return self.proj_size or self.hidden_size

    @property
    def _projects(self) -> bool:
        return self.proj_size > 0

    def infer(self, inputs: list[TensorType]) -> tuple[TensorType, ...]:
        if self.proj_size >= self.hidden_size:
            raise ShapeError(
                f"proj_size {self.proj_size} must be smaller than hidden_size {self.hidden_size}",
                code="E-CONSTRAINT",
                field="proj_size",
                hint="project to fewer features than the hidden state, or leave proj_size out",
            )
        return super().infer(inputs)

    def _step_kept(self, n: int) -> int:
        return 7 * n * self.hidden_size + (n * self.proj_size if self._projects else 0)

    def unpack(self, targets: list[str]) -> str:
        out, h_n, c_n = targets
        return f"{out}, ({h_n}, {c_n})"
