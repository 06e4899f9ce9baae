"""Transformer layers as torch.nn has them: `nn.TransformerEncoderLayer` and
`nn.TransformerDecoderLayer`, with batch_first=True.

Inputs (N, L, d_model), or one unbatched sequence (L, d_model); the decoder also reads the
encoder's output, `memory` (N, S, d_model). The output has the first input's shape. The layers
take no masks here (torch's src_mask, tgt_mask and key-padding masks): every position attends
to every other one; for causal attention compose `MultiheadAttention` or
`scaled_dot_product_attention` (`is_causal: true`) with the other ops.
"""

from math import prod
from typing import Any, ClassVar, Literal

from graphspec.core.fields import Bool, PosFloat, Probability, Size
from graphspec.core.shapes import TensorType
from graphspec.ops import layout
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


class _Layer(Op):
    """The fields, rule, weights and cost the encoder and decoder layers share."""

    d_model: Size | None = None
    """Features of each position; inferred from the input's last dim when left out."""
    nhead: Size
    """Attention heads; each takes d_model / nhead of the features."""
    dim_feedforward: Size = 2048
    """Width of the feed-forward block's hidden layer."""
    dropout: Probability = 0.1
    """Dropout on the attention weights and after each block, while training."""
    activation: Literal["relu", "gelu"] = "relu"
    """The feed-forward block's activation."""
    layer_norm_eps: PosFloat = 1e-5
    """The LayerNorms' epsilon."""
    norm_first: Bool = False
    """Pre-norm: LayerNorm before each block (x + block(norm(x))) instead of after."""
    bias: Bool = True
    """Biases in the projections and the LayerNorms."""
    kind = "module"
    positional = ("d_model", "nhead")
    attentions: ClassVar[tuple[str, ...]] = ("self_attn",)
    """The attention submodules, as torch names them."""

    @property
    def _d(self) -> int:
        """d_model, which resolve() has set before any later pass reads it."""
        assert self.d_model is not None
        return self.d_model

    def resolve(self, inputs: list[TensorType]) -> "_Layer":
        x = inputs[0]
        if not x.rank or not x.shape[-1].is_static:
            raise ShapeError(
                f"{self.op} needs a concrete d_model, got {x}",
                hint=WEIGHTS_HINT.format(field="d_model"),
            )
        check_given(self, "d_model", x.shape[-1].value, f"last dim of {x}")
        return self.model_copy(update={"d_model": x.shape[-1].value})

    def infer(self, inputs: list[TensorType]) -> TensorType:
        x = inputs[0]
        if self._d % self.nhead:
            raise ShapeError(
                f"nhead {self.nhead} does not divide d_model {self._d}",
                code="E-CONSTRAINT",
                field="nhead",
                hint=f"each head takes d_model / nhead: pick a divisor of {self._d}",
            )
        if x.rank not in (2, 3):
            raise ShapeError(
                f"{self.op} takes (N, L, d_model) or one unbatched sequence (L, d_model), "
                f"got rank {x.rank} {x}",
                hint="batch_first: the batch, then the positions, then the features",
            )
        expect_weights_dtype(x, self.op)
        return layout.fresh(x)

    def state(self) -> dict[str, State]:
        e, f = self._d, self.dim_feedforward
        b = self.bias
        out: dict[str, State] = {}
        for attn in self.attentions:
            out |= params_state(
                **{
                    f"{attn}.in_proj_weight": (3 * e, e),
                    f"{attn}.in_proj_bias": (3 * e,) if b else None,
                    f"{attn}.out_proj.weight": (e, e),
                    f"{attn}.out_proj.bias": (e,) if b else None,
                }
            )
        out |= params_state(
            **{
                "linear1.weight": (f, e),
                "linear1.bias": (f,) if b else None,
                "linear2.weight": (e, f),
                "linear2.bias": (e,) if b else None,
            }
        )
        for i in range(1, len(self.attentions) + 2):
            out |= params_state(**{f"norm{i}.weight": (e,), f"norm{i}.bias": (e,) if b else None})
        return out

    def param_count(self) -> int:
        return sum(prod(shape) for shape, _, _ in self.state().values())

    def emit_init(self) -> str:
        return self.torch_call(self.torch_name, self.positional)[:-1] + ", batch_first=True)"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        """torch's training forward, block by block (the fused fast path runs only without
        autograd): each attention is nn.MultiheadAttention without weights, so
        scaled_dot_product_attention, fused on the CPU when there is no dropout (its arithmetic
        is not matrix products to the flop counter; see that op's cost) and the math path
        otherwise; then the feed-forward block and the LayerNorms."""
        x = inputs[0]
        e = self._d
        length = x.shape[-2].value
        n = numel(x) // (length * e)
        rows = n * length
        dt = x.dtype
        post = not self.norm_first
        # The first attention reads the layer's input itself when time-major is already its
        # layout (post-norm), else a contiguous copy or a LayerNorm's output.
        first = "in0" if post and (n == 1 or length == 1) else (rows * e, dt)
        unbatched = x.rank == 2
        macs, kept = self._attention(first, None, n, length, length, dt, unbatched)
        if len(self.attentions) == 2:
            mem = inputs[1]
            s = mem.shape[-2].value
            memory = "in1" if n == 1 or s == 1 else (numel(mem), dt)
            more, cross = self._attention((rows * e, dt), memory, n, length, s, dt, unbatched)
            macs, kept = macs + more, kept + cross
        ff_macs, ff = self._feed_forward(rows, dt)
        norms: list[Any] = [(rows * e, dt)] * (len(self.attentions) + 1)  # the LayerNorms' inputs
        if self.norm_first:
            norms[0] = "in0"
        kept += ff + norms + [(2 * rows, dt)] * len(norms)  # and their mean and 1/std
        flops = 10 * rows * e * len(norms) + rows * self.dim_feedforward
        return Cost(macs=macs + ff_macs, flops=flops, saved=tuple(kept))

    def _attention(
        self,
        query: str | tuple[int, str],
        memory: str | tuple[int, str] | None,
        n: int,
        q_len: int,
        k_len: int,
        dt: str,
        unbatched: bool,
    ) -> tuple[int, list[Any]]:
        """One attention block and the dropout after it: (MACs, kept). `memory` is what the
        key and value projection reads (None: self-attention, one packed projection). The math
        path keeps v: the packed copy it is a view of, or for an unbatched input a copy of
        its own."""
        e, h = self._d, self.nhead
        rows, keys = n * q_len, n * k_len
        kept = [query] if memory is None else [query, memory]
        macs = 2 * rows * e * e + 2 * keys * e * e  # q, k, v projections and out_proj
        scores = n * h * q_len * k_len
        if memory is None:
            projected = [(3 * rows * e, dt)]  # q, k and v, one packed copy
        else:
            projected = [(2 * keys * e, dt)]  # k and v, one packed copy
        if not self.dropout:  # fused: q, k, v, the output (out_proj's input) and a logsumexp
            q = [] if memory is None else [(rows * e, dt)]
            kept += projected + q + [(rows * e, dt), (n * h * q_len, dt)]
            return macs, kept
        macs += 2 * rows * k_len * e  # the math path: scores and weighted values
        kept += [(rows * e, dt), (keys * e, dt)]  # q and k, scaled
        v = [(keys * e, dt)] if unbatched else projected
        kept += v + [(scores, dt)] * 3  # v; softmax, dropout's mask and result
        kept += [(rows * e, dt), (rows * e, dt)]  # out_proj's input; dropout's mask after it
        return macs, kept

    def _feed_forward(self, rows: int, dt: str) -> tuple[int, list[Any]]:
        """linear1, the activation, dropout, linear2, dropout: (MACs, kept)."""
        e, f = self._d, self.dim_feedforward
        wide = (rows * f, dt)
        kept = [(rows * e, dt)]  # linear1's input
        if self.dropout:  # the activation's kept tensor, dropout's mask and result
            kept += [wide] * 3 + [(rows * e, dt)]  # and the mask of the dropout after linear2
        else:  # relu keeps its result, which linear2 reads; gelu keeps its input too
            kept += [wide] * (1 if self.activation == "relu" else 2)
        return 2 * rows * e * f, kept


