"""Random compositions of documented ops, each with an independent torch reference.

`draw(rng)` writes a random spec (chains and DAGs of ops, blocks with arguments, groups,
symbolic inputs) and, beside it, a reference: the same graph as plain torch calls written here
from torch's documentation, never from graphspec's code generator. The generator keeps a node
only when the reference runs it at the base sizes, so most specs are ones torch accepts.

`judge(case)` compiles the spec and holds the verdict to torch:

- accepted: at every size binding (1 included), the built module's output shapes and dtypes are
  the static ones, its parameter count the static count, its eval outputs equal the reference's
  out-of-place evaluation with the same weights, the caller's inputs are unchanged, and a
  training step (forward and backward, dropout active) runs;
- refused with a SpecError: whether torch would have run it. The reference, with the spec's
  in-place flags honoured, runs forward and backward at every binding, leaves the inputs alone
  and equals the out-of-place evaluation: then the refusal is false.

It returns one of "ok", "refused" (a refusal torch agrees with), "false-refusal", "wrong",
"failed" (accepted, then torch failed), "internal" (anything else that escaped the compiler),
with a detail line.
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

Ref = Callable[[list[torch.Tensor], "Weights", bool, bool], torch.Tensor]
"""(inputs, weights, training, honour in-place flags) -> result."""

BASE = {"N": 2, "H": 7, "W": 6, "L": 3}
BINDINGS = [BASE, {"N": 1, "H": 9, "W": 8, "L": 1}, {"N": 3, "H": 8, "W": 7, "L": 2}]
"""Sizes every accepted spec runs at: 1 included for N and L; spatial sizes at least the base
ones, where every window that fits the base fits (graphspec takes a symbolic size as large
enough for a kernel, as documented)."""


class Weights(dict):
    """Parameters and buffers by state_dict key, made on first use when not given; `sizes`:
    the binding of the spec's symbols the reference runs at (`view: [N, -1]` reads N)."""

    sizes: dict[str, int] = BASE

    def get_or_make(self, key: str, shape: tuple[int, ...], fill: float | None = None):
        if key not in self:
            value = torch.full(shape, fill) if fill is not None else torch.randn(shape) * 0.3
            self[key] = value.requires_grad_(fill is None or key.endswith(("weight", "bias")))
        return self[key]


@dataclass
class Case:
    inputs: dict[str, list]
    lines: list[str] = field(default_factory=list)
    refs: list[tuple[str, list[str], Ref]] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    blocks: set[str] = field(default_factory=set)

    def text(self) -> str:
        out = ["name: composed"]
        if self.blocks:
            out.append("blocks:")
            out += [BLOCKS[b][0] for b in sorted(self.blocks)]
        out.append("model:")
        out.append("  inputs: {" + ", ".join(f"{k}: {v}" for k, v in self.inputs.items()) + "}")
        out.append("  layers:")
        out += [f"    {line}" for line in self.lines]
        out.append(f"  outputs: [{', '.join(self.outputs)}]")
        return "\n".join(out) + "\n"

    def tensors(self, sizes: dict[str, int], seed: int) -> list[torch.Tensor]:
        gen = torch.Generator().manual_seed(seed)
        return [
            torch.randn([sizes[d] if isinstance(d, str) else d for d in dims], generator=gen)
            for dims in self.inputs.values()
        ]

    def evaluate(self, xs: list[torch.Tensor], w: Weights, training: bool, inplace: bool):
        """The outputs. With in-place flags honoured, a read of a value that an in-place op
        changed after it was made (through any view of it: they share a version counter)
        raises `Clobbered`: torch then computes something else than the spec's graph."""
        values = dict(zip(self.inputs, xs, strict=True))
        made = {name: x._version for name, x in values.items()}
        for name, ins, ref in self.refs:
            for i in ins:
                if values[i]._version != made[i]:
                    raise Clobbered(f"'{name}' reads '{i}' after an in-place change")
            values[name] = ref([values[i] for i in ins], w, training, inplace)
            made[name] = values[name]._version
        for name in [*self.outputs, *self.inputs]:
            if values[name]._version != made[name]:
                raise Clobbered(f"'{name}' changed in place after it was made")
        return [values[o] for o in self.outputs]


