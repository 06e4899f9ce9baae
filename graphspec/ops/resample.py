"""Resizing images and volumes: `nn.Upsample` / `F.interpolate` and `nn.PixelShuffle`.

Inputs are batched, (N, C, *spatial), as torch's interpolation requires; each mode takes the
ranks torch implements it for (`linear` 1-D, `bilinear`/`bicubic` 2-D, `trilinear` 3-D).
"""

import math
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PrivateAttr, ValidationInfo
from pydantic_core import PydanticCustomError

from graphspec.core import exprs
from graphspec.core.fields import Bool, PosFloat, Size, SymbolicSize
from graphspec.core.shapes import Dim, TensorType
from graphspec.ops.base import (
    Cost,
    Functional,
    Op,
    ShapeError,
    SizeSource,
    View,
    dim_code,
    expect_float,
    literal,
    numel,
    size_code,
    size_source,
)

Mode = Literal["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area"]
_SPATIAL = {"linear": (1,), "bilinear": (2,), "bicubic": (2,), "trilinear": (3,)}
"""Spatial dims each mode is defined for; the others take 1, 2 or 3."""


_LIKE_HINT = (
    "nn.Upsample's size is fixed when it is built; to resize to a size the model has only as a "
    "symbol (its input's H, W), use {op: interpolate, size: [H, W]} (read at run time), or "
    "{op: interpolate, in: [node, x]}: F.interpolate(node, size=x.shape[2:])"
)


def _symbolic_size(value: Any, info: ValidationInfo) -> Any:
    """A size naming a symbol (`size: [H, W]`) is refused with the form that says it."""
    for entry in value if isinstance(value, list) else [value]:
        if isinstance(entry, str):
            try:
                exprs.evaluate(entry, info.context.get("constants", {}) if info.context else {})
            except exprs.ExprError as err:
                if err.code == "E-REF":
                    raise PydanticCustomError(
                        "expr",
                        "{message}",
                        {"message": err.message, "code": err.code, "offset": err.offset,
                         "hint": _LIKE_HINT},
                    ) from None  # fmt: skip
    return value


class Upsample(Op):
    """torch.nn.Upsample: resizes (N, C, *spatial) to `size`, or by `scale_factor`."""

    op: Literal["Upsample"]
    size: Annotated[
        Size | Annotated[list[Size], Field(min_length=1, max_length=3)] | None,
        BeforeValidator(_symbolic_size),
    ] = None
    """The output's spatial size (one number for all dims); give this or scale_factor."""
    scale_factor: PosFloat | Annotated[list[PosFloat], Field(min_length=1, max_length=3)] | None = (
        None
    )
    """Multiplies each spatial size (the result rounded down); give this or size."""
    mode: Mode = "nearest"
    """How new values are computed: copied from the nearest input, or interpolated."""
    align_corners: Bool | None = None
    """Linear modes only: align the corner pixels of input and output."""
    kind = "module"
    torch_name = "nn.Upsample"

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        spatial = x.rank - 2
        self._check_mode(x, spatial)
        if (self.size is None) == (self.scale_factor is None):
            raise ShapeError(
                f"{self.op} needs exactly one of size and scale_factor",
                code="E-CONSTRAINT",
                field="size" if self.size is not None else None,
            )
        given = self.size if self.size is not None else self.scale_factor
        field = "size" if self.size is not None else "scale_factor"
        values = given if isinstance(given, list) else [given] * spatial
        if len(values) != spatial:
            raise ShapeError(
                f"{self.op}: {field} has {len(values)} values for the {spatial} spatial dim(s) "
                f"of {x}",
                field=field,
            )
        if self.size is not None:
            out = [Dim.of(v) if isinstance(v, str) else Dim(v) for v in values]
        else:
            out = [self._scaled(x.shape[2 + i], v) for i, v in enumerate(values)]
        return x.with_shape((*x.shape[:2], *out))

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        # backward needs only the sizes, except area's (adaptive average pooling, but for a
        # size-1 output, which is a mean)
        area = self.mode == "area" and any(d != Dim(1) for d in outputs[0].shape[2:])
        return Cost(flops=numel(outputs[0]), saved=("in0",) if area else ())

    def _check_mode(self, x: TensorType, spatial: int) -> None:
        allowed = _SPATIAL.get(self.mode, (1, 2, 3))
        if spatial not in allowed:
            want = " or ".join(f"rank {s + 2}" for s in allowed)
            raise ShapeError(
                f"{self.op}: mode '{self.mode}' takes a batched {want} input (N, C, ...), got {x}",
                field="mode",
                hint="add the batch dim with unsqueeze (dim: 0), or pick the mode for this rank "
                "(linear 1-D, bilinear 2-D, trilinear 3-D)",
            )
        expect_float(x, self.op)
        if self.align_corners is not None and self.mode not in _SPATIAL:
            raise ShapeError(
                f"{self.op}: align_corners applies only to the linear modes, not '{self.mode}'",
                field="align_corners",
                hint="leave align_corners out",
            )

    def _scaled(self, size: Dim, scale: float) -> Dim:
        # torch floors size * scale in double precision; for a scale n / 2^k (2.0, 0.5, 1.5)
        # that product is exact, so it is (n * size) // 2^k for every size, symbolic ones too.
        ratio = Fraction(scale)
        if size.is_static:
            out = Dim(math.floor(size.value * scale))
        elif ratio.denominator & (ratio.denominator - 1) == 0 and ratio.denominator <= 1 << 20:
            out = (size * ratio.numerator) // ratio.denominator
        else:
            raise ShapeError(
                f"{self.op}: scale_factor {scale} is not exact in binary, so the size it gives "
                f"needs a concrete input size, got symbolic '{size}'",
                field="scale_factor",
                hint="give the output size instead, or a scale such as 2.0 or 0.5",
            )
        if out.is_static and out.value < (0 if self.mode == "area" else 1):  # area: adaptive pool
            raise ShapeError(
                f"{self.op}: scale_factor {scale} shrinks size {size} to nothing",
                field="scale_factor",
            )
        return out


