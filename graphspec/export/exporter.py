"""`graphspec export`'s library side: build the spec's module, export it, read the file back,
check it against the eager module at other sizes than the traced ones, then keep the file.

A refused export leaves nothing behind: the file is written beside the target under a temporary
name and renamed over it only once the check has passed.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from graphspec.compiler.pipeline import Compiled, compile_file
from graphspec.core.errors import Pos, SpecError, fail, warnings_after_success
from graphspec.core.files import check_output, open_regular
from graphspec.export import metadata, samples
from graphspec.export.check import ATOL, RTOL, Agreement, compare, flatten
from graphspec.export.formats import FORMATS, Format, Names

MAX_WEIGHTS_BYTES = 64 << 30
WEIGHTS = "weights.pt"  # what a run folder's final weights are called (training/results.py)
RUN_SPEC = "spec.yaml"


@dataclass
class Request:
    spec: str | None
    format: str = "pt2"
    output: str | None = None
    weights: str | None = None
    """A run folder (its weights.pt) or a state_dict file; None exports fresh random weights."""
    sizes: dict[str, int] = field(default_factory=dict)
    """Symbol sizes to trace at (defaults in samples.py)."""
    check_sizes: dict[str, int] = field(default_factory=dict)
    atol: float = ATOL
    rtol: float = RTOL
    device: str = "cpu"
    seed: int = 0
    overwrite: bool = False
    """Replace an existing output file (never one of a run folder's)."""


@dataclass
class Report:
    path: Path
    format: str
    dynamic: list[str]
    traced: dict[str, int]
    checked: dict[str, int]
    agreement: Agreement
    notes: list[str]
    weights: str
    """Where the weights came from: a file, or 'random (seed 0)'."""


def export(req: Request) -> Report:
    fmt = _format(req.format)
    compiled = compile_file(_spec_path(req))
    target = Path(req.output or f"{compiled.spec.name}{fmt.suffix}")
    if not target.parent.is_dir():
        raise fail("E-IO", f"cannot write '{target}': folder '{target.parent}' does not exist")
    check_output(target, overwrite=req.overwrite)  # before the work: E-IO now, not after it
    if fmt.name == "torchscript":
        _scriptable_names(compiled)
    device = "cpu" if fmt.name == "onnx" else req.device  # onnxruntime runs here on the CPU
    model = _model(compiled, req, device)
    slots = samples.slots(compiled.graph)
    where = compiled.doc.key_pos(("model", "inputs"))
    ladder = samples.SIZE_LADDER  # the defaults first, then smaller ones the model may need
    for rung in ladder:
        names, traced, checked, dynamic, notes = _plan_sizes(slots, req, rung)
        last = rung == ladder[-1]
        example, probe = _inputs_that_run(model, slots, req, traced, checked, device, where, last)
        if example is not None:
            break
    io_names = Names(
        [s.name for s in slots], list(compiled.graph.output_types()), metadata.of_run(req.weights)
    )
    tmp = _temp_beside(target, fmt.suffix)
    try:
        pinned = _save(fmt, model, example, io_names, dynamic, tmp, where, notes)
        if _batch_symbol(slots) in pinned:
            raise fail(
                "E-EXPORT",
                f"torch fixes the batch size while exporting as {fmt.name}: {notes[-1]}",
                where,
                hint="nothing was written; try another --format",
            )
        if pinned:  # torch fixed these sizes: check at the traced value, the batch still varies
            checked.update({sym: traced[sym] for sym in pinned})
            names = [n for n in names if n not in pinned]
            probe = samples.random_inputs(slots, checked, req.seed + 1, device)
        agreement = _check(fmt, tmp, model, probe, io_names, req, checked, device, where)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it 0600: give it a normal file's mode
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    weights = str(_weights_file(Path(req.weights))) if req.weights else f"random (seed {req.seed})"
    return Report(target, fmt.name, names, traced, checked, agreement, notes, weights)


def _inputs_that_run(model, slots, req: Request, traced, checked, device, where, last=False):
    """Random inputs at the trace and check sizes, if the eager module runs on both; else
    (None, None), or on the last try E-EXPORT with the model's own complaint."""
    example = samples.random_inputs(slots, traced, req.seed, device)
    probe = samples.random_inputs(slots, checked, req.seed + 1, device)
    for inputs, sizes in ((example, traced), (probe, checked)):
        try:
            with torch.no_grad():
                model(*inputs)
        except Exception as err:  # noqa: BLE001 (the model refuses these sizes: try others)
            user_chose = all(n in req.sizes and n in req.check_sizes for n in sizes)
            if not (last or user_chose):
                return None, None
            at = ", ".join(f"{k}={v}" for k, v in sizes.items())
            raise fail(
                "E-EXPORT",
                f"the eager module itself fails at {at}: {_first_line(err)}",
                where,
                hint="give sizes it accepts with --size SYM=INT and --check-size SYM=INT",
            ) from None
    return example, probe


def _plan_sizes(slots: list[samples.InputSlot], req: Request, rung=samples.SIZE_LADDER[0]):
    """The dynamic symbols, the sizes to trace and check at, torch's dynamic_shapes, notes."""
    names = samples.symbols(slots)
    batch = _batch_symbol(slots)
    traced = samples.sizes_for(names, batch, req.sizes, check=False, rung=rung)
    checked = samples.sizes_for(names, batch, req.check_sizes, check=True, rung=rung)
    dynamic, notes = samples.dynamic_shapes(slots)
    fixed = set(names) - samples.dynamic_symbols(slots)
    checked.update({name: traced[name] for name in fixed})  # exported at one size: check there
    names = [n for n in names if n not in fixed]
    if names and all(traced[n] == checked[n] for n in names):
        notes.append("checked at the traced sizes: the dynamic sizes were not exercised")
    return names, traced, checked, dynamic, notes


def _batch_symbol(slots: list[samples.InputSlot]) -> str:
    """The first input's first symbol (`N`): the batch size, which must stay dynamic."""
    first = slots[0].shape[:1] if slots else ()
    return first[0].syms[0] if first and len(first[0].syms) == 1 else ""


def _format(name: str) -> Format:
    fmt = FORMATS.get(name)
    if fmt is None:
        raise fail("E-USAGE", f"unknown export format '{name}'", hint=f"use {', '.join(FORMATS)}")
    missing = fmt.missing()
    if missing:
        raise fail(
            "E-EXPORT",
            f"the {name} format needs {', '.join(missing)}, not installed here",
            hint="pip install 'graphspec[export]' (onnx, onnxscript, onnxruntime)",
        )
    return fmt


def _spec_path(req: Request) -> str:
    if req.spec:
        return req.spec
    if req.weights and Path(req.weights, RUN_SPEC).is_file():
        return str(Path(req.weights, RUN_SPEC))  # the run's own spec, as it ran
    if req.weights and not Path(req.weights).exists():
        raise fail("E-IO", f"{req.weights}: no such run folder or file",
                   hint="pass the folder `graphspec run` printed last")  # fmt: skip
    if req.weights and Path(req.weights).is_dir() and Path(req.weights, RUN_SPEC).exists():
        raise fail("E-IO", f"{Path(req.weights, RUN_SPEC)}: is not a regular file (refused)")
    if req.weights and Path(req.weights).is_dir():
        raise fail("E-USAGE", f"{req.weights}: not a run folder (no {RUN_SPEC})",
                   hint="pass a SPEC too, or the folder `graphspec run` printed last")  # fmt: skip
    raise fail("E-USAGE", "export needs a SPEC, or --weights RUN_DIR of a run folder")


def _scriptable_names(compiled: Compiled) -> None:
    """torch.jit.script cannot call a module registered under a name that is no identifier
    (`block1-0`, `0`: the generated code reads it with get_submodule): refused before the work."""
    from graphspec.compiler.codegen import used_blocks
    from graphspec.compiler.pynames import plain

    bodies = [
        compiled.graph,
        *used_blocks(compiled.graph),
    ]  # a group's children are nn.Sequential's
    for path, t in ((f"{b.class_name}.{t.name}", t) for b in bodies for t in b.nodes.values()):
        if not plain(t.name) and t.node.kind != "input":
            raise fail(
                "E-EXPORT",
                f"TorchScript cannot call the module '{path}': its name is no Python identifier",
                t.node.pos,
                hint="export as pt2 or onnx (both trace the module), or rename the node",
            )


def _model(compiled: Compiled, req: Request, device: str) -> torch.nn.Module:
    torch.manual_seed(req.seed)  # random weights (no --weights) are the same every time
    model = compiled.build()
    if req.weights:
        _load_weights(model, Path(req.weights))
    return model.eval().to(device)


def _weights_file(path: Path) -> Path:
    return path / WEIGHTS if path.is_dir() else path


def _load_weights(model: torch.nn.Module, path: Path) -> None:
    file = _weights_file(path)
    if not file.exists():
        hint = f"a run folder holds {WEIGHTS} once its run has finished"
        raise fail("E-CKPT", f"{file}: missing", hint=hint)
    try:
        with (
            open_regular(file, "E-CKPT", MAX_WEIGHTS_BYTES, "a weights file") as f,  # no FIFO
            warnings_after_success(),
        ):
            state = torch.load(f, map_location="cpu", weights_only=True)
    except SpecError:
        raise
    except Exception as err:  # a truncated file, or a pickle that is not plain data  # noqa: BLE001
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        if "weights_only" in str(err) or "Unsupported global" in str(err):
            reason = "it holds Python objects, not plain tensors (refused, never unpickled)"
        raise fail("E-CKPT", f"{file}: not a readable weights file: {reason}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise fail("E-CKPT", f"{file}: not a state_dict (a mapping of names to tensors)")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        rest = " ".join(str(err).split()[len(first.split()) :])[:300]
        raise fail(
            "E-CKPT",
            f"{file}: does not fit this spec's model: {first} {rest}".strip(),
            hint="export with the spec the run was trained from (its run folder's spec.yaml)",
        ) from None


def _temp_beside(target: Path, suffix: str) -> str:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(fd)
    return tmp


def _export_errors() -> tuple[type[BaseException], ...]:
    """What torch raises when the *model* can't be exported as asked (a size the spec calls
    symbolic is fixed by the model, an op the format lacks): the user's to know, exit 2."""
    from torch._dynamo.exc import UserError

    errors: list[type[BaseException]] = [UserError]
    try:
        from torch.onnx.errors import OnnxExporterError, UnsupportedOperatorError

        errors += [OnnxExporterError, UnsupportedOperatorError]
    except ImportError:  # older torch: nothing more to name
        pass
    return tuple(errors)


def _save(
    fmt: Format, model, example, names: Names, dynamic, tmp: str, where: Pos, notes: list[str]
) -> set[str]:
    """Export to `tmp`; return the symbols torch had to fix (empty when every one stayed)."""
    try:
        with torch.no_grad():
            pinned = _save_relaxing(fmt, model, example, names, dynamic, tmp, notes)
    except _export_errors() as err:
        first = _first_line(err)
        raise fail(
            "E-EXPORT",
            f"torch could not export the model as {fmt.name}: {first}",
            where,
            hint="a size the spec names with a symbol may be fixed by the model: give it as "
            "a number; or try another --format",
        ) from None
    silent = {(n, a) for n, a in fmt.static_axes(tmp) if a in dynamic.get(n, {})}
    quiet = {samples.symbol_at(dynamic, n, a) for n, a in silent} - {None} - pinned
    if quiet:
        notes.append(
            f"the {fmt.name} exporter fixed {_axes_text(silent)}: exported at the traced size "
            f"of {', '.join(sorted(quiet))}, checked there"
        )
    return pinned | quiet


def _save_relaxing(fmt, model, example, names, dynamic, tmp, notes) -> set[str]:
    """Named Dims first; where torch says the model constrains an axis, Dim.DYNAMIC (it keeps
    the ranges it derived: a CNN needs W >= 33); where an op still fixes one (CPU max_pool1d
    specialises the length), that axis is exported at its traced size, and said so."""
    try:
        fmt.save(model, example, names, dynamic, tmp)
        return set()
    except _export_errors() as err:
        if "Constraints violated" not in str(err):
            raise
        axes = _violated_axes(err)
    relaxed = samples.relaxed(dynamic)
    try:
        fmt.save(model, example, names, relaxed, tmp)
        notes.append(
            f"the model bounds {_axes_text(axes)} (torch's guards): exported with Dim.DYNAMIC, "
            "keeping the ranges torch derived"
        )
        return set()
    except _export_errors() as err:
        fixed = _violated_axes(err)
        if "Constraints violated" not in str(err) or not fixed:
            raise
    kept = {n: {a: d for a, d in ax.items() if (n, a) not in fixed} for n, ax in relaxed.items()}
    fmt.save(model, example, names, kept, tmp)
    pinned = {samples.symbol_at(dynamic, name, axis) for name, axis in fixed} - {None}
    notes.append(
        f"torch fixes {_axes_text(fixed)} while tracing: exported at the traced size of "
        f"{', '.join(sorted(pinned)) or 'that axis'}, checked there"
    )
    return pinned


_AXIS = re.compile(r"\['(\w+)'\]\.size\(\)\[(\d+)\]")


def _violated_axes(err: BaseException) -> set[tuple[str, int]]:
    """The (input, axis) pairs torch's "Constraints violated (L['x'].size()[2])" names."""
    head = str(err).split("!", 1)[0]
    return {(name, int(axis)) for name, axis in _AXIS.findall(head)}


def _axes_text(axes: set[tuple[str, int]]) -> str:
    return ", ".join(f"input '{n}' axis {a}" for n, a in sorted(axes)) or "the sizes"


def _check(fmt, tmp, model, probe, names: Names, req: Request, sizes, device, where) -> Agreement:
    at = ", ".join(f"{k}={v}" for k, v in sizes.items()) or "the fixed sizes"
    with torch.no_grad():
        want = flatten(model(*probe))
        try:
            got = flatten(fmt.load(tmp, device)(*probe))
        except Exception as err:  # the exported file refuses inputs the eager module takes  # noqa: BLE001
            raise fail(
                "E-EXPORT",
                f"the exported {fmt.name} model does not run at {at}: {_first_line(err)}",
                where,
                hint="the export fixed a size the spec calls symbolic",
            ) from None
    agreement = compare(got, want, names.outputs, req.atol, req.rtol)
    if not agreement.ok:
        raise fail(
            "E-EXPORT",
            f"the exported {fmt.name} model disagrees with the eager module at {at}: largest "
            f"difference {agreement.worst:.3g} in {agreement.where} (allowed {req.atol:g} + "
            f"{req.rtol:g}*|eager|)",
            where,
            hint="nothing was written; --atol/--rtol loosen the check if the difference is "
            "rounding",
        )
    return agreement


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines() or [type(err).__name__])[0][:300]
