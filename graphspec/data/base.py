"""What every data source is: its batching fields, its static facts, and its code.

A source is one pydantic model (the `data:` section of a spec, picked by `source:`) that holds
its whole contract, as an op does:

- **fields**: what the user writes (`batch_size`, `shuffle`, ... here; the source's own there);
- **static facts**, known without torch: how many classes its labels span (`class_count`), the
  shape of a regression target (`target_shape`), the training set's size (`sample_count`),
  class names (`class_names`), whether it has a test split (`has_test`);
- **presence** (`check_available`): is the data there, checked before torch is imported;
- **code** (`make_data`): the body of `make_data()` in the training program. `emit --train`
  writes it into the script and `graphspec run` executes the same generated function
  (program/script.py), so a source is written once and the two cannot drift.

Adding a source is one file in this package: data/__init__.py finds it, and the check of the
generated code (core/codetext.check_source) allows the imports it states in `imports`.
Nothing here imports torch.
"""

from __future__ import annotations

from typing import Any, ClassVar

from graphspec.core.errors import Pos, SpecError, fail
from graphspec.core.fields import NonNeg, Size, StrictModel


class Source(StrictModel):
    """The batching every source shares; subclasses add `source: Literal[...]` and fields."""

    path_fields: ClassVar[tuple[str, ...]] = ()
    """Fields naming files or folders (dotted into a nested mapping; a list: each item),
    resolved beside the spec that names them (language/paths.py)."""

    batch_size: Size = 1
    test_batch_size: Size | None = None
    """Batch size for evaluation; default: batch_size."""
    shuffle: bool = False
    """Reshuffle the training set every epoch, in an order fixed by the spec's seed."""
    num_workers: NonNeg | None = None
    """DataLoader worker processes; default: from the cores this machine gives the run (none
    on 2 cores, where workers only compete with the training for them). The in-memory paths
    use none."""
    drop_last: bool = False

    in_memory: ClassVar[bool] = True
    """Samples are tensors that batches() slices; False: a Dataset read through a DataLoader."""
    imports: ClassVar[tuple[str, ...]] = ()
    """Import lines the generated make_data() needs beyond torch: written into the program's
    header, and the only imports beyond the model's that check_source lets through."""
    can_reconstruct: ClassVar[bool] = False
    """The source takes `target: input` (the compiler's hints name the sources that do)."""
    fit: ClassVar[bool] = False
    reads_as: ClassVar[str | None] = None
    """How `graphspec predict` reads new samples of this source: "table", "numpy", "images"
    or "text" (kept in preprocess.json as `reads_as`); None: it can't."""
    counted_as: ClassVar[str] = "samples"
    """What the accuracy line counts ("... on the 10000 test images"): images, samples."""
    """A fitting task over all its points (the fit plot and animation)."""

    # -- static facts ---------------------------------------------------------------------

    def class_count(self) -> tuple[int | None, str]:
        """How many classes the labels span and what says so; (None, "") for targets."""
        return None, ""

    def gives_labels(self) -> bool:
        """Whether the target is class labels (even when their number is not known statically)."""
        return self.class_count()[0] is not None

    def target_shape(self) -> tuple[int, ...] | None:
        """The whole regression target's shape (samples first), where the spec fixes it."""
        return None

    def sample_count(self) -> tuple[int | None, str]:
        """The training set's size where the spec states it, and the field that does."""
        return None, ""

    def class_names(self) -> list[str] | None:
        """Names for the printed per-class results, where known without loading the data."""
        return None

    def has_test(self) -> bool:
        return False

    def reconstructs(self) -> bool:
        """The target is the model's (first) input: an autoencoder's reconstruction task."""
        return False

    def label_shape(self) -> tuple[int | str, ...] | None:
        """One sample's labels where they are more than one (a class per token or pixel): the
        sizes after the batch dimension, a str for a size only the data knows."""
        return None

    def named_as(self) -> tuple[str, tuple]:
        """How errors about the data name it (a file, quoted) and the spec field that says so."""
        path = getattr(self, "path", None)
        if isinstance(path, str):
            return f"'{path}'", ("data", "path")
        return f"the {self.source} data", ("data", "source")

    def whole_batch(self) -> int | None:
        """The batch size when `batch_size` is left out and the default is the whole set."""
        return None

    def memory_parts(self) -> list[tuple[str, int, tuple]]:
        """(what, bytes, field path) of each tensor make_data() builds in memory at once, for
        the memory budget before anything is allocated (training/budget.py)."""
        return []

    def problems(self, pos_of: Any) -> list[Any]:
        """Cross-field problems of this source (E-CONSTRAINT), located by `pos_of(path)`."""
        return []

    # -- before training ------------------------------------------------------------------

    def check_available(self, doc: Any, *, fake_data: bool) -> None:
        """Raise E-DATA now if the data cannot be had; say nothing if it can (or may)."""

    def stand_in(self, size: int) -> Source | None:
        """FakeData of this dataset's shape for `--fake-data`, where the source allows it."""
        return None

    # -- code -------------------------------------------------------------------------------

    def make_data(self) -> list[str]:
        """The lines of `def make_data():`, returning (trainset, testset)."""
        raise NotImplementedError

    def helpers(self) -> list[str]:
        """More functions of the training program that make_data() or batches() call."""
        return []

    def transforms_batches(self) -> bool:
        """Whether batches() applies the program's `transform_batch` to each batch's input."""
        return False

    def augments_batches(self) -> bool:
        """Whether `transform_batch` draws random numbers: batches() then gives it a generator
        seeded by (seed, epoch, batch) (program/functions.py `draws`)."""
        return False

    def data_path(self) -> str:
        """How batches are made, in words (printed and kept in meta.json as `data_path`)."""
        return "in memory: tensors sliced per batch (no DataLoader)"

    def describe(self, train: int, test: int | None) -> str:
        """One line for the run's screen, once the data is built."""
        counts = f"{train:,} train" + (f" / {test:,} test" if test is not None else "")
        return f"{self.source}: {counts}"


