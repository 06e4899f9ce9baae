"""Torch as the oracle for op rules: one op's static rule and its emitted code, side by side.

A `Case` is one op's spec fields plus the input types. `check(case)` runs the static rule exactly
as `infer.py` does (validate, arity, resolve, infer, param_count), emits the op into a one-node
`nn.Module` with the op's own `emit_init`/`emit_call`, runs that module on the `meta` device (and,
when the tensors are small, on the CPU too: meta kernels skip some dtype checks, e.g. a float64
input to a float32 `nn.Linear`), and returns a `Verdict`.

Both directions count: a rule that accepts what torch refuses is a bug, and so is a rule that
refuses what torch accepts, unless the refusal is one graphspec makes on purpose (`POLICIES`).
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

import graphspec
from graphspec.compiler import codegen
from graphspec.compiler.build import load_class
from graphspec.compiler.infer import _check_arity
from graphspec.core.shapes import FLOAT_DTYPES, TensorType
from graphspec.ops import OPS
from graphspec.ops.base import Op, ShapeError

POLICIES = {
    "schema": "field bounds stricter than torch (a size of 0 is refused)",
    "dtype": "float-only ops refuse integer and bool inputs that torch would take",
    "symbolic": "a rule that needs a concrete size refuses a symbol torch would take",
    "given": "a size the user wrote must match the input, even where torch ignores it",
    "batched": "conv, pool, norm and dropout ops take exactly (N, C, *spatial), where torch also "
    "reads one rank less as an unbatched sample (and adaptive pooling any leading dims)",
}
CPU_NUMEL = 1 << 15
"""Run on the CPU too only below this many input elements and parameters: fast and small."""
BINDINGS = ((2, 3, 5), (3, 5, 7), (1, 1, 1))
"""Values for the symbols of a case (sorted by name), one forward pass per row: a rule that
accepts a symbol must hold for every value, a refusal must be borne out by at least one."""


def tt(*shape: int | str, dtype: str = "float32") -> TensorType:
    """A tensor type in one short call: `tt("N", 3, 32, 32)`."""
    return TensorType.of(list(shape), dtype)


@dataclass(frozen=True)
class Case:
    params: dict[str, Any]
    """The op's spec fields, `op` included, as a user writes them."""
    inputs: tuple[TensorType, ...]
    names: tuple[str, ...] = ()
    """forward's argument names (default x0, x1, ...): `expr` refers to its inputs by name."""
    context: dict[str, Any] = field(default_factory=dict)
    """Extra validation context beside `constants` (e.g. `names` for `expr`)."""
    rows: tuple[dict[str, int], ...] | None = None
    """The bindings to run (default: all of BINDINGS); see `_sized_rows`."""

    @property
    def arg_names(self) -> tuple[str, ...]:
        return self.names or tuple(f"x{i}" for i in range(len(self.inputs)))

    def __str__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.params.items() if k != "op")
        ins = ", ".join(f"{t}:{t.dtype}" for t in self.inputs)
        return f"{self.params['op']}({fields}) on {ins}"


@dataclass
class Static:
    outs: tuple[TensorType, ...] = ()
    """The op's results (most ops have one)."""
    params: int | None = None
    state: dict | None = None
    """The op's `state()`: its state_dict entries, name -> (shape, dtype, trainable)."""
    error: str | None = None
    policy: str | None = None
    """Which of POLICIES this refusal falls under, if any."""
    emit: Op | None = None
    """The op whose code torch runs: resolved where resolve succeeded."""