class interpolate(Functional, Upsample):  # noqa: N801 - op names are torch's own
    """torch.nn.functional.interpolate: resizes (N, C, *spatial) to `size` or by `scale_factor`,
    or, given a second input, to that tensor's spatial size (`in: [logits, x]`:
    `F.interpolate(logits, size=x.shape[-2:])`, a segmentation head back at its image's size)."""

    op: Literal["interpolate"]
    size: (
        Size
        | SymbolicSize
        | Annotated[list[Size | SymbolicSize], Field(min_length=1, max_length=3)]
        | None
    ) = None
    """The output's spatial size: numbers, or sizes of the model's (or block's) inputs and
    arithmetic over them (`[H, W]`, `[2*H, 2*W]`), read at run time; give this or scale_factor."""
    torch_name = "F.interpolate"
    arity = (1, 2)
    _like_from: int = PrivateAttr(default=2)
    """Where the second input's spatial dims start (its rank less the first's spatial dims)."""
    _axes: dict[str, SizeSource] = PrivateAttr(default_factory=dict)
    """Where each symbol of `size` is read at run time: the input, or one of the body's."""

    def resolve(self, inputs: list[TensorType]) -> "interpolate":
        axes = {}
        for entry in self._entries():
            if isinstance(entry, str):
                for symbol in Dim.of(entry).syms:
                    axes[symbol] = size_source(symbol, inputs[0], self.op)
        resolved = self.model_copy()
        resolved._axes = axes
        return resolved

    def _entries(self) -> list[int | str]:
        return (
            [] if self.size is None else self.size if isinstance(self.size, list) else [self.size]
        )

    def _symbolic(self) -> bool:
        return any(isinstance(entry, str) for entry in self._entries())

    def infer(self, inputs: list[TensorType]) -> TensorType:
        if len(inputs) == 1:
            return super().infer(inputs)
        x, like = inputs
        spatial = x.rank - 2
        self._check_mode(x, spatial)
        if self.size is not None or self.scale_factor is not None:
            raise ShapeError(
                f"{self.op}: a second input gives the size; size and scale_factor go unset",
                code="E-CONSTRAINT",
                field="size" if self.size is not None else "scale_factor",
                hint="drop size/scale_factor, or drop the second input",
            )
        if like.rank < spatial:
            raise ShapeError(
                f"{self.op}: the second input {like} has fewer than the {spatial} spatial dim(s) "
                f"of {x} to take the size from",
                field="in_",
            )
        self._like_from = like.rank - spatial
        return x.with_shape((*x.shape[:2], *like.shape[self._like_from :]))

    def emit_call(self, node: str, args: list[str]) -> str:
        if len(args) == 1 and self._symbolic():
            return self._sized_call(args[0])
        if len(args) == 1:
            return super().emit_call(node, args)
        x, like = args
        spatial = f"{like}.shape[{self._like_from}:]"
        given = self.size is not None or self.scale_factor is not None  # refused: torch too
        leading = (x, spatial) if given else (x, f"size={spatial}")
        return self.torch_call(self.torch_name, self.positional, leading=leading)

    def _sized_call(self, x: str) -> str:
        """`F.interpolate(x, size=(x.size(2), 2 * x.size(3)), ...)`: each symbol read where
        resolve() found it, each number as written."""
        entries = self._entries()
        sizes = [
            dim_code(Dim.of(e), lambda symbol: size_code(self._axes[symbol], x))
            if isinstance(e, str)
            else literal(e)
            for e in entries
        ]
        if not isinstance(self.size, list):
            size = sizes[0]
        else:
            size = f"({sizes[0]},)" if len(sizes) == 1 else f"({', '.join(sizes)})"
        rest = self.model_copy(update={"size": None})
        return rest.torch_call(self.torch_name, self.positional, leading=(x, f"size={size}"))


class PixelShuffle(View, Op):
    """torch.nn.PixelShuffle: (*, C * r^2, H, W) -> (*, C, H * r, W * r), r = upscale_factor."""

    op: Literal["PixelShuffle"]
    upscale_factor: Size
    """r: each spatial size is multiplied by r, the channels divided by r^2."""
    kind = "module"
    torch_name = "nn.PixelShuffle"
    positional = ("upscale_factor",)

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        if x.rank < 3:
            raise ShapeError(
                f"{self.op} takes (*, C, H, W), rank 3 or more; got rank {x.rank} {x}",
                hint="check the node before it",
            )
        r = self.upscale_factor
        channels = x.shape[-3].divide(Dim(r * r))
        if channels is None:
            raise ShapeError(
                f"{self.op}: channels {x.shape[-3]} are not divisible by upscale_factor^2 = "
                f"{r * r}",
                field="upscale_factor",
            )
        return x.with_shape((*x.shape[:-3], channels, x.shape[-2] * r, x.shape[-1] * r))


class pixel_shuffle(Functional, PixelShuffle):  # noqa: N801
    """torch.nn.functional.pixel_shuffle"""

    op: Literal["pixel_shuffle"]
    torch_name = "F.pixel_shuffle"
