"""Named tensors from a file: safetensors (`.safetensors`, with the `safetensors` extra) or a
torch file of a dict of tensors (`.pt`/`.pth`, read with `torch.load(weights_only=True)`, so
no pickled code runs). `inputs` name the tensors fed to the model, `target` the labels or
values (or `input`); a test split by fraction, or from a second file with the same names.

A safetensors file's header (its JSON table of names, dtypes and shapes) is read before torch
is imported, so a missing name or a sample count that differs is an error naming the file.
"""

from __future__ import annotations

import json
import math
import os
import struct
from typing import Literal

from pydantic import Field

from graphspec.core.codetext import literal, one_line
from graphspec.core.fields import Int, Probability
from graphspec.data.base import Source, constraint, data_error, file_problem, split_lines

MAX_FILE_BYTES = 8 * 1024**3
MAX_HEADER_BYTES = 100 * 1024**2  # safetensors' own cap
INPUT = "input"


class TensorFileData(Source):
    """Named tensors from a `.safetensors` file or a torch `.pt` file holding a dict of
    tensors; the first dimension of each is the sample."""

    can_reconstruct = True
    source: Literal["tensors"]
    path_fields = ("path",)
    path: str
    """The file: `.safetensors`, or a torch file (`.pt`, `.pth`) of {name: tensor}."""
    inputs: list[str] = Field(default=["x"], min_length=1)
    """Names of the tensors fed to the model, in the order of its inputs."""
    target: str = "y"
    """Name of the labels' or values' tensor; `input`: the first input (reconstruction)."""
    test: str | None = None
    """A second file with the same names for the test split (instead of `test_fraction`)."""
    test_fraction: Probability = 0.0
    split_seed: Int = 0

    @property
    def imports(self) -> tuple[str, ...]:  # type: ignore[override]
        if self._safetensors():
            return ("import safetensors.torch",)
        return ()

    def _safetensors(self) -> bool:
        return self.path.lower().endswith(".safetensors")

    def has_test(self) -> bool:
        return self.test is not None or self.test_fraction > 0

    def reconstructs(self) -> bool:
        return self.target == INPUT

    def _names(self) -> list[str]:
        return list(self.inputs) + ([] if self.reconstructs() else [self.target])

    def problems(self, pos_of) -> list:
        out = []
        if self.test is not None and self.test_fraction > 0:
            out.append(constraint("give either a test: file or test_fraction, not both",
                                  pos_of(("data", "test_fraction"))))  # fmt: skip
        if self.test is not None and self.test.lower().endswith(".safetensors") != (
            self._safetensors()
        ):
            out.append(constraint("the test file must be of the training file's kind",
                                  pos_of(("data", "test"))))  # fmt: skip
        return out

    def check_available(self, doc, *, fake_data: bool) -> None:
        for field, path in [("path", self.path), ("test", self.test)]:
            if path is None:
                continue
            pos = doc.pos(("data", field))
            problem = file_problem(path, pos, MAX_FILE_BYTES, "a .safetensors or .pt file")
            if problem is not None:
                raise problem
            if self._safetensors():
                self._check_header(path, pos, doc)
            else:
                _check_zip(path, pos)

    def _check_header(self, path: str, pos, doc) -> None:
        try:
            import safetensors  # noqa: F401 - only whether it is there
        except ImportError:
            raise data_error(
                f"'{path}' is a safetensors file: reading it needs the safetensors package",
                pos,
                "pip install 'graphspec[safetensors]' (or save a torch .pt file)",
            ) from None
        header = _safetensors_header(path, pos)
        tensors = {k: v for k, v in header.items() if k != "__metadata__"}
        _check_table(tensors, path, pos)
        counts = {}
        for i, name in enumerate(self._names()):
            field = ("inputs", i) if i < len(self.inputs) else ("target",)
            info = tensors.get(name)
            if info is None:
                known = ", ".join(sorted(tensors)) or "none"
                raise data_error(f"'{path}' has no tensor '{name}'", doc.pos(("data", *field)),
                                 f"its tensors: {known}")  # fmt: skip
            shape = info.get("shape") if isinstance(info, dict) else None
            if not shape:
                raise data_error(f"'{path}': tensor '{name}' has no sample dimension "
                                 f"(shape {shape})", pos)  # fmt: skip
            counts[name] = shape[0]
        if len(set(counts.values())) > 1:
            shown = ", ".join(f"'{n}' {c:,}" for n, c in counts.items())
            raise data_error(f"'{path}': the tensors hold different numbers of samples: {shown}",
                             pos)  # fmt: skip

    def make_data(self) -> list[str]:
        if self._safetensors():
            read = "safetensors.torch.load_file(path)"
        else:
            read = "torch.load(path, map_location='cpu', weights_only=True)  # no pickled code"
        lines = [
            '    """Named tensors from a file, split by a fixed seed or by a second file."""',
            "",
            "    def load(path):",
            f"        tensors = {read}",
            "        if not isinstance(tensors, dict):",
            "            raise TypeError(f'{path} holds a {type(tensors).__name__}, not a dict of "
            "tensors')",
            f"        missing = [n for n in {literal(self._names())} if n not in tensors]",
            "        if missing:",
            "            raise KeyError(f'{path} has no tensor {missing[0]!r}: it has "
            "{sorted(map(str, tensors))}')",
            f"        for name in {literal(self._names())}:",
            "            if not isinstance(tensors[name], torch.Tensor):",
            "                raise TypeError(f'{path}: {name!r} holds a "
            "{type(tensors[name]).__name__}, not a tensor')",
            "        inputs = tuple(",
            "            tensors[name].to(torch.float32) if tensors[name].is_floating_point() "
            "else tensors[name]",
            f"            for name in {literal(self.inputs)}",
            "        )",
        ]
        if self.reconstructs():
            lines.append(
                "        return inputs, inputs[0]  # reconstruction: the target is the input"
            )
        else:
            lines += [
                f"        target = tensors[{literal(self.target)}]",
                "        return inputs, target.to(torch.float32) if target.is_floating_point() "
                "else target",
            ]
        lines += ["", f"    inputs, target = load({literal(self.path)})"]
        if self.test is not None:
            return lines + [f"    return (inputs, target), load({literal(self.test)})"]
        return lines + split_lines(self.test_fraction, self.split_seed)

    def describe(self, train: int, test: int | None) -> str:
        counts = f"{train:,} train" + (f" / {test:,} test" if test is not None else "")
        return f"tensors from {self.path}: {counts}"