def run_static(case: Case) -> Static:
    cls = OPS[case.params["op"]]
    inputs = list(case.inputs)
    context = {"constants": {}, **case.context}
    try:
        op = cls.model_validate(case.params, context=context)
    except ValidationError as err:
        # Still emit it, unvalidated, so torch says whether it too refuses these fields.
        raw = cls.model_construct(**case.params)
        msg = "; ".join(e["msg"] for e in err.errors())
        return Static(error=f"schema: {msg}", policy="schema", emit=_resolved_or(raw, inputs))
    try:
        _check_arity(op, len(inputs))
        resolved = op.resolve(inputs)
    except ShapeError as err:
        return Static(error=f"{err.code}: {err.message}", policy=_policy(err, case), emit=op)
    try:
        out = resolved.infer(inputs)
        outs = out if isinstance(out, tuple) else (out,)
        return Static(outs, resolved.param_count(), resolved.state(), emit=resolved)
    except ShapeError as err:
        return Static(error=f"{err.code}: {err.message}", policy=_policy(err, case), emit=resolved)


def _resolved_or(op: Op, inputs: list[TensorType]) -> Op:
    try:
        return op.resolve(inputs)
    except (ShapeError, TypeError, AttributeError, ArithmeticError):  # unvalidated fields
        return op


def _policy(err: ShapeError, case: Case) -> str | None:
    if err.code == "E-DTYPE" and any(t.dtype not in FLOAT_DTYPES for t in case.inputs):
        return "dtype"
    if " but the input has " in err.message:  # check_given's wording
        return "given"
    if "takes a batched rank-" in err.message:  # base.expect_batched's wording
        return "batched"
    symbolic = any(not d.is_static for t in case.inputs for d in t.shape)
    if symbolic and ("symbolic" in err.message or "concrete" in err.message):
        return "symbolic"
    return None


class HarnessError(Exception):
    """The emitted code is wrong in a way no torch refusal explains."""


# -- torch side --------------------------------------------------------------------------------

_TEMPLATE = """
class OpModule(nn.Module):
    def __init__(self):
        super().__init__()
{init}
    def forward(self, {args}):
        return {call}
"""
_classes: dict[str, type] = {}


def module_source(op: Op, names: tuple[str, ...]) -> str:
    """The one-node model, written the way codegen writes every node."""
    init = f"        self.node = {op.emit_init()}" if op.kind == "module" else ""
    call = op.emit_call("node", list(names))
    body = _TEMPLATE.format(init=init, args=", ".join(names), call=call)
    return codegen.file_text("op_oracle", body)


@dataclass
class Torch:
    shapes: list[list[tuple[tuple[int, ...], str]]] = field(default_factory=list)
    """Per binding, each result's (shape, dtype)."""
    params: int | None = None
    state: dict | None = None
    error: str | None = None
    unsupported: bool = False
    """torch has no kernel for it here (NotImplementedError): no verdict on the arguments."""


def run_torch(case: Case, op: Op, refused: bool) -> Torch:
    try:
        source = module_source(op, case.arg_names)
    except (KeyError, TypeError, AttributeError) as err:
        raise AssertionError(f"{case}: no code to run ({err!r}); give the inferred fields") from err
    if source not in _classes:
        _classes[source] = load_class(source, "OpModule", "op_oracle")
    cls = _classes[source]
    result = _run_on(cls, case, "meta", op, refused)
    if result.error and "meta tensors" in result.error:
        # Code that reads a value (BatchNorm's momentum=None reads a counter) cannot run on meta.
        assert _small(case, 0), f"{case}: cannot run on meta, and too big for the CPU"
        return _run_on(cls, case, "cpu", op, refused)
    if result.error is None and _small(case, result.params):
        cpu = _run_on(cls, case, "cpu", op, refused)
        if cpu.error is not None or cpu.shapes != result.shapes:
            return cpu
    return result


_REFUSALS = (
    RuntimeError,
    ValueError,
    TypeError,
    IndexError,
    AssertionError,
    OverflowError,
    ZeroDivisionError,
)
"""How torch refuses arguments. Its Python layers refuse some with `assert` (nn.Embedding's
padding_idx, MultiheadAttention's masks), on meta a fill value too big for the dtype is an
OverflowError (masked_fill), and a factor of 0 a ZeroDivisionError (pixel_shuffle's meta
kernel). `_refusal` counts one only when torch raised it for the arguments: not
NotImplementedError (a kernel missing on this device: no verdict on the arguments), and not
an error raised in graphspec's or the harness's own code; the oracle's own checks run outside
the `try` so that a failure of theirs is never mistaken for a refusal."""