def data_error(message: str, pos: Pos | None, hint: str | None = None) -> SpecError:
    """An E-DATA error at the spec's `data:` section (or one of its fields)."""
    return fail("E-DATA", message, pos, hint=hint)


def constraint(message: str, pos: Pos | None) -> Any:
    """An E-CONSTRAINT problem between fields of a source (for `Source.problems`)."""
    from graphspec.core.errors import Problem

    return Problem("E-CONSTRAINT", message, pos)


def split_lines(
    fraction: float, seed: int, standardize: bool = False, reconstructs: bool = False
) -> list[str]:
    """The end of a make_data() holding `inputs` (a tuple) and `target`: a test split of
    `fraction` drawn from a generator seeded with `seed`, fixed by the spec, not the run;
    `standardize`: each floating input scaled to mean 0, std 1 per feature with the training
    samples' statistics (the test samples too)."""
    from graphspec.core.codetext import literal

    scale = [
        "    # data.standardize: the training samples' mean and std, for the test samples too",
        "    stats = [",
        "        (x[train].mean(0), x[train].std(0).clamp_min(1e-12)) "
        "if x.is_floating_point() else None",
        "        for x in inputs",
        "    ]",
        "    inputs = tuple(",
        "        x if s is None else (x - s[0]) / s[1] for x, s in zip(inputs, stats, strict=True)",
        "    )",
        *(["    target = inputs[0]  # reconstruction: the scaled input"] if reconstructs else []),
    ]
    return [
        "    sizes = [len(x) for x in inputs]",
        "    if any(n != len(target) for n in sizes):  # never train on the shorter silently",
        "        raise ValueError(",
        '            f"the inputs hold {sizes} samples and the target {len(target)}: "',
        '            "they must hold the same number"',
        "        )",
        f"    split = torch.randperm(len(target), generator=torch.Generator().manual_seed({seed}))",
        f"    n_test = round(len(target) * {literal(fraction)})",
        "    test, train = split[:n_test], split[n_test:]",
        *(scale if standardize else []),
        "    trainset = tuple(x[train] for x in inputs), target[train]",
        "    testset = (tuple(x[test] for x in inputs), target[test]) if n_test else None",
        "    return trainset, testset",
    ]


def file_problem(path: str, pos: Pos | None, max_bytes: int, what: str) -> SpecError | None:
    """E-DATA when `path` is not a regular file of at most `max_bytes` (a folder, a FIFO, a
    missing file, /dev/zero), else None. Checked before anything reads it."""
    import os
    import stat

    try:
        info = os.stat(path)
    except OSError:
        return data_error(f"'{path}' is not a file", pos, f"give the path of {what}")
    if not stat.S_ISREG(info.st_mode):
        return data_error(f"'{path}' is not a file", pos, f"give the path of {what}")
    if info.st_size > max_bytes:
        return data_error(f"'{path}' is larger than {max_bytes:,} bytes", pos)
    return None


def count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def transforms_line(transforms: list[Any]) -> str:
    """`    transform = transforms.Compose([...])`: the spec's transforms as code."""
    from graphspec.core.codetext import literal
    from graphspec.data.transforms import preset_name, transform_steps

    if preset_name(transforms):  # the weights' own preprocessing, as torchvision defines it
        name = literal(preset_name(transforms))
        return f"    transform = torchvision.models.get_weight({name}).transforms()"

    return compose_line("transform", transform_steps(transforms))


def _argument(op: str, key: str, value: Any) -> str:
    from graphspec.core.codetext import literal

    if (op, key) == ("AutoAugment", "policy"):  # an enum member (a validated name)
        return f"transforms.AutoAugmentPolicy.{value}"
    return literal(value)


def compose_line(name: str, steps: list[tuple[str, dict[str, Any]]]) -> str:
    """`    name = transforms.Compose([...])` of (torchvision name, keyword arguments) steps:
    the one place a transform becomes code."""
    calls = ", ".join(
        f"transforms.{op}({', '.join(f'{k}={_argument(op, k, v)}' for k, v in args.items())})"
        for op, args in steps
    )
    return f"    {name} = transforms.Compose([{calls}])"


TORCHVISION_IMPORTS = ("import torchvision", "import torchvision.transforms as transforms")
