"""Normalisation and regularisation: batch, instance, group and layer norms, and dropout.

Batch and instance norms take batched inputs, (N, C, *spatial), as convolutions do
(`base.expect_batched`); their channel count is inferred from dim 1.
"""

from math import prod
from typing import Annotated, ClassVar, Literal

from pydantic import Field, PrivateAttr

from graphspec.core.fields import Bool, Int, NonNegFloat, PosFloat, Probability, Size
from graphspec.core.shapes import Dim, TensorType, dims_product, normalize_dim
from graphspec.ops import layout
from graphspec.ops.base import (
    WEIGHTS_HINT,
    Cost,
    Functional,
    Op,
    ShapeError,
    State,
    check_given,
    expect_batched,
    expect_float,
    numel,
    params_state,
)


def _channels(op: Op, x: TensorType, field: str) -> int:
    """The channel count (dim 1) of a batched input, checked against `field` when given."""
    channels = x.shape[1]
    if not channels.is_static:
        raise ShapeError(
            f"{op.op} needs a concrete channel count, got '{channels}'",
            hint=WEIGHTS_HINT.format(field=field),
        )
    check_given(op, field, channels.value, f"channel dim of {x}")
    return channels.value


def _expect_weights(x: TensorType, op: Op, has_weights: bool, hint: str) -> None:
    expect_float(x, op.op)
    # torch runs float16/bfloat16 inputs against float32 weights and statistics, not float64.
    if x.dtype == "float64" and has_weights:
        raise ShapeError(
            f"{op.op} has float32 weights or running statistics but its input is float64",
            code="E-DTYPE",
            hint=hint,
        )


class _BatchNorm(Op):
    num_features: Size | None = None
    """Inferred from the channel dimension (dim 1) when left out."""
    eps: PosFloat = 1e-5
    """Added to the variance, for numerical stability."""
    momentum: NonNegFloat | None = 0.1
    """Weight of each batch in the running statistics; None: a cumulative average."""
    affine: Bool = True
    """Learn a scale and shift per channel."""
    track_running_stats: Bool = True
    """Keep running mean and variance for eval mode."""
    kind = "module"
    dims: ClassVar[int] = 2
    family: ClassVar[str] = "BatchNorm"
    positional = ("num_features",)

    def resolve(self, inputs: list[TensorType]) -> "_BatchNorm":
        (x,) = inputs
        self.check_rank(x)
        return self.model_copy(update={"num_features": _channels(self, x, "num_features")})

    def check_rank(self, x: TensorType) -> None:
        expect_batched(x, self.dims, self.op, self.family)

    def infer(self, inputs: list[TensorType]) -> TensorType:
        x = inputs[0]
        _expect_weights(x, self, self.float32_state(), "declare the input float32")
        others = dims_product(tuple(d for i, d in enumerate(x.shape) if i != 1))
        if self.family == "BatchNorm" and others == Dim(1):
            raise ShapeError(
                f"{self.op} over {x} has one value per channel, whatever the batch: torch "
                'refuses to train on it ("Expected more than 1 value per channel")',
                hint="normalize before the batch dim is reduced away, or use LayerNorm",
            )
        return layout.fresh(x)

    def float32_state(self) -> bool:
        """Whether float32 tensors meet the input (weights, or statistics torch reads)."""
        return self.affine or self.track_running_stats

    def param_count(self) -> int:
        return 2 * self.num_features if self.affine else 0

    def buffer_count(self) -> int:
        return 2 * self.num_features + 1 if self.track_running_stats else 0

    def state(self) -> dict[str, State]:
        c = (self.num_features,)
        out = params_state(weight=c, bias=c) if self.affine else {}
        if self.track_running_stats:
            out |= {"running_mean": (c, "float32", False), "running_var": (c, "float32", False)}
            out["num_batches_tracked"] = ((), "int64", False)
        return out

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        stats = self.stats_count(inputs[0])  # kept: the input and each group's mean and 1/std
        return Cost(
            flops=4 * numel(outputs[0]), saved=("in0", (stats, "float32"), (stats, "float32"))
        )

    def stats_count(self, x: TensorType) -> int:
        return self.num_features


class BatchNorm1d(_BatchNorm):
    """torch.nn.BatchNorm1d over (N, C) or (N, C, L)."""

    op: Literal["BatchNorm1d"]
    dims = 1
    torch_name = "nn.BatchNorm1d"

    def check_rank(self, x: TensorType) -> None:
        if x.rank != 2:
            super().check_rank(x)