class Clobbered(Exception):
    """An in-place op changed a value that another node, the caller or an output sees."""


# -- blocks: (declaration, reference given the call's key prefix and arguments) ----------------


def _dense_ref(prefix: str, w: int, act: bool) -> Ref:
    def ref(xs, wt, training, inplace):
        x = xs[0]
        y = F.linear(x, wt.get_or_make(f"{prefix}l.weight", (w, x.shape[-1])),
                     wt.get_or_make(f"{prefix}l.bias", (w,)))  # fmt: skip
        return F.relu(y, inplace=act and inplace)

    return ref


def _convbn_ref(prefix: str, c: int, stride: int) -> Ref:
    def ref(xs, wt, training, inplace):
        x = xs[0]
        y = F.conv2d(x, wt.get_or_make(f"{prefix}conv.weight", (c, x.shape[1], 3, 3)),
                     stride=stride, padding=1)  # fmt: skip
        y = _batch_norm(y, wt, f"{prefix}bn.", training)
        return F.relu(y, inplace=inplace)

    return ref


BLOCKS = {
    "Dense": (
        "  Dense:\n    args: {w: 4, act: false}\n    inputs: {x: [N, F]}\n    layers:\n"
        "      l: {op: Linear, out_features: w}\n      r: {op: ReLU, inplace: act}",
        _dense_ref,
    ),
    "ConvBN": (
        "  ConvBN:\n    args: {c: 4, stride: 1}\n    inputs: {x: [N, C, H, W]}\n    layers:\n"
        "      conv: {op: Conv2d, out_channels: c, kernel_size: 3, padding: 1, stride: stride,"
        " bias: false}\n      bn: BatchNorm2d\n      act: {op: ReLU, inplace: true}",
        _convbn_ref,
    ),
}


def _batch_norm(x: torch.Tensor, wt: Weights, prefix: str, training: bool) -> torch.Tensor:
    c = x.shape[1]
    mean = wt.get_or_make(f"{prefix}running_mean", (c,), 0.0)
    var = wt.get_or_make(f"{prefix}running_var", (c,), 1.0)
    wt.get_or_make(f"{prefix}num_batches_tracked", (), 0.0)
    return F.batch_norm(
        x, mean.detach().clone(), var.detach().clone(),
        wt.get_or_make(f"{prefix}weight", (c,), None), wt.get_or_make(f"{prefix}bias", (c,)),
        training=training,
    )  # fmt: skip


# -- ops: each returns (spec line after the name, reference), or None when it does not apply --


