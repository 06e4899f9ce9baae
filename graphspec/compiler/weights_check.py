"""The `weights:` section against the model, before anything trains: which keys of the file
load into which entries of the state_dict the compiler knows (compiler/state.py), and which are
missing, unexpected, or of another shape or dtype.

`validate` checks a safetensors file without torch: its header is 8 bytes of little-endian
length and then JSON naming every tensor's dtype, shape and offsets. A `sha256:` pin is checked
first, by streaming the file through hashlib, so nothing is read from a file that fails it.
`run` checks every other form the same way (training/weights.py), with `match` and `problems`
from here, before the run folder is made.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from math import prod
from typing import Any

from graphspec.compiler.state import Entry, state_table
from graphspec.core.errors import Pos, Problem, SpecError, fail
from graphspec.language.weights import matches, rename

MAX_HEADER = 100 << 20
"""safetensors' own cap on the JSON header."""
MAX_LISTED = 12
"""Keys named one per line before the rest are counted in one line."""
SAFETENSORS_DTYPES = {
    "F64": ("float64", 8), "F32": ("float32", 4), "F16": ("float16", 2),
    "BF16": ("bfloat16", 2), "I64": ("int64", 8), "I32": ("int32", 4), "I16": ("int16", 2),
    "I8": ("int8", 1), "U8": ("uint8", 1), "BOOL": ("bool", 1),
}  # fmt: skip

FileKeys = dict[str, tuple[tuple[int, ...], str]]
"""A weights file's tensors: key -> (shape, dtype as torch names it without `torch.`)."""


class WeightsFileError(Exception):
    """A weights file that cannot be read as one (the message names the reason)."""


def check(compiled: Any) -> None:
    """`validate`'s check of the weights: sha256 of a local file, then a safetensors file's
    header against the model. Other forms are checked by `run`."""
    weights = compiled.spec.weights
    if weights is None or weights.torchvision_name() is not None:
        return
    doc = compiled.doc
    path = weights.from_
    if os.path.isdir(path):
        return  # a run folder: its weights.pt is read by `run`
    check_file(path, weights.sha256, doc.pos(("weights", "from")), doc.pos(("weights", "sha256")))
    if not path.endswith(".safetensors"):
        return
    try:
        keys = read_safetensors_header(path)
    except WeightsFileError as err:
        raise fail("E-WEIGHTS", f"{path}: {err}", doc.pos(("weights", "from"))) from None
    table = state_table(compiled.graph, compiled.spec.train.dtype)
    found = problems(match(keys, table, weights), table, weights, path, doc)
    if found:
        raise SpecError(found)