class BatchNorm2d(_BatchNorm):
    """torch.nn.BatchNorm2d over (N, C, H, W)."""

    op: Literal["BatchNorm2d"]
    torch_name = "nn.BatchNorm2d"


class BatchNorm3d(_BatchNorm):
    """torch.nn.BatchNorm3d over (N, C, D, H, W)."""

    op: Literal["BatchNorm3d"]
    dims = 3
    torch_name = "nn.BatchNorm3d"


class _InstanceNorm(_BatchNorm):
    affine: Bool = False
    """Learn a scale and shift per channel (off by default, unlike BatchNorm)."""
    track_running_stats: Bool = False
    """Keep running statistics for eval mode (off by default, unlike BatchNorm)."""
    family = "InstanceNorm"

    def infer(self, inputs: list[TensorType]) -> TensorType:
        x = inputs[0]
        spatial = dims_product(x.shape[2:])
        if spatial.is_static and spatial.value == 1 and not self.track_running_stats:
            raise ShapeError(
                f"{self.op} normalizes over the spatial dims, and {x} has one element in them",
                hint="feed it a larger input, or use BatchNorm or GroupNorm",
            )
        return super().infer(inputs)

    def float32_state(self) -> bool:
        return self.affine  # running statistics are only written, from the input's own

    def stats_count(self, x: TensorType) -> int:
        return x.shape[0].value * self.num_features  # per sample and channel

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        # torch runs batch_norm over (1, N * C, ...): the weight and the running statistics
        # are repeated per sample, and those copies are kept too
        base = super().cost(inputs, outputs)
        copies = self.stats_count(inputs[0]) * (self.affine + 2 * self.track_running_stats)
        return Cost(
            flops=base.flops, saved=(*base.saved, (copies, "float32")) if copies else base.saved
        )


class InstanceNorm1d(_InstanceNorm):
    """torch.nn.InstanceNorm1d over (N, C, L): each sample and channel normalized on its own."""

    op: Literal["InstanceNorm1d"]
    dims = 1
    torch_name = "nn.InstanceNorm1d"


class InstanceNorm2d(_InstanceNorm):
    """torch.nn.InstanceNorm2d over (N, C, H, W): each sample and channel normalized on its own."""

    op: Literal["InstanceNorm2d"]
    torch_name = "nn.InstanceNorm2d"


class InstanceNorm3d(_InstanceNorm):
    """torch.nn.InstanceNorm3d over (N, C, D, H, W)."""

    op: Literal["InstanceNorm3d"]
    dims = 3
    torch_name = "nn.InstanceNorm3d"


