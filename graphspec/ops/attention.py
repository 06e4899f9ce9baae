"""Attention and its building block: `torch.matmul`, `F.scaled_dot_product_attention`, and
`nn.MultiheadAttention` (batch_first, returning the output and the attention weights).

Masks follow torch, whose two conventions differ: for `MultiheadAttention` (and `masked_fill`)
a bool mask is True where attention is NOT allowed; for `scaled_dot_product_attention` it is True
where attention IS allowed (build it with `ne` rather than `eq`). A float mask, of the query's
dtype, is added to the scores in both.
"""

from typing import Annotated, Literal

from pydantic import Field

from graphspec.core.fields import Bool, Float, Probability, Size
from graphspec.core.shapes import Dim, TensorType
from graphspec.ops import layout
from graphspec.ops.base import (
    Cost,
    Op,
    ShapeError,
    State,
    check_given,
    expect_float,
    literal,
    numel,
    params_state,
)
from graphspec.ops.combine import broadcast


def matmul_shape(a: TensorType, b: TensorType, what: str = "matmul") -> tuple[Dim, ...]:
    """torch.matmul: 1-D operands get a dim added and removed; batch dims broadcast."""
    if a.rank == 0 or b.rank == 0:
        raise ShapeError(f"{what}: both operands need at least one dim, got {a} and {b}")
    left = a.shape if a.rank > 1 else (Dim(1), *a.shape)
    right = b.shape if b.rank > 1 else (*b.shape, Dim(1))
    if left[-1] != right[-2]:
        raise ShapeError(
            f"{what}: {a} @ {b}: the first's last dim {left[-1]} differs from the second's "
            f"{'only' if b.rank == 1 else 'second-to-last'} dim {right[-2]}",
            hint="transpose one operand (e.g. k.transpose(-2, -1)) so the inner sizes meet",
        )
    try:
        batch = broadcast([TensorType(left[:-2]), TensorType(right[:-2])], what)
    except ShapeError:
        raise ShapeError(f"{what}: the batch dims of {a} and {b} do not broadcast") from None
    rows = (left[-2],) if a.rank > 1 else ()
    cols = (right[-1],) if b.rank > 1 else ()
    return (*batch, *rows, *cols)


class matmul(Op):  # noqa: N801 - op names are torch's own
    """torch.matmul: (..., n, m) @ (..., m, p) -> (..., n, p), with torch's 1-D and batch rules."""

    op: Literal["matmul"]
    arity = (2, 2)
    torch_name = "torch.matmul"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        a, b = inputs
        inner = a.shape[-1].value  # the contracted size
        if a.rank == 1 or b.rank == 1:  # dot and mv: torch's flop counter counts neither
            return Cost(flops=2 * numel(outputs[0]) * inner, saved=("in0", "in1"))
        return Cost(macs=numel(outputs[0]) * inner, saved=_matmul_kept(a, b, outputs[0]))

    def infer(self, inputs: list[TensorType]) -> TensorType:
        a, b = inputs
        if a.dtype != b.dtype or a.dtype == "bool":
            raise ShapeError(
                f"matmul needs operands of one numeric dtype, got {a.dtype} and {b.dtype}",
                code="E-DTYPE",
                hint="convert one operand to the other's dtype",
            )
        return TensorType(matmul_shape(a, b), a.dtype)

    def emit_call(self, node: str, args: list[str]) -> str:
        return f"torch.matmul({args[0]}, {args[1]})"


def check_mask(mask: TensorType, query: TensorType, name: str, what: str, hint: str) -> None:
    """A mask is bool or of the query's float dtype (added to the scores)."""
    if mask.dtype not in ("bool", query.dtype):
        raise ShapeError(
            f"{what}: {name} must be bool or {query.dtype} like the query, got {mask.dtype}",
            code="E-DTYPE",
            hint=hint,
        )


