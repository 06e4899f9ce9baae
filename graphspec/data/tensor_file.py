"""Named tensors from a file: safetensors (`.safetensors`, with the `safetensors` extra) or a
torch file of a dict of tensors (`.pt`/`.pth`, read with `torch.load(weights_only=True)`, so
no pickled code runs). `inputs` name the tensors fed to the model, `target` the labels or
values (or `input`); a test split by fraction, or from a second file with the same names.

A safetensors file's header (its JSON table of names, dtypes and shapes) is read before torch
is imported, so a missing name or a sample count that differs is an error naming the file.
"""

from __future__ import annotations

import json
import struct
from typing import Literal

from pydantic import Field

from graphspec.core.codetext import literal
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
            f"        missing = [n for n in {literal(self._names())} if n not in tensors]",
            "        if missing:",
            "            raise KeyError(f'{path} has no tensor {missing[0]!r}: it has "
            "{sorted(tensors)}')",
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


def _safetensors_header(path: str, pos) -> dict:
    """The JSON table at the start of a safetensors file: 8 bytes of length, then JSON."""
    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > MAX_HEADER_BYTES:
                raise ValueError(f"a header of {size:,} bytes")
            header = json.loads(f.read(size))
        if not isinstance(header, dict):
            raise ValueError("its header is not a table")
    except (OSError, ValueError, struct.error) as err:
        raise data_error(f"'{path}' is not a safetensors file ({err})", pos) from None
    return header


def _check_zip(path: str, pos) -> None:
    import zipfile

    if not zipfile.is_zipfile(path):
        raise data_error(
            f"'{path}' is not a torch file (torch.save writes a zip archive)",
            pos,
            "save a dict of tensors with torch.save, or use a .safetensors file",
        )