class GroupNorm(Op):
    """torch.nn.GroupNorm over (N, C, *): the channels in `num_groups` groups, each normalized."""

    op: Literal["GroupNorm"]
    num_groups: Size
    """Groups the channels are split into; must divide the channel count."""
    num_channels: Size | None = None
    """Inferred from the channel dimension (dim 1) when left out."""
    eps: PosFloat = 1e-5
    """Added to the variance, for numerical stability."""
    affine: Bool = True
    """Learn a scale and shift per channel."""
    kind = "module"
    torch_name = "nn.GroupNorm"
    positional = ("num_groups", "num_channels")

    def resolve(self, inputs: list[TensorType]) -> "GroupNorm":
        (x,) = inputs
        if x.rank < 2:
            raise ShapeError(
                f"GroupNorm takes a batched input (N, C, ...), got {x}",
                hint="check the node before it, or add the batch dim with unsqueeze (dim: 0)",
            )
        return self.model_copy(update={"num_channels": _channels(self, x, "num_channels")})

    def infer(self, inputs: list[TensorType]) -> TensorType:
        if self.num_channels % self.num_groups:
            raise ShapeError(
                f"GroupNorm: {self.num_channels} channels do not split into {self.num_groups} "
                f"groups",
                code="E-CONSTRAINT",
                field="num_groups",
                hint="num_groups must divide the channel count",
            )
        x = inputs[0]
        # torch's rule: each group needs more than one value (N * C / G * spatial, G aside)
        values = dims_product((x.shape[0], *x.shape[2:])) * (self.num_channels // self.num_groups)
        if values == Dim(1):
            raise ShapeError(
                f"GroupNorm: each of the {self.num_groups} groups of {x} holds a single value",
                field="num_groups",
                hint="use fewer groups or a larger input",
            )
        _expect_weights(inputs[0], self, self.affine, "feed it float32, or set affine: false")
        return layout.fresh(inputs[0])

    def param_count(self) -> int:
        return 2 * self.num_channels if self.affine else 0

    def state(self) -> dict[str, State]:
        c = (self.num_channels,)
        return params_state(weight=c, bias=c) if self.affine else {}

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        stats = inputs[0].shape[0].value * self.num_groups  # per sample and group
        return Cost(
            flops=4 * numel(outputs[0]), saved=("in0", (stats, "float32"), (stats, "float32"))
        )


class Dropout(Op):
    """torch.nn.Dropout: zeroes elements with probability p while training."""

    op: Literal["Dropout"]
    p: Probability = 0.5
    """The probability of zeroing each element."""
    inplace: Bool = False
    """Overwrite the input instead of writing a new tensor."""
    kind = "module"
    torch_name = "nn.Dropout"
    shares_input = "eval"  # the input itself when not training (and at p=0)
    positional = ("p",)
    dims: ClassVar[int | None] = None
    """Channel dropout (Dropout1d/2d/3d) takes batched (N, C, *spatial) inputs only."""

    def saves_inputs(self) -> bool:
        return False  # backward multiplies by the kept mask

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        # in training the scaled mask (the input's dtype) is kept: one value per element, or
        # per sample and channel for channel dropout
        out = numel(outputs[0])
        spatial = numel(outputs[0].with_shape(outputs[0].shape[2:]))
        # an empty spatial size (a mutated spec's zero) keeps no mask: nothing to divide by
        mask = out if self.dims is None else (out // spatial if spatial else 0)
        return Cost(flops=out, saved=((mask, inputs[0].dtype),) if 0 < self.p < 1 else ())

    def infer(self, inputs: list[TensorType]) -> TensorType:
        if self.dims is not None:
            expect_batched(inputs[0], self.dims, self.op, "Dropout")
        expect_float(inputs[0], self.op)
        return layout.elementwise(inputs[0], inputs[0])

    def emit_call(self, node: str, args: list[str]) -> str:
        if self.kind == "module":
            return super().emit_call(node, args)
        extra = ", inplace=True" if self.inplace else ""
        return f"{self.torch_name}({args[0]}, p={self.p!r}, training=self.training{extra})"


class Dropout1d(Dropout):
    """torch.nn.Dropout1d over (N, C, L): zeroes whole channels with probability p."""

    op: Literal["Dropout1d"]
    dims = 1
    torch_name = "nn.Dropout1d"


class Dropout2d(Dropout):
    """torch.nn.Dropout2d over (N, C, H, W): zeroes whole channels with probability p."""

    op: Literal["Dropout2d"]
    dims = 2
    torch_name = "nn.Dropout2d"


class Dropout3d(Dropout):
    """torch.nn.Dropout3d over (N, C, D, H, W): zeroes whole channels with probability p."""

    op: Literal["Dropout3d"]
    dims = 3
    torch_name = "nn.Dropout3d"


class dropout(Functional, Dropout):  # noqa: N801 - op names are torch's own
    """torch.nn.functional.dropout, active only while training (`training=self.training`)."""

    op: Literal["dropout"]
    torch_name = "F.dropout"


class dropout1d(Functional, Dropout1d):  # noqa: N801
    """torch.nn.functional.dropout1d over (N, C, L), active only while training."""

    op: Literal["dropout1d"]
    torch_name = "F.dropout1d"


class dropout2d(Functional, Dropout2d):  # noqa: N801
    """torch.nn.functional.dropout2d over (N, C, H, W), active only while training."""

    op: Literal["dropout2d"]
    torch_name = "F.dropout2d"


class dropout3d(Functional, Dropout3d):  # noqa: N801
    """torch.nn.functional.dropout3d over (N, C, D, H, W), active only while training."""

    op: Literal["dropout3d"]
    torch_name = "F.dropout3d"


class LayerNorm(Op):
    """torch.nn.LayerNorm over the trailing `normalized_shape` dims (default: the last dim)."""

    op: Literal["LayerNorm"]
    normalized_shape: Size | Annotated[list[Size], Field(min_length=1, max_length=8)] | None = None
    """Inferred as the input's last dim when left out."""
    eps: PosFloat = 1e-5
    """Added to the variance, for numerical stability."""
    elementwise_affine: Bool = True
    """Learn a scale (and a shift, with bias) per normalized element."""
    bias: Bool = True
    """With elementwise_affine: learn a shift too."""
    dim: Int | None = None
    """Normalize over this one dim instead of the trailing ones: `dim: 1` of (N, C, H, W) is
    ConvNeXt's LayerNorm2d (the code moves the dim last for nn.LayerNorm and back)."""
    kind = "module"
    torch_name = "nn.LayerNorm"

    def resolve(self, inputs: list[TensorType]) -> "LayerNorm":
        (x,) = inputs
        if self.dim is not None:
            moved = self._moved_axis(x)
            order = [a for a in range(x.rank) if a != moved] + [moved]
            last = self.model_copy(update={"dim": None}).resolve([x.with_shape(
                tuple(x.shape[a] for a in order))])  # fmt: skip
            resolved = last.model_copy(update={"dim": self.dim})
            resolved._image_channels = x.rank == 4 and moved == 1
            return resolved
        given = self.normalized_shape
        want = [given] if isinstance(given, int) else given or [None]
        if x.rank < len(want):
            raise ShapeError(
                f"LayerNorm over {len(want)} dim(s) needs an input of rank "
                f"{len(want)} or more, got {x}",
                field="normalized_shape",
            )
        trailing = x.shape[x.rank - len(want) :]
        if not all(d.is_static for d in trailing):
            raise ShapeError(f"LayerNorm needs concrete sizes in the dims it normalizes, got {x}")
        have = [d.value for d in trailing]
        if given is None:
            return self.model_copy(update={"normalized_shape": have[0]})
        if have != want:
            raise ShapeError(
                f"normalized_shape is {given} but the input's trailing dims are {have} (in {x})",
                field="normalized_shape",
                hint="leave normalized_shape out to normalize over the last dim",
            )
        return self

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        expect_float(x, "LayerNorm")
        if x.dtype == "float64" and self.elementwise_affine:
            raise ShapeError(
                "LayerNorm's weights are float32 and cannot take a float64 input",
                code="E-DTYPE",
                hint="feed it float32, or set elementwise_affine: false",
            )
        moved = self._moved_axis(x) if self.dim is not None else x.rank - 1
        if moved == x.rank - 1:
            return layout.fresh(x)
        # normalized with the dim moved last, then moved back: that permuted layout stays
        order = [a for a in range(x.rank) if a != moved] + [moved]
        strides = layout.contiguous_strides(tuple(x.shape[a] for a in order))
        back = [strides[order.index(a)] for a in range(x.rank)]
        return layout.with_strides(layout.fresh(x), tuple(back))

    def _moved_axis(self, x: TensorType) -> int:
        axis = normalize_dim(self.dim, x.rank) if x.rank else None
        if axis is None:
            raise ShapeError(f"LayerNorm: dim {self.dim} is out of range for {x}", field="dim")
        given = self.normalized_shape
        if isinstance(given, list) and len(given) != 1:
            raise ShapeError("LayerNorm with dim normalizes one dim: give normalized_shape as "
                             "one size, or leave it out", field="normalized_shape")  # fmt: skip
        return axis

    _image_channels: bool = PrivateAttr(default=False)
    """`dim` is 1 of (N, C, H, W): torchvision's LayerNorm2d does it all in one module."""

    def fits_sequential(self) -> bool:
        return self.dim is None or self._image_channels

    def emit_call(self, node: str, args: list[str]) -> str:
        if self.dim is None or self._image_channels:
            return super().emit_call(node, args)
        d = self.dim
        return f"self.{node}({args[0]}.movedim({d}, -1)).movedim(-1, {d})"

    def param_count(self) -> int:
        if not self.elementwise_affine:
            return 0
        size = self.normalized_shape
        count = size if isinstance(size, int) else prod(size)
        return count * (2 if self.bias else 1)

    def state(self) -> dict[str, State]:
        if not self.elementwise_affine:
            return {}
        size = self.normalized_shape
        shape = (size,) if isinstance(size, int) else tuple(size)
        return params_state(weight=shape, bias=shape if self.bias else None)

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        out = numel(outputs[0])
        shape = self.normalized_shape
        # kept: the input, and each row's mean and 1/std
        rows = out // prod([shape] if isinstance(shape, int) else shape)
        return Cost(flops=5 * out, saved=("in0", (rows, "float32"), (rows, "float32")))

    def emit_init(self) -> str:
        plain = self.model_copy(update={"dim": None})  # `dim` is graphspec's, not nn.LayerNorm's
        if self._image_channels:  # the same state_dict keys, its forward permutes
            return plain.torch_call(
                "torchvision.models.convnext.LayerNorm2d", ("normalized_shape",)
            )
        return plain.torch_call("nn.LayerNorm", ("normalized_shape",))