class scaled_dot_product_attention(Op):  # noqa: N801
    """F.scaled_dot_product_attention: softmax(q k^T * scale + mask) v.

    Inputs: query (..., L, E), key (..., S, E), value (..., S, Ev), optionally attn_mask
    broadcastable to (..., L, S). Output (..., L, Ev).
    """

    op: Literal["scaled_dot_product_attention"]

    def saves_result(self) -> bool:
        return True  # CUDA's flash and memory-efficient kernels keep the output for backward

    dropout_p: Probability = 0.0
    """Applied only while training: the code passes 0.0 in eval mode."""
    is_causal: Bool = False
    """Mask future positions: each query attends to keys up to its own."""
    scale: Float | None = None
    """Default 1/sqrt(E)."""
    arity = (3, 4)
    torch_name = "F.scaled_dot_product_attention"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        """What torch does on the CPU. Its fused (flash) kernel, for 4-d q, k, v of one batch
        and head shape and one head size, without a mask or dropout, keeps q, k, v, the output
        and a logsumexp per query, and its arithmetic is not matrix products to the flop
        counter; otherwise the math path: q and k each scaled by sqrt(scale) (copies, kept),
        the softmax of the scores kept, dropout's mask and result kept, v kept."""
        q, k, v = inputs[:3]
        scores = numel(outputs[0]) // v.shape[-1].value * k.shape[-2].value
        macs = scores * (q.shape[-1].value + v.shape[-1].value)  # q k^T, then weights v
        fused = (
            len(inputs) == 3
            and not self.dropout_p
            and q.rank == k.rank == v.rank == 4
            and q.shape[:2] == k.shape[:2] == v.shape[:2]
            and q.shape[-1] == k.shape[-1] == v.shape[-1]
        )
        if fused:
            rows = numel(q) // q.shape[-1].value
            kept = ("in0", "in1", "in2", "out0", (rows, "float32"))
            return Cost(flops=2 * macs + 3 * scores, saved=kept)
        batch = scores // (q.shape[-2].value * k.shape[-2].value)
        kept = [(_expanded(q, batch), q.dtype), (_expanded(k, batch), k.dtype), (scores, q.dtype)]
        kept.append("in2" if _expanded(v, batch) == numel(v) else (_expanded(v, batch), v.dtype))
        if self.dropout_p:
            kept += [(scores, q.dtype), (scores, q.dtype)]
        return Cost(macs=macs, flops=3 * scores, saved=tuple(kept))

    def infer(self, inputs: list[TensorType]) -> TensorType:
        q, k, v = inputs[:3]
        what = "scaled_dot_product_attention"
        if min(q.rank, k.rank, v.rank) < 2:
            raise ShapeError(
                f"{what}: query, key and value need at least 2 dims, got {q}, {k}, {v}"
            )
        expect_float(q, what)
        if not q.dtype == k.dtype == v.dtype:
            raise ShapeError(
                f"{what}: query, key and value dtypes differ ({q.dtype}, {k.dtype}, {v.dtype})",
                code="E-DTYPE",
            )
        if k.shape[-2] != v.shape[-2]:
            raise ShapeError(
                f"{what}: key {k} and value {v} differ in length ({k.shape[-2]} vs {v.shape[-2]})"
            )
        scores = matmul_shape(q, k.with_shape((*k.shape[:-2], k.shape[-1], k.shape[-2])), what)
        out = matmul_shape(TensorType(scores), v, what)
        if len(inputs) == 4:
            self._check_mask(inputs[3], q, scores)
        return TensorType(out, q.dtype)

    def _check_mask(self, mask: TensorType, q: TensorType, scores: tuple[Dim, ...]) -> None:
        what = "scaled_dot_product_attention"
        if self.is_causal:
            raise ShapeError(
                f"{what}: is_causal builds its own mask; an attn_mask input is not allowed with it",
                code="E-CONSTRAINT",
                field="is_causal",
                hint="drop the mask input, or set is_causal: false",
            )
        check_mask(
            mask,
            q,
            "attn_mask",
            what,
            "a bool mask here is True where attention is allowed: build it with a comparison (ne)",
        )
        weights = TensorType(scores)
        try:
            fits = broadcast([mask, weights], what) == scores
        except ShapeError:
            fits = False
        if not fits:
            raise ShapeError(
                f"{what}: attn_mask {mask} (rank {mask.rank}) does not broadcast to "
                f"the attention weights {weights} (rank {weights.rank})",
                hint="size-1 dims repeat: e.g. (N, 1, 1, S) for (N, H, L, S)",
            )

    def emit_call(self, node: str, args: list[str]) -> str:
        parts = list(args[:3])
        if len(args) == 4:
            parts.append(f"attn_mask={args[3]}")
        if self.dropout_p:
            parts.append(f"dropout_p={self.dropout_p!r} if self.training else 0.0")
        if self.is_causal:
            parts.append("is_causal=True")
        if self.scale is not None:
            parts.append(f"scale={self.scale!r}")
        return f"F.scaled_dot_product_attention({', '.join(parts)})"


