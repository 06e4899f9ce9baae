"""Ops that move values along dims or add a border: `roll` (torch.roll) and `pad` (F.pad).

Both write a new tensor of the input's dtype; neither does arithmetic nor keeps anything for
backward (the gradient is rolled back, or cropped out of the padded one).
"""

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from graphspec.core.codetext import literal as code_literal
from graphspec.core.fields import Float, Int
from graphspec.core.shapes import Dim, TensorType, normalize_dim
from graphspec.ops import layout
from graphspec.ops.arith import scalar_code
from graphspec.ops.base import Cost, Op, ShapeError

Ints = Int | Annotated[list[Int], Field(min_length=1, max_length=8)]


class roll(Op):  # noqa: N801 - op names are torch's own
    """torch.roll: values shifted along `dims`, those pushed off one end coming back at the
    other (Swin's shifted windows: `{op: roll, shifts: [-3, -3], dims: [1, 2]}`). Without
    `dims` the tensor is rolled as if flattened, then given its shape back."""

    op: Literal["roll"]
    shifts: Ints
    """By how many places each dim is rolled (negative: towards the start)."""
    dims: Ints | None = None
    """The dims to roll, one per shift; left out: the flattened tensor, by one shift."""
    torch_name = "torch.roll"
    positional: ClassVar[tuple[str, ...]] = ("shifts", "dims")

    def saves_inputs(self) -> bool:
        return False  # backward rolls the gradient back

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost()  # a copy: no arithmetic, nothing kept

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        shifts = [self.shifts] if isinstance(self.shifts, int) else self.shifts
        if self.dims is None:
            if len(shifts) != 1:
                raise ShapeError(
                    f"roll: {len(shifts)} shifts without dims",
                    field="dims",
                    hint="give one dim per shift, or a single shift to roll the flattened tensor",
                )
            return layout.fresh(x)
        dims = [self.dims] if isinstance(self.dims, int) else self.dims
        if len(dims) != len(shifts):
            raise ShapeError(
                f"roll: {len(shifts)} shift(s) for {len(dims)} dim(s)",
                field="dims",
                hint="give one shift per dim",
            )
        if x.rank == 0 and len(dims) > 1:
            raise ShapeError(f"roll: {len(dims)} dims of a 0-dim tensor", field="dims")
        for d in dims:
            if normalize_dim(d, max(x.rank, 1)) is None:
                raise ShapeError(
                    f"roll: dim {d} is out of range for the rank-{x.rank} input {x}",
                    field="dims",
                )
        return layout.fresh(x)


Mode = Literal["constant", "reflect", "replicate", "circular"]


