"""Arrays from NumPy `.npy` files: one file per model input and one for the target (or the
target is the input: reconstruction), with a test split by fraction or from files of its own.

Each file is read with `numpy.load` and its default `allow_pickle=False`, so an object array (a
pickle) is refused, never run. Before torch is imported, every file's header is read (dtype and
shape, `numpy.lib.format`), so a missing file, a wrong dtype or a sample count that differs
between inputs and target is an error naming the file before training.
"""

from __future__ import annotations

from math import prod
from typing import Literal

from pydantic import Field

from graphspec.core.codetext import literal
from graphspec.core.fields import Int, Probability, StrictModel
from graphspec.data.base import Source, constraint, data_error, file_problem, split_lines

MAX_FILE_BYTES = 8 * 1024**3
INPUT = "input"
"""`target: input`: the model's (first) input is its own target (an autoencoder)."""


class NpyFiles(StrictModel):
    """A split held in files of its own: one `.npy` per model input, one for the target."""

    inputs: list[str] = Field(min_length=1)
    target: str | None = None
    """Left out with `target: input` on the training files."""


class NpyData(Source):
    """Arrays from `.npy` files (numpy.save): `inputs` (one file per model input) and
    `target` (labels or values, or `input`); the first dimension of each is the sample."""

    can_reconstruct = True
    reads_as = "numpy"
    source: Literal["npy"]
    path_fields = ("inputs", "target", "test.inputs", "test.target")
    inputs: list[str] = Field(min_length=1)
    """The `.npy` files fed to the model, in the order of the model's inputs."""
    target: str
    """The `.npy` file of labels (integers) or values (floats); `input`: the first input."""
    test: NpyFiles | None = None
    """A test split from files of its own (instead of `test_fraction`)."""
    test_fraction: Probability = 0.0
    """Held out for the evaluation, drawn with `split_seed` (when there is no `test:`)."""
    split_seed: Int = 0

    imports = ("import numpy as np",)

    def has_test(self) -> bool:
        return self.test is not None or self.test_fraction > 0

    def reconstructs(self) -> bool:
        return self.target == INPUT

    def named_as(self) -> tuple[str, tuple]:
        return f"'{self.inputs[0]}'", ("data", "inputs", 0)

    def problems(self, pos_of) -> list:
        if self.test is not None and self.test_fraction > 0:
            return [constraint("give either test: files or test_fraction, not both",
                               pos_of(("data", "test_fraction")))]  # fmt: skip
        if self.test is not None and (self.test.target is None) != self.reconstructs():
            return [constraint("the test files need a target exactly when the training "
                               "files have one", pos_of(("data", "test")))]  # fmt: skip
        return []

    def check_available(self, doc, *, fake_data: bool) -> None:
        splits = [((), self.inputs, self.target)]
        if self.test is not None:
            splits.append((("test",), self.test.inputs, self.test.target))
        for where, inputs, target in splits:
            files = [(("inputs", i), path) for i, path in enumerate(inputs)]
            if target is not None and target != INPUT:
                files.append((("target",), target))
            counts = {}
            for field, path in files:
                pos = doc.pos(("data", *where, *field))
                dtype, shape = _header(path, pos)
                if dtype.kind not in "biuf" or not shape:
                    raise data_error(
                        f"'{path}' holds {dtype} of shape {shape}: arrays of numbers with a "
                        "sample dimension are what a model takes",
                        pos,
                    )
                counts[path] = (shape[0], pos)
            if len({n for n, _ in counts.values()}) > 1:
                shown = ", ".join(f"'{p}' {n:,}" for p, (n, _) in counts.items())
                raise data_error(
                    f"the files hold different numbers of samples: {shown}",
                    next(iter(counts.values()))[1],
                )

    def make_data(self) -> list[str]:
        lines = [
            '    """Arrays from .npy files (no pickles: allow_pickle is False)."""',
            "",
            "    def load(inputs, target):",
            "        # numpy's float64 becomes torch's float32, the dtype the model computes in",
            "        arrays = [torch.from_numpy(np.load(path)) for path in inputs]",
            "        inputs = tuple(x.to(torch.float32) if x.is_floating_point() else x "
            "for x in arrays)",
            "        if target is None:  # reconstruction: the target is the input",
            "            return inputs, inputs[0]",
            "        target = torch.from_numpy(np.load(target))",
            "        return inputs, target.to(torch.float32) if target.is_floating_point() "
            "else target",
            "",
            f"    inputs, target = load({literal(self.inputs)}, {_target(self.target)})",
        ]
        if self.test is None:
            return lines + split_lines(self.test_fraction, self.split_seed)
        return lines + [
            f"    testset = load({literal(self.test.inputs)}, {_target(self.test.target)})",
            "    return (inputs, target), testset",
        ]

    def memory_parts(self) -> list[tuple[str, int, tuple]]:
        return []  # the files' sizes are capped when they are checked

    def describe(self, train: int, test: int | None) -> str:
        counts = f"{train:,} train" + (f" / {test:,} test" if test is not None else "")
        return f"arrays from {', '.join(self.inputs)}: {counts}"


def _target(target: str | None) -> str:
    return "None" if target in (None, INPUT) else literal(target)


def _header(path: str, pos) -> tuple:
    """The dtype and shape a `.npy` file declares, read without loading it (or E-DATA)."""
    from tokenize import TokenError

    import numpy as np

    from graphspec.core.codetext import one_line

    problem = file_problem(path, pos, MAX_FILE_BYTES, "a .npy file (numpy.save)")
    if problem is not None:
        raise problem
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0
            if version != (1, 0):
                read = np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
    except (OSError, ValueError, SyntaxError, EOFError, TokenError) as err:
        # numpy parses the header with tokenize and ast: a damaged one raises either
        raise data_error(f"'{path}' is not a .npy file ({one_line(err)})", pos) from None
    if dtype.hasobject:
        raise data_error(
            f"'{path}' holds Python objects (a pickle): refused, allow_pickle is False", pos
        )
    if prod(shape) * dtype.itemsize > MAX_FILE_BYTES:
        raise data_error(f"'{path}' declares more than {MAX_FILE_BYTES:,} bytes", pos)
    return dtype, shape