MaskName = Literal["key_padding_mask", "attn_mask"]
_FORWARD_ARGS = ("mask_inputs", "average_attn_weights")


class MultiheadAttention(Op):
    """torch.nn.MultiheadAttention with batch_first=True: (N, L, E) -> output and weights.

    Inputs: query (N, L, E), key (N, S, kdim), value (N, S, vdim), then the masks named by
    `mask_inputs` (by default a key_padding_mask (N, S), True at padding, then an attn_mask
    (L, S) or (N*num_heads, L, S)). Unbatched inputs (L, E) work as in torch. Outputs `out`
    (N, L, E) and `weights` (N, L, S), averaged over heads unless average_attn_weights is false.
    """

    op: Literal["MultiheadAttention"]
    embed_dim: Size | None = None
    """Inferred from the query's last dim when left out."""
    num_heads: Size
    """Parallel heads; each takes embed_dim / num_heads of the features."""
    dropout: Probability = 0.0
    """Dropout on the attention weights while training."""
    bias: Bool = True
    """Learned biases in the input and output projections."""
    add_bias_kv: Bool = False
    """Append a learned bias to the keys and values (one more key)."""
    add_zero_attn: Bool = False
    """Append a zero key and value (one more key)."""
    kdim: Size | None = None
    """The key's last dim when it differs from embed_dim (inferred)."""
    vdim: Size | None = None
    """The value's last dim when it differs from embed_dim (inferred)."""
    average_attn_weights: Bool = True
    """forward argument: weights (N, L, S) averaged over heads, else (N, num_heads, L, S)."""
    mask_inputs: Annotated[list[MaskName], Field(min_length=1, max_length=2)] = [
        "key_padding_mask",
        "attn_mask",
    ]
    """What the inputs after query, key, value are, in order (graphspec's, not torch's)."""
    kind = "module"
    arity = (3, 5)
    outputs = ("out", "weights")
    torch_name = "nn.MultiheadAttention"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return attention_cost(self, inputs, outputs)

    def resolve(self, inputs: list[TensorType]) -> "MultiheadAttention":
        q, k, v = inputs[:3]
        update = {"embed_dim": _last(q, "query")}
        check_given(self, "embed_dim", update["embed_dim"], f"last dim of the query {q}")
        for field, t, name in (("kdim", k, "key"), ("vdim", v, "value")):
            size = _last(t, name)
            check_given(self, field, size, f"last dim of the {name} {t}")
            if size != update["embed_dim"] or getattr(self, field) is not None:
                update[field] = size
        return self.model_copy(update=update)

    def _check_heads(self) -> None:
        if self.embed_dim % self.num_heads:
            raise ShapeError(
                f"num_heads {self.num_heads} does not divide embed_dim {self.embed_dim}",
                code="E-CONSTRAINT",
                field="num_heads",
                hint=f"each head takes embed_dim / num_heads: pick a divisor of {self.embed_dim}",
            )

    def _masks(self, inputs: list[TensorType]) -> dict[str, TensorType]:
        extra = inputs[3:]
        if len(set(self.mask_inputs)) != len(self.mask_inputs):
            raise ShapeError(
                f"mask_inputs {self.mask_inputs} names a mask twice",
                code="E-CONSTRAINT",
                field="mask_inputs",
            )
        if len(extra) > len(self.mask_inputs):
            raise ShapeError(
                f"MultiheadAttention got {len(extra)} mask inputs but mask_inputs "
                f"names {len(self.mask_inputs)}",
                code="E-ARITY",
                field="mask_inputs",
                hint="list what each input after query, key, value is",
            )
        return dict(zip(self.mask_inputs, extra, strict=False))

    def infer(self, inputs: list[TensorType]) -> tuple[TensorType, TensorType]:
        q, k, v = inputs[:3]
        what = "MultiheadAttention"
        if q.dtype != "float32" or k.dtype != q.dtype or v.dtype != q.dtype:
            raise ShapeError(
                f"{what}'s weights are float32; query, key and value are "
                f"{q.dtype}, {k.dtype}, {v.dtype}",
                code="E-DTYPE",
                hint="feed it float32 tensors",
            )
        self._check_heads()
        batch, length = self._lengths(q, k, v)
        masks = self._masks(inputs)
        for name, mask in masks.items():
            check_mask(
                mask,
                q,
                name,
                what,
                "build a bool mask with a comparison (eq): True marks the keys to ignore",
            )
            self._check_mask_shape(name, mask, batch, q.shape[-2], length)
        keys = self._padded(length)
        heads = () if self.average_attn_weights else (Dim(self.num_heads),)
        weights = TensorType((*batch, *heads, q.shape[-2], keys), q.dtype)
        return layout.fresh(q), weights

    def _lengths(self, q: TensorType, k: TensorType, v: TensorType) -> tuple[tuple[Dim, ...], Dim]:
        """The batch dims (one, or none when unbatched) and the key length S."""
        if q.rank not in (2, 3) or k.rank != q.rank or v.rank != q.rank:
            raise ShapeError(
                f"MultiheadAttention expects query, key and value all (N, L, E) or "
                f"all unbatched (L, E), got {q}, {k}, {v}"
            )
        if k.shape[:-1] != v.shape[:-1]:
            raise ShapeError(f"MultiheadAttention: key {k} and value {v} differ in batch or length")
        if q.rank == 3 and q.shape[0] != k.shape[0]:
            raise ShapeError(f"MultiheadAttention: query {q} and key {k} differ in batch size")
        return q.shape[:-2], k.shape[-2]

    def _check_mask_shape(self, name: str, mask: TensorType, batch: tuple, q: Dim, k: Dim) -> None:
        """q and k are the query and key lengths, L and S in torch's docs."""
        if name == "key_padding_mask":
            allowed = [(*batch, k)]
        else:
            stacked = (batch[0] * self.num_heads,) if batch else (Dim(self.num_heads),)
            allowed = [(q, k), (*stacked, q, k)]
        if mask.shape not in allowed:
            listed = " or ".join(str(TensorType(s)) for s in allowed)
            raise ShapeError(
                f"MultiheadAttention: {name} must be {listed}, got {mask} (rank {mask.rank})",
                hint="True marks the keys to ignore"
                if name == "key_padding_mask"
                else "one mask per head and batch item",
            )

    def _padded(self, length: Dim) -> Dim:
        """add_bias_kv and add_zero_attn each append one key."""
        extra = int(self.add_bias_kv) + int(self.add_zero_attn)
        return length + extra  # a symbolic length too: `L + 1`

    def param_count(self) -> int:
        e = self.embed_dim
        kdim, vdim = self.kdim or e, self.vdim or e
        weights = e * (e + kdim + vdim) + e * e  # q, k, v projections and out_proj
        biases = 4 * e if self.bias else 0
        return weights + biases + (2 * e if self.add_bias_kv else 0)

    def state(self) -> dict[str, State]:
        e = self.embed_dim
        kdim, vdim = self.kdim or e, self.vdim or e
        if kdim == e and vdim == e:  # torch's _qkv_same_embed_dim: one packed projection
            out = params_state(in_proj_weight=(3 * e, e))
        else:
            out = params_state(
                q_proj_weight=(e, e), k_proj_weight=(e, kdim), v_proj_weight=(e, vdim)
            )
        out |= params_state(in_proj_bias=(3 * e,) if self.bias else None)
        kv = (1, 1, e) if self.add_bias_kv else None
        out |= params_state(bias_k=kv, bias_v=kv, **{"out_proj.weight": (e, e)})
        return out | params_state(**{"out_proj.bias": (e,) if self.bias else None})

    def emit_init(self) -> str:
        args = {k: v for k, v in self.op_args().items() if k not in _FORWARD_ARGS}
        parts = [literal(args.pop("embed_dim")), literal(args.pop("num_heads"))]
        parts += [f"{key}={literal(value)}" for key, value in args.items()]
        return f"nn.MultiheadAttention({', '.join(parts)}, batch_first=True)"

    def emit_call(self, node: str, args: list[str]) -> str:
        parts = list(args[:3])
        parts += [f"{name}={arg}" for name, arg in zip(self.mask_inputs, args[3:], strict=False)]
        parts.append("need_weights=True")
        if not self.average_attn_weights:
            parts.append("average_attn_weights=False")
        return f"self.{node}({', '.join(parts)})"