def _unary(rng: random.Random, name: str, a: str, shape: tuple) -> tuple[str, Ref] | None:
    flag = rng.random() < 0.4
    fl = str(flag).lower()
    rank = len(shape)
    choices: list[tuple[str, Ref]] = [
        ("relu", lambda x, w, t, i: F.relu(x[0])),
        ("tanh", lambda x, w, t, i: torch.tanh(x[0])),
        ("sigmoid", lambda x, w, t, i: torch.sigmoid(x[0])),
        ("{op: GELU}", lambda x, w, t, i: F.gelu(x[0])),
        (f"{{op: ReLU, inplace: {fl}}}", lambda x, w, t, i: F.relu(x[0], inplace=flag and i)),
        (f"{{op: SiLU, inplace: {fl}}}", lambda x, w, t, i: F.silu(x[0], inplace=flag and i)),
        (f"{{op: LeakyReLU, negative_slope: 0.1, inplace: {fl}}}",
         lambda x, w, t, i: F.leaky_relu(x[0], 0.1, inplace=flag and i)),
        (f"{{op: Hardtanh, inplace: {fl}}}",
         lambda x, w, t, i: F.hardtanh(x[0], inplace=flag and i)),
        (f"{{op: Dropout, p: 0.5, inplace: {fl}}}",
         lambda x, w, t, i: F.dropout(x[0], 0.5, training=t, inplace=flag and i)),
        ("{op: dropout, p: 0.25}", lambda x, w, t, i: F.dropout(x[0], 0.25, training=t)),
        ("{op: softmax, dim: -1}", lambda x, w, t, i: F.softmax(x[0], -1)),
        ("{op: contiguous}", lambda x, w, t, i: x[0].contiguous()),
        (f'{{op: expr, expr: "exp({a}) * 0.5"}}', lambda x, w, t, i: torch.exp(x[0]) * 0.5),
        (f'{{op: expr, expr: "exp({a})"}}', lambda x, w, t, i: torch.exp(x[0])),
        (f'{{op: expr, expr: "{a} // 2 + 1"}}', lambda x, w, t, i: x[0] // 2 + 1),
        (f'{{op: expr, expr: "tanh({a}) * {a} - 0.5"}}',
         lambda x, w, t, i: torch.tanh(x[0]) * x[0] - 0.5),
        ("{op: sqrt}", lambda x, w, t, i: torch.sqrt(x[0])),
    ]  # fmt: skip
    if rank >= 1:
        d = rng.randrange(rank)
        keep = rng.random() < 0.5
        shift = rng.choice([-2, -1, 1, 3])
        before, after = rng.choice([(0, 1), (2, 0), (1, 1), (-1, 2)])
        k = str(keep).lower()
        choices += [
            (f"{{op: sum, dim: {d}, keepdim: {k}}}",
             lambda x, w, t, i: x[0].sum(d, keepdim=keep)),
            (f"{{op: mean, dim: {d}, keepdim: {k}}}",
             lambda x, w, t, i: x[0].mean(d, keepdim=keep)),
            (f"{{op: amax, dim: {d}, keepdim: {k}}}",
             lambda x, w, t, i: x[0].amax(d, keepdim=keep)),
            (f"{{op: unsqueeze, dim: {d}}}", lambda x, w, t, i: x[0].unsqueeze(d)),
            (f"{{op: narrow, dim: {d}, start: 0, length: 1}}",
             lambda x, w, t, i: x[0].narrow(d, 0, 1)),
            (f"{{op: roll, shifts: {shift}, dims: {d}}}",
             lambda x, w, t, i: torch.roll(x[0], shift, d)),
            (f"{{op: pad, pad: [{before}, {after}]}}",
             lambda x, w, t, i: F.pad(x[0], (before, after))),
        ]  # fmt: skip
    if rank in (3, 4):  # torch's non-constant modes pad a batch's trailing dims
        amounts = [rng.choice([0, 1, 2]) for _ in range(2 * (rank - 2))]
        mode = rng.choice(["replicate", "circular"])
        choices.append((f"{{op: pad, pad: {amounts}, mode: {mode}}}",
                        lambda x, w, t, i: F.pad(x[0], tuple(amounts), mode=mode)))  # fmt: skip
    if rank >= 2:
        d0, d1 = rng.sample(range(rank), 2)
        out = rng.choice([3, 4, 8])
        bias = rng.random() < 0.7
        choices += [
            (f"{{op: transpose, dim0: {d0}, dim1: {d1}}}",
             lambda x, w, t, i: x[0].transpose(d0, d1)),
            (f"{{op: Linear, out_features: {out}, bias: {str(bias).lower()}}}",
             lambda x, w, t, i: F.linear(
                 x[0], w.get_or_make(f"{name}.weight", (out, x[0].shape[-1])),
                 w.get_or_make(f"{name}.bias", (out,)) if bias else None)),
            ("{op: LayerNorm}", lambda x, w, t, i: F.layer_norm(
                x[0], x[0].shape[-1:], w.get_or_make(f"{name}.weight", x[0].shape[-1:], 1.0),
                w.get_or_make(f"{name}.bias", x[0].shape[-1:], 0.0))),
            ("{op: view, size: [N, -1]}", lambda x, w, t, i: x[0].view(w.sizes["N"], -1)),
            ("{op: reshape, size: [-1]}", lambda x, w, t, i: x[0].reshape(-1)),
            ("{op: LogSoftmax, dim: 1}", lambda x, w, t, i: F.log_softmax(x[0], 1)),
        ]  # fmt: skip
    if rank == 2:
        width = rng.choice([3, 5])
        act = rng.random() < 0.5
        copies = rng.choice([1, 1, 2])
        call = f"{{block: Dense, args: {{w: {width}, act: {str(act).lower()}}}"
        call += f", repeat: {copies}}}" if copies > 1 else "}"

        def dense(x, w, t, i, copies=copies, width=width, act=act):
            y = x[0]
            for k in range(copies):
                prefix = f"{name}.{k}." if copies > 1 else f"{name}."
                y = _dense_ref(prefix, width, act)([y], w, t, i)
            return y

        choices += [
            (call, dense),
            ("{op: BatchNorm1d}", lambda x, w, t, i: _batch_norm(x[0], w, f"{name}.", t)),
            (f"{{group: [{{op: Linear, out_features: {width}}}, Tanh]}}",
             lambda x, w, t, i: torch.tanh(F.linear(
                 x[0], w.get_or_make(f"{name}.0.weight", (width, x[0].shape[-1])),
                 w.get_or_make(f"{name}.0.bias", (width,))))),
        ]  # fmt: skip
    if rank >= 3:
        choices.append(("{op: flatten, start_dim: 1}", lambda x, w, t, i: x[0].flatten(1)))
    if rank == 4:
        c = rng.choice([4, 6])
        k, pad, stride = rng.choice([(1, 0, 1), (3, 1, 1), (3, 0, 1), (3, 1, 2)])
        pk, ps, ceil = rng.choice([(2, 2, False), (2, 1, False), (3, 2, True), (2, 3, True)])
        cm = str(ceil).lower()
        out_hw = rng.choice([1, 2])
        choices += [
            (f"{{op: Conv2d, out_channels: {c}, kernel_size: {k}, padding: {pad}, "
             f"stride: {stride}}}",
             lambda x, w, t, i: F.conv2d(
                 x[0], w.get_or_make(f"{name}.weight", (c, x[0].shape[1], k, k)),
                 w.get_or_make(f"{name}.bias", (c,)), stride=stride, padding=pad)),
            (f"{{op: MaxPool2d, kernel_size: {pk}, stride: {ps}, ceil_mode: {cm}}}",
             lambda x, w, t, i: F.max_pool2d(x[0], pk, ps, ceil_mode=ceil)),
            (f"{{op: AvgPool2d, kernel_size: {pk}, stride: {ps}, ceil_mode: {cm}}}",
             lambda x, w, t, i: F.avg_pool2d(x[0], pk, ps, ceil_mode=ceil)),
            (f"{{op: AdaptiveAvgPool2d, output_size: {out_hw}}}",
             lambda x, w, t, i: F.adaptive_avg_pool2d(x[0], out_hw)),
            ("{op: BatchNorm2d}", lambda x, w, t, i: _batch_norm(x[0], w, f"{name}.", t)),
            ("{op: interpolate, scale_factor: 2}",
             lambda x, w, t, i: F.interpolate(x[0], scale_factor=2)),
            (f"{{block: ConvBN, args: {{c: {c}, stride: {stride}}}}}",
             lambda x, w, t, i: _convbn_ref(f"{name}.", c, stride)(x, w, t, i)),
        ]  # fmt: skip
    return rng.choice(choices)


def _binary(rng: random.Random, a: str, b: str) -> tuple[str, Ref]:
    d = rng.randrange(4)
    return rng.choice(
        [
            (f"{{op: add, in: [{a}, {b}]}}", lambda x, w, t, i: x[0] + x[1]),
            (f"{{op: mul, in: [{a}, {b}]}}", lambda x, w, t, i: x[0] * x[1]),
            (f"{{op: sub, in: [{a}, {b}]}}", lambda x, w, t, i: x[0] - x[1]),
            (
                f'{{op: expr, expr: "{a} * sigmoid({b}) + 0.5 * {a}"}}',
                lambda x, w, t, i: x[0] * torch.sigmoid(x[1]) + 0.5 * x[0],
            ),
            (f"{{op: cat, dim: {d}, in: [{a}, {b}]}}", lambda x, w, t, i: torch.cat(x, d)),
            (f"{{op: matmul, in: [{a}, {b}]}}", lambda x, w, t, i: x[0] @ x[1]),
        ]  # fmt: skip
    )


INPUTS = [
    {"x": ["N", 3, "H", "W"]},
    {"x": ["N", "L", 8]},
    {"x": ["N", 12]},
    {"x": ["N", "L", 8], "y": ["N", "L", 8]},
    {"x": ["N", 4, "H", 16], "y": ["N", 4, "W", 16]},
]


def draw(rng: random.Random, max_nodes: int = 8) -> Case:
    """A random spec whose every node torch runs at the base sizes (out of place)."""
    case = Case(dict(rng.choice(INPUTS)))
    values = dict(zip(case.inputs, case.tensors(BASE, 0), strict=True))
    w = Weights()
    target = rng.randint(1, max_nodes)
    for _ in range(target * 6):
        if len(case.refs) >= target:
            break
        name = f"n{len(case.refs)}"
        names = list(values)
        a = names[-1] if rng.random() < 0.5 else rng.choice(names)
        if rng.random() < 0.3 and len(names) > 1:
            b = rng.choice(names)
            line, ref = _binary(rng, a, b)
            ins = [a, b]
            if "expr" in line:
                ins = sorted({a, b})
                line_ins = [a, b]
                ref = _expr_order(ref, line_ins, ins)
        else:
            line, ref = _unary(rng, name, a, tuple(values[a].shape))
            ins = [a]
            if "expr" not in line:
                line = (
                    line[:-1] + f", in: {a}}}"
                    if line.startswith("{")
                    else f"{{op: {line}, in: {a}}}"
                )
        try:
            with torch.no_grad():
                out = ref([values[i] for i in ins], w, False, False)
        except Exception:  # noqa: BLE001 - torch refused this choice: draw another
            continue
        if not out.is_floating_point() or out.numel() > 50_000:
            continue
        values[name] = out
        case.lines.append(f"{name}: {line}")
        case.refs.append((name, ins, ref))
        case.blocks |= {b for b in BLOCKS if f"block: {b}" in line}
    read = {i for _, ins, _ in case.refs for i in ins}
    case.outputs = [n for n, _, _ in case.refs if n not in read] or list(case.inputs)[:1]
    for extra in case.inputs:  # an input nothing reads is refused (E-UNUSED): read it
        if extra not in read and case.refs:
            case.lines.append(f"u_{extra}: {{op: sum, in: {extra}}}")
            case.refs.append((f"u_{extra}", [extra], lambda x, w, t, i: x[0].sum()))
            case.outputs.append(f"u_{extra}")
    return case


def _expr_order(ref: Ref, written: list[str], graph_order: list[str]) -> Ref:
    """An expr's inputs come in sorted-name order; the reference takes them as written."""

    def reordered(xs, w, t, i):
        by = dict(zip(graph_order, xs, strict=True))
        return ref([by[n] for n in written], w, t, i)

    return reordered


# -- the verdict ---------------------------------------------------------------------------------


def judge(case: Case, seed: int = 0) -> tuple[str, str]:
    from graphspec.compiler.pipeline import compile_text
    from graphspec.core.errors import SpecError

    text = case.text()
    try:
        compiled = compile_text(text, "composed.yaml")
        model = compiled.build()
    except SpecError as err:
        why = "; ".join(f"{p.code} {p.message}" for p in err.problems)
        torch_runs = _torch_runs(case, seed)
        return ("false-refusal", why) if torch_runs else ("refused", why)
    except Exception:  # noqa: BLE001 - anything else escaped the compiler
        return "internal", traceback.format_exc().strip().splitlines()[-1]
    try:
        return _accepted(case, compiled, model, seed)
    except Exception:  # noqa: BLE001 - torch refused what validate accepted
        return "failed", traceback.format_exc().strip().splitlines()[-1]


def _accepted(case: Case, compiled, model, seed: int) -> tuple[str, str]:
    from graphspec.compiler.summary import check_sizes
    from graphspec.core.errors import SpecError

    static = [compiled.graph.ref_type(ref) for ref in compiled.graph.graph.outputs]
    count = sum(p.numel() for p in model.parameters())
    if count != compiled.graph.total_params:
        return "wrong", f"{count} parameters, static {compiled.graph.total_params}"
    state = model.state_dict()
    for sizes in BINDINGS:
        try:
            check_sizes(compiled.graph, sizes)
        except SpecError:
            continue  # the static rule itself says these sizes are too small, as torch does
        xs = case.tensors(sizes, seed)
        held = [x.clone() for x in xs]
        model.eval()
        with torch.no_grad():
            outs = model(*xs)
        outs = list(outs) if isinstance(outs, tuple) else [outs]
        got = [(tuple(o.shape), str(o.dtype).removeprefix("torch.")) for o in outs]
        want = [(t.bind(sizes), t.dtype) for t in static]
        if got != want:
            return "wrong", f"at {sizes}: {got} != static {want}"
        if any(not torch.equal(x, h) for x, h in zip(xs, held, strict=True)):
            return "wrong", f"at {sizes}: the module changed its input"
        w = Weights({k: v.detach().clone() for k, v in state.items()})
        w.sizes = sizes
        with torch.no_grad():
            refs = case.evaluate(held, w, False, False)
        for o, r in zip(outs, refs, strict=True):
            if not torch.allclose(o, r, rtol=1e-4, atol=1e-5, equal_nan=True):
                return "wrong", f"at {sizes}: max difference {(o - r).abs().max().item():.3g}"
        if sizes["N"] == 1 and "BatchNorm" in case.text():
            continue  # torch refuses to train a batch norm on one value per channel
        model.train()
        torch.manual_seed(seed)
        outs = model(*[x.clone() for x in held])
        outs = list(outs) if isinstance(outs, tuple) else [outs]
        loss = sum(o.float().sum() for o in outs if o.requires_grad)
        if isinstance(loss, torch.Tensor):
            loss.backward()
    return "ok", ""


def _torch_runs(case: Case, seed: int) -> bool:
    """Whether torch runs the spec as written (in-place flags honoured) at every binding, with
    the out-of-place result, the caller's inputs untouched, and a backward that works."""
    w = Weights()
    try:
        for sizes in BINDINGS:
            w.sizes = sizes
            xs = case.tensors(sizes, seed)
            held = [x.clone() for x in xs]
            with torch.no_grad():
                got = case.evaluate(xs, w, False, True)
                want = case.evaluate(held, w, False, False)
            if any(not torch.equal(x, h) for x, h in zip(xs, held, strict=True)):
                return False
            if any(
                not torch.allclose(g, r, equal_nan=True) for g, r in zip(got, want, strict=True)
            ):
                return False
            if sizes["N"] == 1 and "BatchNorm" in case.text():
                continue  # as above: not a verdict on the spec
            outs = case.evaluate([x.clone() for x in held], w, True, True)
            loss = sum(o.float().sum() for o in outs if o.requires_grad)
            if isinstance(loss, torch.Tensor):
                loss.backward()
    except Exception:  # noqa: BLE001 - torch refuses it too
        return False
    return True
