"""Hints for an `op:` name the registry lacks, by meaning before spelling.

A near-spelling is often another op: `Conv1d` is not `Conv2d`, `mean` is not `expand`, `min` is
not `sin`. So the hint is, in order:
1. the same name in graphspec's spelling (case, `_` and `-` aside): `Conv2D`, `max_pool_2d`;
2. torch's or another framework's synonym, from `ALIASES`: `Swish` is `SiLU`, `reduce_mean` is
   `mean`, `Dense` is `Linear`;
3. for a name of a family in 1, 2 or 3 dims (`ConvTranspose4d`, `batch_norm`), that family;
4. ops whose name is part of the unknown one (`quick_gelu`, `FastGELU`: `GELU`, `gelu`);
5. a typo of one op (`Lineer`, `rellu`), where the spelling is close and no dim digit differs;
6. otherwise where the list of ops is.

Names come from the registry's name list (`graphspec.ops._FAMILY`): no op family is imported.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

ALIASES: dict[str, tuple[tuple[str, ...], str]] = {
    "swish": (("SiLU", "silu"), "torch calls swish SiLU"),
    "hardswish": (("Hardswish", "hardswish"), ""),
    "prelu": (("LeakyReLU", "leaky_relu"), "a fixed negative slope; PReLU's is learned"),
    "reducemean": (("mean",), "torch.mean over dim, with keepdim"),
    "reducesum": (("sum",), "torch.sum over dim, with keepdim"),
    "reducemax": (("amax",), "torch.amax over dim, with keepdim"),
    "reducemin": (("amin",), "torch.amin over dim, with keepdim"),
    "average": (("mean",), ""),
    "avg": (("mean",), ""),
    "max": (
        ("amax", "clamp"),
        "the largest value over a dim is amax; a ceiling is clamp; max(a, b) is an expr",
    ),
    "min": (
        ("amin", "clamp"),
        "the smallest value over a dim is amin; a floor is clamp; min(a, b) is an expr",
    ),
    "maximum": (("expr",), "elementwise: {op: expr, expr: 'max(a, b)'}"),
    "minimum": (("expr",), "elementwise: {op: expr, expr: 'min(a, b)'}"),
    "clip": (("clamp",), "torch.clip is torch.clamp"),
    "abs": (("expr",), "elementwise: {op: expr, expr: 'abs(x)'}"),
    "exp": (("expr",), "elementwise: {op: expr, expr: 'exp(x)'}"),
    "log": (("expr",), "elementwise: {op: expr, expr: 'log(x)'}"),
    "concat": (("cat",), "torch.cat"),
    "concatenate": (("cat",), "torch.cat"),
    "dense": (("Linear",), "a fully connected layer is nn.Linear"),
    "fc": (("Linear",), "a fully connected layer is nn.Linear"),
    "fullyconnected": (("Linear",), "a fully connected layer is nn.Linear"),
    "deconv1d": (("ConvTranspose1d",), "a deconvolution is a transposed convolution"),
    "deconv2d": (("ConvTranspose2d",), "a deconvolution is a transposed convolution"),
    "deconv3d": (("ConvTranspose3d",), "a deconvolution is a transposed convolution"),
    "conv2dtranspose": (("ConvTranspose2d",), ""),
    "conv1dtranspose": (("ConvTranspose1d",), ""),
    "conv3dtranspose": (("ConvTranspose3d",), ""),
    "globalaveragepooling2d": (
        ("AdaptiveAvgPool2d", "mean"),
        "output_size: 1, or mean over [2, 3]",
    ),
    "globalavgpool2d": (("AdaptiveAvgPool2d", "mean"), "output_size: 1, or mean over [2, 3]"),
    "globalmaxpooling2d": (("AdaptiveMaxPool2d", "amax"), "output_size: 1, or amax over [2, 3]"),
    "upsampling2d": (("Upsample", "interpolate"), ""),
    "resize": (("Upsample", "interpolate"), ""),
    "upsamplenearest2d": (("Upsample",), "mode: nearest"),
    "upsamplingbilinear2d": (("Upsample",), "mode: bilinear"),
    "depthtospace": (("PixelShuffle",), ""),
    "batchnormalization": (("BatchNorm1d", "BatchNorm2d", "BatchNorm3d"), ""),
    "layernormalization": (("LayerNorm",), ""),
    "noop": (("Identity",), ""),
    "passthrough": (("Identity",), ""),
    "squeezeexcitation": (("AdaptiveAvgPool2d", "Conv2d", "Sigmoid", "mul"), "build it as a block"),
    "causalmask": (("tril",), "tril of a square of ones"),
    "slice": (("narrow",), "x.narrow(dim, start, length)"),
    "transposeconv2d": (("ConvTranspose2d",), ""),
    "logsigmoid": (("expr",), "elementwise: {op: expr, expr: 'log(sigmoid(x))'}"),
    "stdmean": (("mean",), ""),
    "upsamplebilinear": (("Upsample", "interpolate"), "mode: bilinear"),
    "upsamplenearest": (("Upsample", "interpolate"), "mode: nearest"),
    "lstm": ((), "graphspec has no recurrent layers (LSTM, GRU, RNN); see docs/ops.md"),
    "gru": ((), "graphspec has no recurrent layers (LSTM, GRU, RNN); see docs/ops.md"),
    "rnn": ((), "graphspec has no recurrent layers (LSTM, GRU, RNN); see docs/ops.md"),
}
"""Lower-case, `_`/`-`-free name -> (graphspec's ops for it, a note). Synonyms from torch's
own aliases (torch.clip), other frameworks (Keras' Dense, ONNX's ReduceMean) and common
papers' names (Swish)."""

_DIMS = re.compile(r"^(?P<stem>.*?)_?(?P<n>\d)d$")


def canonical(name: str) -> str:
    return re.sub(r"[_\-\s]", "", name).lower()


def op_hint(tag: str, known: Iterable[str]) -> str:
    """The hint for the unknown op `tag`, given the registry's op names."""
    ops = list(known)
    if "." in tag:
        last = tag.rsplit(".", 1)[-1]
        found = _by_meaning(last, ops)
        named = f": write {_listed(found[0])}" if found else ""
        return (
            "ops are names from graphspec's registry (torch's own names), not import paths" + named
        )
    found = _by_meaning(tag, ops) or _by_spelling(tag, ops)
    if found is None:
        return "see the op table in docs/ops.md, or run `graphspec schema`"
    names, note = found
    if not names:
        return note
    return f"did you mean {_listed(names)}?" + (f" ({note})" if note else "")


def _listed(names: tuple[str, ...]) -> str:
    return " or ".join(f"'{n}'" for n in names)


def _by_meaning(tag: str, ops: list[str]) -> tuple[tuple[str, ...], str] | None:
    key = canonical(tag)
    same = tuple(op for op in ops if canonical(op) == key)
    if same:
        return same, ""
    if key in ALIASES:
        names, note = ALIASES[key]
        return tuple(n for n in names if n in ops), note
    family = _family(key, ops)
    if family:
        return family, "the dims graphspec has for this op"
    # The longest op name inside this one: upsample_bilinear is Upsample, not Linear.
    parts = [op for op in ops if len(op) >= 4 and canonical(op) in key]
    longest = max((len(canonical(op)) for op in parts), default=0)
    related = tuple(op for op in parts if len(canonical(op)) == longest)
    return (related, "a related op") if related else None


def _family(key: str, ops: list[str]) -> tuple[str, ...]:
    """Ops of the same name in another number of dims: Conv4d -> Conv1d, Conv2d, Conv3d."""
    match = _DIMS.match(key)
    stem = match["stem"] if match else key
    return tuple(
        op for op in ops if (m := _DIMS.match(canonical(op))) is not None and m["stem"] == stem
    )


def _by_spelling(tag: str, ops: list[str]) -> tuple[tuple[str, ...], str] | None:
    """Typos only: close in spelling (case aside), and not another op's dims (Conv1d/Conv2d)."""
    digits = re.sub(r"\D", "", tag)

    def ratio(a: str, b: str) -> float:
        return difflib.SequenceMatcher(None, a, b).ratio()

    scored = sorted(
        ((ratio(tag.lower(), op.lower()), ratio(tag, op), op) for op in ops), reverse=True
    )
    close = tuple(
        op for blind, _, op in scored if blind >= 0.8 and re.sub(r"\D", "", op) == digits
    )[:3]
    return (close, "") if close else None
