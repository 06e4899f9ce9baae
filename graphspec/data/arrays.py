"""Arrays from a NumPy `.npz` file: the user's own data, one named array per model input and
one for the target, split into train and test by a fixed seed.

The file is read with `numpy.load` and its default `allow_pickle=False`, so an object array (a
pickle) in it is refused, never run. Its array names are checked before torch is imported, from
the zip's table of contents.
"""

from __future__ import annotations

import os
import zipfile
from typing import Literal

from pydantic import Field

from graphspec.core.codetext import in_docstring, literal
from graphspec.core.fields import Int, Probability
from graphspec.data.base import Source, data_error, split_lines

MAX_FILE_BYTES = 8 * 1024**3


class ArraysData(Source):
    """Arrays from a NumPy `.npz` file: `inputs` name the arrays fed to the model (one per
    input), `target` the labels or values; the first dimension of each is the sample."""

    source: Literal["arrays"]
    path: str
    """The `.npz` file (numpy.savez), relative to the working folder."""
    inputs: list[str] = Field(default=["x"], min_length=1)
    target: str = "y"
    """The labels' or values' array; `input`: the first input is the target (reconstruction)."""
    test_fraction: Probability = 0.0
    """Held out for the evaluation, drawn with `split_seed`."""
    split_seed: Int = 0

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
        except (OSError, zipfile.BadZipFile) as err:
            raise data_error(f"'{self.path}' is not a .npz file ({err})", pos) from None
        wanted_target = [] if self.reconstructs() else [("target", self.target)]
        for field, wanted in wanted_target + [("inputs", n) for n in self.inputs]:
            if wanted not in names:
                raise data_error(
                    f"'{self.path}' has no array '{wanted}'",
                    doc.pos(("data", field)),
                    f"its arrays: {', '.join(sorted(names)) or 'none'}",
                )

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
            *split_lines(self.test_fraction, self.split_seed),
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