def _from_torch(err: Exception) -> bool:
    """An argument refusal by torch, not a missing kernel and not a bug of ours."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return True
    # C++ errors surface at the calling line (often the generated forward, whose module is
    # graphspec.generated.*); Python-level ones must come from torch's own modules. The raising
    # module is judged by its identity, never by a substring of its path: a clone named
    # `graphspec` holds torch inside its .venv.
    return not _is_ours(tb.tb_frame.f_globals.get("__name__", ""), tb.tb_frame.f_code.co_filename)


_PACKAGE_DIR = Path(graphspec.__file__).resolve().parent


def _is_ours(module: str, filename: str) -> bool:
    """Whether a frame runs graphspec's own code or this oracle (generated code is not ours)."""
    if module == __name__ or module.startswith("graphspec.generated."):
        return module == __name__
    if module == "graphspec" or module.startswith("graphspec."):
        return True
    if filename.startswith("<"):
        return False
    return Path(filename).resolve().is_relative_to(_PACKAGE_DIR)


def _run_on(cls: type, case: Case, device: str, op: Op, refused: bool) -> Torch:
    result = Torch()
    try:
        with torch.device(device):
            model = cls()
    except (*_REFUSALS, NotImplementedError) as err:
        return _refusal(err, case, device, refused)
    repr(model)  # print(model) must work for every emitted constructor
    _check_module_type(model, op)
    result.params = sum(p.numel() for p in model.parameters())
    trainable = {name for name, _ in model.named_parameters()}
    result.state = {
        name.removeprefix("node."): (tuple(t.shape), _dtype(t), name in trainable)
        for name, t in model.state_dict().items()
    }
    for sizes in bindings(case):
        xs = [_tensor(t, sizes, device) for t in case.inputs]
        try:
            ys = model(*xs)
        except (*_REFUSALS, NotImplementedError) as err:
            return _refusal(err, case, device, refused)
        ys = ys if isinstance(ys, tuple) else (ys,)
        result.shapes.append([(tuple(y.shape), _dtype(y)) for y in ys])
    return result


def _refusal(err: Exception, case: Case, device: str, refused: bool) -> Torch:
    if isinstance(err, NotImplementedError):
        return Torch(error=f"{device}: no kernel: {str(err)[:160]}", unsupported=True)
    if not _from_torch(err):
        raise HarnessError(f"{case}: not a torch refusal: {type(err).__name__}: {err}") from err
    if refused:
        _check_not_broken(err, case)
    return Torch(error=f"{device}: {type(err).__name__}: {str(err).splitlines()[0][:160]}")


def _dtype(y: torch.Tensor) -> str:
    return str(y.dtype).removeprefix("torch.")


def _tensor(t: TensorType, sizes: dict[str, int], device: str) -> torch.Tensor:
    return torch.zeros(t.bind(sizes), dtype=getattr(torch, t.dtype), device=device)


def _check_module_type(model: torch.nn.Module, op: Op) -> None:
    if op.kind == "module":
        want = op.torch_name.removeprefix("nn.")
        got = type(model.node).__name__
        if got != want:  # not an assert: _run_on takes an AssertionError for torch refusing
            raise HarnessError(f"{op.op} emitted a {got}, not the {want} it names")


def _check_not_broken(err: Exception, case: Case) -> None:
    """A case that leaves a torch argument out tests nothing: say so instead of agreeing."""
    text = str(err)
    if isinstance(err, TypeError) and "missing" in text and "required" in text:
        raise AssertionError(f"{case}: the emitted code lacks an argument: {text}") from err


def bindings(case: Case) -> list[dict[str, int]]:
    if case.rows is not None:
        return list(case.rows)
    symbols = sorted({s for t in case.inputs for d in t.shape for s in d.syms})
    if not symbols:
        return [{}]
    return [dict(zip(symbols, itertools.cycle(row))) for row in BINDINGS]


