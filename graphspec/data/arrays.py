"""Arrays from a NumPy `.npz` file: the user's own data, one named array per model input and
one for the target, split into train and test by a fixed seed.

The file is read with `numpy.load` and its default `allow_pickle=False`, so an object array (a
pickle) in it is refused, never run. Its array names are checked before torch is imported, from
the zip's table of contents.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from tokenize import TokenError
from typing import Literal

from pydantic import Field

from graphspec.core.codetext import in_docstring, literal, one_line
from graphspec.core.fields import Int, Probability
from graphspec.data.base import Source, data_error, split_lines

MAX_FILE_BYTES = 8 * 1024**3


class ArraysData(Source):
    """Arrays from a NumPy `.npz` file: `inputs` name the arrays fed to the model (one per
    input), `target` the labels or values; the first dimension of each is the sample."""

    source: Literal["arrays"]
    path_fields = ("path",)
    path: str
    """The `.npz` file (numpy.savez), beside the spec (language/paths.py)."""
    inputs: list[str] = Field(default=["x"], min_length=1)
    target: str = "y"
    """The labels' or values' array; `input`: the first input is the target (reconstruction)."""
    test_fraction: Probability = 0.0
    """Held out for the evaluation, drawn with `split_seed`."""
    split_seed: Int = 0
    standardize: bool = False
    """Scale every floating input to mean 0, std 1 per feature over the training samples (the
    test samples with the same statistics)."""

    imports = ("import numpy as np",)
    can_reconstruct = True
    reads_as = "numpy"

    def has_test(self) -> bool:
        return self.test_fraction > 0

    def reconstructs(self) -> bool:
        return self.target == "input"

    def check_available(self, doc, *, fake_data: bool) -> None:
        pos = doc.pos(("data", "path"))
        if not os.path.isfile(self.path):  # a folder, a FIFO or nothing at all
            raise data_error(f"'{self.path}' is not a file", pos, "give the path of a .npz file")
        if os.path.getsize(self.path) > MAX_FILE_BYTES:
            raise data_error(f"'{self.path}' is larger than {MAX_FILE_BYTES:,} bytes", pos)
        try:
            with zipfile.ZipFile(self.path) as z:
                names = {n.removesuffix(".npy") for n in z.namelist()}
        except (OSError, ValueError, EOFError, NotImplementedError, zipfile.BadZipFile) as err:
            raise data_error(f"'{self.path}' is not a .npz file ({one_line(err)})", pos) from None
        wanted_target = [] if self.reconstructs() else [("target", self.target)]
        for field, wanted in wanted_target + [("inputs", n) for n in self.inputs]:
            if wanted not in names:
                raise data_error(
                    f"'{self.path}' has no array '{wanted}'",
                    doc.pos(("data", field)),
                    f"its arrays: {', '.join(sorted(names)) or 'none'}",
                )

    def memory_parts(self) -> list[tuple[str, int, tuple]]:
        """Each named array's bytes as its .npy header inside the .npz declares them (a header
        may claim 16 GB: the budget refuses it before anything is read). Nothing when the file
        cannot be read yet: check_available says why."""
        import stat

        try:
            if not stat.S_ISREG(os.stat(self.path).st_mode):
                return []  # a FIFO is never opened here
            with zipfile.ZipFile(self.path) as z:
                return [
                    (
                        f"array '{name}' of '{self.path}'",
                        _declared_bytes(z, name),
                        ("data", "path"),
                    )  # fmt: skip
                    for name in dict.fromkeys(self._names())
                ]
        except (OSError, ValueError, KeyError, EOFError, SyntaxError, TokenError,
                NotImplementedError, zipfile.BadZipFile, zlib.error):  # fmt: skip
            return []  # a damaged .npy header: numpy parses it with tokenize and ast

    def _names(self) -> list[str]:
        return list(self.inputs) + ([] if self.reconstructs() else [self.target])

    def make_data(self) -> list[str]:
        return [
            f'    """Arrays {in_docstring(", ".join(self.inputs))} and {in_docstring(self.target)} '
            'from a .npz file, split by a fixed seed."""',
            f"    arrays = np.load({literal(self.path)})  # no pickles: allow_pickle is False",
            "    # numpy's float64 becomes torch's float32, the dtype the model computes in",
            "    inputs = tuple(",
            "        torch.from_numpy(arrays[name]).to(torch.float32)",
            "        if arrays[name].dtype.kind == 'f'",
            "        else torch.from_numpy(arrays[name])",
            f"        for name in {literal(self.inputs)}",
            "    )",
            *self._target_lines(),
            *split_lines(
                self.test_fraction, self.split_seed, self.standardize, self.reconstructs()
            ),  # fmt: skip
        ]

    def _target_lines(self) -> list[str]:
        if self.reconstructs():
            return ["    target = inputs[0]  # reconstruction: the target is the input"]
        return [
            f"    target = torch.from_numpy(arrays[{literal(self.target)}])",
            "    if target.is_floating_point():",
            "        target = target.to(torch.float32)",
        ]

    def describe(self, train: int, test: int | None) -> str:
        counts = f"{train:,} train" + (f" / {test:,} test" if test is not None else "")
        return f"arrays from {self.path}: {counts}"


def _declared_bytes(z: zipfile.ZipFile, name: str) -> int:
    """The bytes the member `name`.npy declares in its header, read without loading it."""
    from math import prod

    import numpy as np

    with z.open(f"{name}.npy") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0
        if version != (1, 0):
            read = np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
    return prod(shape) * dtype.itemsize