class pad(Op):  # noqa: N801
    """torch.nn.functional.pad: `pad` lists (before, after) amounts for the last dims, the last
    dim first (`[0, 0, 0, 1, 0, 1]` pads H and W of (N, H, W, C) at their ends, as Swin pads
    to whole windows); a negative amount crops. `mode` fills the border with `value`
    ('constant'), a mirror image without the edge ('reflect'), the edge itself ('replicate'), or
    the other end ('circular')."""

    op: Literal["pad"]
    pad: Annotated[list[Int], Field(min_length=2, max_length=16)]
    """(before, after) pairs, the last dim's first; an even count, at most two per dim."""
    mode: Mode = "constant"
    """How the border is filled."""
    value: Int | Float | None = None
    """The fill of 'constant' mode (default 0); the other modes take none."""
    torch_name = "F.pad"
    positional: ClassVar[tuple[str, ...]] = ("pad",)

    _SPATIAL: ClassVar[dict[int, tuple[int, int]]] = {2: (2, 3), 4: (3, 4), 6: (4, 5)}
    """Non-constant modes: pad length -> the input ranks torch takes (unbatched, batched)."""

    def saves_inputs(self) -> bool:
        # constant and circular backward crop (or fold back) the gradient: sizes only;
        # torch's reflect and replicate backward kernels take the input itself
        return self.mode in ("reflect", "replicate")

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        floating = inputs[0].dtype in _FLOATS
        return Cost(saved=("in0",) if self.saves_inputs() and floating else ())  # a copy

    def least_sizes(self, inputs: list[TensorType]) -> list[tuple[Dim, int]]:
        """reflect needs each padded size above its pad, circular at least its pad, replicate
        one value to repeat; a symbolic size is taken to meet it."""
        if self.mode == "constant" or not inputs:
            return []
        x, need = inputs[0], []
        for i, (before, after) in enumerate(self._pairs()):
            if i >= x.rank:
                break
            size = x.shape[x.rank - 1 - i]
            most = max(before, after)
            least = {"reflect": most + 1, "circular": most, "replicate": 1}[self.mode]
            need.append((size, max(least, 1)))
        return need

    def _pairs(self) -> list[tuple[int, int]]:
        return [(self.pad[i], self.pad[i + 1]) for i in range(0, len(self.pad), 2)]

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        if len(self.pad) % 2:
            raise ShapeError(
                f"pad: {len(self.pad)} amounts; they come in (before, after) pairs",
                field="pad",
                hint="give an even number of amounts",
            )
        pairs = self._pairs()
        if len(pairs) > x.rank:
            raise ShapeError(
                f"pad: {len(pairs)} dims padded, but {x} has rank {x.rank}",
                field="pad",
                hint="give at most two amounts per dim of the input",
            )
        if self.mode != "constant":
            self._check_mode(x, pairs)
        shape = list(x.shape)
        for i, (before, after) in enumerate(pairs):
            axis = x.rank - 1 - i
            size = shape[axis] + (before + after)
            if size.is_static and size.value < 0:
                raise ShapeError(
                    f"pad: dim {axis} of {x} would have size {size.value} after the pad",
                    field="pad",
                    hint="crop less than the dim holds",
                )
            shape[axis] = size
        return layout.fresh(x.with_shape(tuple(shape)))

    def _check_mode(self, x: TensorType, pairs: list[tuple[int, int]]) -> None:
        if self.value not in (None, 0):  # torch lets a 0 through
            raise ShapeError(
                f"pad: mode '{self.mode}' takes no value",
                field="value",
                hint="drop `value`, or use mode: constant",
            )
        ranks = self._SPATIAL.get(len(self.pad))
        if ranks is None or x.rank not in ranks:
            want = " or ".join(f"{n} amounts for rank {a} or {b}" for n, (a, b) in
                               self._SPATIAL.items())  # fmt: skip
            raise ShapeError(
                f"pad: mode '{self.mode}' with {len(self.pad)} amounts does not take a "
                f"rank-{x.rank} input {x}",
                field="pad",
                hint=f"torch pads 1 to 3 trailing dims of a batch in this mode: {want}",
            )
        if x.dtype == "bool" or (self.mode == "reflect" and x.dtype not in _FLOATS):
            raise ShapeError(f"pad: mode '{self.mode}' is not defined for {x.dtype}",
                             code="E-DTYPE")  # fmt: skip
        for i, (before, after) in enumerate(pairs):
            size = x.shape[x.rank - 1 - i]
            if not size.is_static:
                continue  # taken to be large enough (least_sizes)
            self._check_size(size.value, before, after, x.rank - 1 - i, x)

    def _check_size(self, size: int, before: int, after: int, axis: int, x: TensorType) -> None:
        most = max(before, after)
        if self.mode == "reflect" and most >= size:
            problem = f"a reflect pad of {most} needs more than {most} values"
        elif self.mode == "circular" and most > size:
            problem = f"a circular pad of {most} needs at least {most} values"
        elif self.mode == "replicate" and size == 0:
            problem = "replicate needs a value to repeat"
        else:
            return
        raise ShapeError(f"pad: dim {axis} of {x}: {problem}", field="pad")

    def emit_call(self, node: str, args: list[str]) -> str:
        amounts = ", ".join(map(str, self.pad))
        extra = "" if self.mode == "constant" else f", mode={code_literal(self.mode)}"
        if self.value is not None:
            extra += f", value={scalar_code(self.value)}"
        return f"F.pad({args[0]}, ({amounts}){extra})"


_FLOATS = ("float32", "float64", "float16", "bfloat16")