# Bytes per element of every dtype the safetensors format names.
SAFETENSORS_DTYPES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
    "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip


def _safetensors_header(path: str, pos) -> dict:
    """The JSON table at the start of a safetensors file: 8 bytes of length, then JSON; the
    length of the data after it is kept under DATA_BYTES for `_check_table`."""
    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > MAX_HEADER_BYTES:
                raise ValueError(f"a header of {size:,} bytes")
            text = f.read(size)
            if len(text) < size:
                raise ValueError(f"a header of {size:,} bytes in a shorter file")
            header = json.loads(text)
            data_bytes = os.fstat(f.fileno()).st_size - 8 - size
        if not isinstance(header, dict):
            raise ValueError("its header is not a table")
    except (OSError, ValueError, struct.error, RecursionError) as err:
        raise data_error(f"'{path}' is not a safetensors file ({err})", pos) from None
    header[DATA_BYTES] = data_bytes
    return header


DATA_BYTES = "__data_bytes__"


def _check_table(tensors: dict, path: str, pos) -> None:
    """Every entry of a safetensors header names a known dtype, a shape of counts, and byte
    offsets inside the file that hold exactly that many elements (what safetensors checks at
    load, checked here first so each lie is an error naming the file and the tensor)."""
    data_bytes = tensors.pop(DATA_BYTES)
    for name, info in tensors.items():
        where = f"'{path}': tensor {one_line(repr(name))}"
        if not isinstance(info, dict):
            raise data_error(f"{where} is described by {type(info).__name__}, not a table", pos)
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in SAFETENSORS_DTYPES:
            raise data_error(f"{where} has an unknown dtype {one_line(repr(dtype))[:40]}", pos)
        if not isinstance(shape, list) or not all(_count(d) for d in shape):
            raise data_error(f"{where} has a shape that is not a list of counts", pos)
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_count(o) for o in offsets)
            or not offsets[0] <= offsets[1] <= data_bytes
        ):
            raise data_error(f"{where} has data offsets outside the file's {data_bytes:,} "
                             "bytes of data", pos)  # fmt: skip
        if (offsets[1] - offsets[0]) != math.prod(shape) * SAFETENSORS_DTYPES[dtype]:
            raise data_error(f"{where}: its shape {shape} and dtype {dtype} do not match its "
                             f"{offsets[1] - offsets[0]:,} bytes", pos)  # fmt: skip


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_zip(path: str, pos) -> None:
    import zipfile

    try:
        is_zip = zipfile.is_zipfile(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):  # a damaged end record
        is_zip = False
    if not is_zip:
        raise data_error(
            f"'{path}' is not a torch file (torch.save writes a zip archive)",
            pos,
            "save a dict of tensors with torch.save, or use a .safetensors file",
        )