def attention_cost(
    op: MultiheadAttention, inputs: list[TensorType], outputs: list[TensorType]
) -> Cost:
    """nn.MultiheadAttention's forward: three input projections, the scores, the weighted sum,
    the output projection; kept for backward: every projection input and result, the weights."""
    q, k, v = inputs[:3]
    e, dt = op.embed_dim, q.dtype
    rows, keys = numel(q) // e, numel(k) // k.shape[-1].value  # N*L queries, N*S keys
    batch = rows // q.shape[-2].value if q.rank == 3 else 1
    seq = keys // batch + int(op.add_bias_kv) + int(op.add_zero_attn)  # S, and the added keys
    macs = rows * e * e + keys * k.shape[-1].value * e + keys * v.shape[-1].value * e
    macs += 2 * rows * seq * e  # scores and weighted values over all heads
    macs += rows * e * e  # out_proj
    weights = rows * seq * op.num_heads
    # kept: the projections' inputs; the scaled q, the projected k and v (with any added
    # keys); the softmax (and dropout's mask and result); the heads' output for out_proj
    kept = ["in0", "in1", "in2", (rows * e, dt), (2 * batch * seq * e, dt), (weights, dt)]
    kept += [(weights, dt), (weights, dt)] if op.dropout else []
    kept.append((rows * e, dt))
    return Cost(macs=macs, flops=4 * weights, saved=tuple(kept))


def _matmul_kept(a: TensorType, b: TensorType, out: TensorType) -> tuple:
    """What torch.matmul keeps: both operands as views (mm, or one folded into a matrix),
    except that when both are batched and their batch dims broadcast, bmm keeps the expanded
    copies it multiplies."""
    if a.rank <= 2 or b.rank <= 2:
        return ("in0", "in1")
    batch = numel(out) // (out.shape[-1].value * out.shape[-2].value)
    kept = [f"in{i}" if _expanded(t, batch) == numel(t) else (_expanded(t, batch), t.dtype)
            for i, t in enumerate((a, b))]  # fmt: skip
    return tuple(kept)


def _expanded(t: TensorType, batch: int) -> int:
    """Elements of `t` once its batch dims are broadcast to `batch` matrices (a single matrix
    broadcasts without a copy: bmm reads it with stride 0)."""
    matrix = t.shape[-1].value * t.shape[-2].value
    return numel(t) if numel(t) == matrix else batch * matrix


def _last(t: TensorType, name: str) -> int:
    if t.rank == 0 or not t.shape[-1].is_static:
        raise ShapeError(f"MultiheadAttention needs a concrete last dim for the {name}, got {t}")
    return t.shape[-1].value