def _small(case: Case, params: int | None) -> bool:
    rows = bindings(case)
    numel = max((max((_numel(t, b) for t in case.inputs), default=0) for b in rows), default=0)
    return numel <= CPU_NUMEL and (params or 0) <= CPU_NUMEL


def _numel(t: TensorType, sizes: dict[str, int]) -> int:
    n = 1
    for d in t.bind(sizes):
        n *= d
    return n


# -- the verdict -------------------------------------------------------------------------------


@dataclass
class Verdict:
    outcome: str
    """accept (both ran, same result), refuse (both refused), policy:<name>, or mismatch."""
    detail: str = ""


def _sized_rows(case: Case, static: Static) -> Case:
    """A symbolic size formula such as `(H - 2)//2 + 1` is 0 at H = 1: the rule itself says
    that input is too small, as torch does. Compare only the bindings where every size the rule
    gives is at least 1 and every size meets the op's `least_sizes` (the minimums a symbolic
    size is taken to meet); none: the rule predicts torch's refusal at every binding."""
    every = bindings(case)
    if static.error is not None or every == [{}]:
        return case
    least = static.emit.least_sizes(list(case.inputs)) if static.emit is not None else []
    rows = [
        b
        for b in every
        if all(d >= 1 for t in static.outs for d in t.bind(b))
        and all(size.subs(b).value >= floor for size, floor in least)
    ]
    return dataclasses.replace(case, rows=tuple(rows)) if rows != every else case


def check(case: Case) -> Verdict:
    static = run_static(case)
    case = _sized_rows(case, static)
    got = run_torch(case, static.emit, refused=static.error is not None)
    if static.error is None and got.error is None:
        return _compare(case, static, got)
    if got.unsupported:  # not a refusal: only a graphspec policy may explain the static one
        if static.error is not None:
            return Verdict(f"policy:{static.policy}" if static.policy else "unsupported")
        return Verdict("mismatch", f"{case}: static accepted what torch has no kernel for")
    if static.error is not None and got.error is not None:
        return Verdict("refuse")
    if static.error is not None:
        if static.policy:
            return Verdict(f"policy:{static.policy}")
        return Verdict("mismatch", f"{case}: static refused ({static.error}); torch accepted")
    return Verdict(
        "mismatch",
        f"{case}: static gave {', '.join(map(str, static.outs))}; torch refused ({got.error})",
    )


def _compare(case: Case, static: Static, got: Torch) -> Verdict:
    want = [[(t.bind(b), t.dtype) for t in static.outs] for b in bindings(case)]
    if want != got.shapes:
        return Verdict("mismatch", f"{case}: static {want}, torch {got.shapes}")
    if static.params != got.params:
        return Verdict("mismatch", f"{case}: static {static.params} params, torch {got.params}")
    if static.state != got.state:
        return Verdict("mismatch", f"{case}: static state {static.state}, torch {got.state}")
    return Verdict("accept")


def check_all(cases: list[Case]) -> tuple[Counter, list[str]]:
    """Outcome counts and the mismatches, over a whole grid of cases."""
    counts: Counter = Counter()
    mismatches = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: a thread pool costs 100x the work (BatchNorm)
    try:
        with warnings.catch_warnings():
            # torch's advice on valid calls (zero-element init, 'same' with an even kernel)
            warnings.simplefilter("ignore", UserWarning)
            for case in cases:
                verdict = check(case)
                counts[verdict.outcome] += 1
                if verdict.outcome == "mismatch":
                    mismatches.append(verdict.detail)
    finally:
        torch.set_num_threads(threads)
    return counts, mismatches


MIXED_DTYPES = ["float32"] * 3 + ["float16", "bfloat16", "float64", "int64", "int32", "bool"]
"""Input dtypes drawn by the case generators: float32 three times as often as each other one."""