class TransformerEncoderLayer(_Layer):
    """torch.nn.TransformerEncoderLayer (batch_first): self-attention, then a feed-forward
    block, each with a residual connection and a LayerNorm. (N, L, d_model) -> the same."""

    op: Literal["TransformerEncoderLayer"]
    arity = (1, 1)
    torch_name = "nn.TransformerEncoderLayer"


class TransformerDecoderLayer(_Layer):
    """torch.nn.TransformerDecoderLayer (batch_first): self-attention, attention over
    `memory` (the second input, (N, S, d_model)), then a feed-forward block, each with a
    residual connection and a LayerNorm. (N, L, d_model) -> the same."""

    op: Literal["TransformerDecoderLayer"]
    arity = (2, 2)
    torch_name = "nn.TransformerDecoderLayer"
    attentions: ClassVar[tuple[str, ...]] = ("self_attn", "multihead_attn")

    def infer(self, inputs: list[TensorType]) -> TensorType:
        tgt, memory = inputs
        if memory.rank != tgt.rank or memory.shape[-1] != tgt.shape[-1]:
            raise ShapeError(
                f"TransformerDecoderLayer: memory {memory} must be like the target {tgt}: "
                f"the same rank and d_model ({tgt.shape[-1]}), any length",
            )
        if tgt.rank == 3 and memory.shape[0] != tgt.shape[0]:
            raise ShapeError(
                f"TransformerDecoderLayer: memory {memory} and target {tgt} differ in batch size"
            )
        if memory.dtype != tgt.dtype:
            raise ShapeError(
                f"TransformerDecoderLayer: memory is {memory.dtype}, the target {tgt.dtype}",
                code="E-DTYPE",
            )
        return super().infer(inputs)