def check_file(path: str, sha256: str | None, where: Pos, sha_pos: Pos) -> str:
    """The file is there, regular, readable, and its sha256 is the pinned one (when pinned);
    returns its sha256. E-WEIGHTS naming the path otherwise."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise fail("E-WEIGHTS", f"weights file '{path}' does not exist", where,
                   hint="the path is relative to the working folder") from None  # fmt: skip
    except OSError as err:
        raise fail(
            "E-WEIGHTS", f"cannot read weights file '{path}': {err.strerror}", where
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise fail("E-WEIGHTS", f"weights file '{path}' is not a regular file", where)
    try:
        digest = sha256_of(path)
    except OSError as err:
        raise fail(
            "E-WEIGHTS", f"cannot read weights file '{path}': {err.strerror}", where
        ) from None
    if sha256 is not None and digest != sha256:
        raise fail(
            "E-WEIGHTS",
            f"weights file '{path}' has sha256 {digest}, not the pinned {sha256}",
            sha_pos,
            hint="a different or damaged file: nothing was loaded from it",
        )
    return digest


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def read_safetensors_header(path: str) -> FileKeys:
    """Each tensor's shape and dtype from a safetensors header, checked against the file's
    size; WeightsFileError when it is not one."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise WeightsFileError("not a safetensors file (shorter than its 8-byte header size)")
        n = int.from_bytes(head, "little")
        if n > MAX_HEADER or n > size - 8:
            raise WeightsFileError(f"not a safetensors file (a header of {n} bytes)")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WeightsFileError("not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise WeightsFileError("not a safetensors file (its header is not a JSON object)")
    data = size - 8 - n
    return {k: _tensor(k, v, data) for k, v in header.items() if k != "__metadata__"}


def _tensor(key: str, info: Any, data: int) -> tuple[tuple[int, ...], str]:
    bad = WeightsFileError(f"tensor '{key}': a malformed header entry")
    if not isinstance(info, dict) or info.get("dtype") not in SAFETENSORS_DTYPES:
        raise bad
    shape, offsets = info.get("shape"), info.get("data_offsets")
    if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
        raise bad
    if not (
        isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
    ):
        raise bad
    dtype, width = SAFETENSORS_DTYPES[info["dtype"]]
    begin, end = offsets
    if not 0 <= begin <= end <= data or end - begin != prod(shape) * width:
        raise WeightsFileError(f"tensor '{key}': its data lies outside the file (truncated?)")
    return tuple(shape), dtype


@dataclass
class Match:
    """How a file's keys meet the model's state_dict."""

    loaded: dict[str, str] = field(default_factory=dict)
    """model key -> the file's key it is loaded from."""
    renamed: dict[str, str] = field(default_factory=dict)
    """file key -> its name after `rename:` (only those that changed)."""
    ignored: list[str] = field(default_factory=list)
    """The file's keys left out by `ignore:` (after renaming)."""
    kept: list[str] = field(default_factory=list)
    """The model's keys that `ignore:` leaves as initialised."""
    missing: list[str] = field(default_factory=list)
    """The model's keys no file key reaches."""
    unexpected: list[str] = field(default_factory=list)
    """The file's keys (renamed) that name nothing in the model."""
    mismatched: list[tuple[str, tuple[tuple[int, ...], str]]] = field(default_factory=list)
    """(model key, the file's (shape, dtype)) where they differ."""

    def record(self) -> dict[str, Any]:
        """What the run folder keeps (weights.json)."""
        return {
            "loaded": list(self.loaded),
            "renamed": self.renamed,
            "ignored": self.ignored,
            "kept_initial": self.kept,
            "missing": self.missing,
            "unexpected": self.unexpected,
        }


def match(keys: FileKeys, table: dict[str, Entry], weights: Any) -> Match:
    m = Match()
    by_name: dict[str, str] = {}
    for key in keys:
        new = rename(key, weights.rename)
        if new != key:
            m.renamed[key] = new
        if matches(new, weights.ignore):
            m.ignored.append(new)
        else:
            by_name[new] = key
    for name, entry in table.items():
        if matches(name, weights.ignore):
            m.kept.append(name)
        elif name not in by_name:
            m.missing.append(name)
        elif not _fits(keys[by_name[name]], entry):
            m.mismatched.append((name, keys[by_name[name]]))
        else:
            m.loaded[name] = by_name[name]
    m.unexpected = [name for name in by_name if name not in table]
    return m


def _fits(have: tuple[tuple[int, ...], str], entry: Entry) -> bool:
    """Same shape, and a dtype load_state_dict copies without changing its kind (float
    widths convert as torch converts them; an integer never becomes a float, or back)."""
    shape, dtype = have
    return tuple(shape) == tuple(entry.shape) and _kind(dtype) == _kind(entry.dtype)


def _kind(dtype: str) -> str:
    return "float" if "float" in dtype else "bool" if dtype == "bool" else "int"


def problems(m: Match, table: dict[str, Entry], weights: Any, file: str, doc: Any) -> list[Problem]:
    """E-WEIGHTS at `weights.from` for each key that does not fit (missing and unexpected only
    when `strict`), each naming the node, with a hint: `ignore:` or `rename:`."""
    where = doc.pos(("weights", "from"))
    out = []
    for name, (shape, dtype) in m.mismatched:
        e = table[name]
        out.append(Problem(
            "E-WEIGHTS",
            f"'{name}' is {_shown(e.shape, e.dtype)} in the model ({_at(e)}), "
            f"{_shown(shape, dtype)} in {file}",
            where, e.node, hint=f"a new layer keeps its initial weights with ignore: "
            f"[\"{e.node}.*\"]",
        ))  # fmt: skip
    if weights.strict:
        prefix = _rename_hint(m)
        for name in m.missing[:MAX_LISTED]:
            e = table[name]
            hint = prefix or f'to keep its initial value: ignore: ["{e.node}.*"]'
            out.append(Problem("E-WEIGHTS", f"'{name}' of the model ({_at(e)}) is not in {file}",
                               where, e.node, hint=hint))  # fmt: skip
        for name in m.unexpected[:MAX_LISTED]:
            hint = prefix or "leave it out with ignore:, or strict: false"
            out.append(Problem("E-WEIGHTS", f"'{name}' of {file} names nothing in the model",
                               where, hint=hint))  # fmt: skip
        more = max(0, len(m.missing) - MAX_LISTED) + max(0, len(m.unexpected) - MAX_LISTED)
        if more:
            out.append(Problem("E-WEIGHTS", f"and {more} more keys that do not fit", where))
    return out


def _shown(shape: tuple[int, ...], dtype: str) -> str:
    return "(" + ", ".join(map(str, shape)) + ")" + ("" if dtype == "float32" else f" {dtype}")


def _at(e: Entry) -> str:
    return f"node '{e.node}', {os.path.basename(e.pos.file)}:{e.pos.line}"


def _rename_hint(m: Match) -> str | None:
    """When the missing keys are the unexpected ones with a prefix added or taken off, the
    `rename:` rule that maps them."""
    for name in m.missing:
        for key in m.unexpected:
            if key.endswith("." + name):
                drop = key[: -len(name)]
                return f'the file\'s keys carry a prefix: rename: {{"^{re.escape(drop)}": ""}}'
            if name.endswith("." + key):
                add = name[: -len(key)]
                return f'the model\'s keys carry a prefix: rename: {{"^": "{add}"}}'
    return None
