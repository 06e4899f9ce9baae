"""A CSV or TSV table: named feature columns for the model's input, a named target column (class
labels or values) or `target: input`, a test split by fraction or from a file of its own.

The file is read with Python's `csv` module. Before torch is imported the whole table is
checked: the header names every column asked for, every row has the header's width, and every
cell asked for is a finite number; the first bad cell is an error naming the file, its row and
its column. The generated make_data() reads the same file the same way.
"""

from __future__ import annotations

import csv
import math
from typing import Literal

from pydantic import Field

from graphspec.core.codetext import in_docstring, literal
from graphspec.core.fields import Int, Probability, Size
from graphspec.data.base import Source, constraint, data_error, file_problem

MAX_FILE_BYTES = 512 * 1024**2
INPUT = "input"


class TableData(Source):
    """A CSV/TSV table with a header row: `features` (columns fed to the model as one (N, F)
    float32 input) and `target` (one column; or `input`: reconstruction)."""

    can_reconstruct = True
    reads_as = "table"
    source: Literal["table"]
    path_fields = ("path",)
    path: str
    """The table, relative to the working folder; `.tsv` is tab-separated."""
    features: list[str] | None = Field(default=None, min_length=1)
    """Columns fed to the model, in this order; default: every column but the target."""
    target: str
    """The target column, or `input` (the features are their own target)."""
    num_classes: Size | None = None
    """The target holds class labels 0 .. num_classes-1 (integers); leave out for values."""
    delimiter: Literal[",", ";", "\t", "|"] | None = None
    """Default: a tab for `.tsv`/`.tab` files, else a comma."""
    standardize: bool = False
    """Scale every feature to mean 0, std 1 over the training rows (the test uses the same)."""
    test: str | None = None
    """A test table of the same columns (instead of `test_fraction`)."""
    test_fraction: Probability = 0.0
    split_seed: Int = 0

    imports = ("import csv", "from pathlib import Path")

    def class_count(self) -> tuple[int | None, str]:
        return (self.num_classes, "data.num_classes") if self.num_classes else (None, "")

    def has_test(self) -> bool:
        return self.test is not None or self.test_fraction > 0

    def reconstructs(self) -> bool:
        return self.target == INPUT

    def _delimiter(self) -> str:
        if self.delimiter is not None:
            return self.delimiter
        return "\t" if self.path.lower().endswith((".tsv", ".tab")) else ","

    def problems(self, pos_of) -> list:
        out = []
        if self.test is not None and self.test_fraction > 0:
            out.append(constraint("give either a test: file or test_fraction, not both",
                                  pos_of(("data", "test_fraction"))))  # fmt: skip
        if self.reconstructs() and self.num_classes is not None:
            out.append(constraint("target: input reconstructs the features: it has no classes",
                                  pos_of(("data", "num_classes"))))  # fmt: skip
        if self.features is not None and self.target in self.features:
            out.append(constraint(f"the target column '{self.target}' is also a feature",
                                  pos_of(("data", "target"))))  # fmt: skip
        return out

    def check_available(self, doc, *, fake_data: bool) -> None:
        columns = None
        for field, path in [("path", self.path), ("test", self.test)]:
            if path is not None:
                header = self._check_file(path, doc.pos(("data", field)), doc)
                columns = columns or header
                if header != columns:
                    raise data_error(
                        f"'{path}' has the columns {header}, '{self.path}' has {columns}",
                        doc.pos(("data", field)),
                    )

    def _check_file(self, path: str, pos, doc) -> list[str]:
        problem = file_problem(path, pos, MAX_FILE_BYTES, "a CSV or TSV file with a header row")
        if problem is not None:
            raise problem
        try:
            with open(path, newline="", encoding="utf-8") as f:
                rows = csv.reader(f, delimiter=self._delimiter())
                header = [name.strip() for name in next(rows, [])]
                wanted = self._columns(header, path, doc)
                index = [header.index(c) for c in wanted]
                count = 0
                for count, row in enumerate(rows, 1):
                    _check_row(row, count + 1, header, index, path, pos)
        except (UnicodeDecodeError, csv.Error) as err:
            raise data_error(f"'{path}' is not a UTF-8 CSV/TSV table ({err})", pos) from None
        if count == 0:
            raise data_error(f"'{path}' has a header and no rows", pos)
        if self.num_classes is not None:
            _check_labels(path, self._delimiter(), header.index(self.target), self.num_classes,
                          self.target, pos)  # fmt: skip
        return header

    def _columns(self, header: list[str], path: str, doc) -> list[str]:
        """The columns to read (features, then the target), each in the header (or E-DATA)."""
        if not header or header == [""]:
            raise data_error(f"'{path}' is empty: a header row naming the columns comes first",
                             doc.pos(("data", "path")))  # fmt: skip
        named = [("target", self.target)] if not self.reconstructs() else []
        named += [(("features", i), c) for i, c in enumerate(self.features or [])]
        for field, column in named:
            if column not in header:
                raise data_error(
                    f"'{path}' has no column '{column}'",
                    doc.pos(("data", *((field,) if isinstance(field, str) else field))),
                    f"its columns: {', '.join(header)}",
                )
        return self._features(header) + ([] if self.reconstructs() else [self.target])

    def _features(self, header: list[str]) -> list[str]:
        return list(self.features) if self.features else [c for c in header if c != self.target]

    def make_data(self) -> list[str]:
        label = "torch.int64" if self.num_classes else "torch.float32"
        lines = [
            '    """The table\'s features and target, by column name, from',
            f'    {in_docstring(self.path)}"""',  # a line of its own: a path is one word to ruff
            "",
            "    def load(path):",
            '        lines = Path(path).read_text(encoding="utf-8").splitlines()',
            f"        rows = list(csv.reader(lines, delimiter={literal(self._delimiter())}))",
            "        header = [name.strip() for name in rows[0]]",
            "        rows = [row for row in rows[1:] if row]",
            f"        features = {literal(self.features)} or "
            f"[c for c in header if c != {literal(self.target)}]",
            "        columns = [header.index(c) for c in features]",
            "        make_data.features = features  # by name, for new rows (preprocess.json)",
            "        x = torch.tensor([[float(row[i]) for i in columns] for row in rows])",
        ]
        if self.reconstructs():
            lines.append("        return x, x  # reconstruction: the target is the input")
        else:
            lines += [
                f"        t = header.index({literal(self.target)})",
                f"        y = torch.tensor([float(row[t]) for row in rows]).to({label})",
                "        return x, y",
            ]
        lines += ["", f"    x, target = load({literal(self.path)})"]
        if self.test is not None:
            lines.append(f"    test_x, test_target = load({literal(self.test)})")
        else:
            lines += [
                f"    split = torch.randperm(len(target), "
                f"generator=torch.Generator().manual_seed({self.split_seed}))",
                f"    n_test = round(len(target) * {literal(self.test_fraction)})",
                "    test, train = split[:n_test], split[n_test:]",
                "    test_x, test_target = x[test], target[test]",
                "    x, target = x[train], target[train]",
            ]
        if self.standardize:
            lines += [
                "    # standardize with the training rows' statistics, the test rows too",
                "    mean, std = x.mean(0), x.std(0).clamp_min(1e-12)",
                "    x, test_x = (x - mean) / std, (test_x - mean) / std",
                "    # kept with the weights (a run's preprocess.json): new rows are scaled alike",
                '    make_data.standardize = {"mean": mean.tolist(), "std": std.tolist()}',
            ]
        if self.reconstructs():
            lines.append("    target, test_target = x, test_x")
        return lines + [
            "    testset = ((test_x,), test_target) if len(test_target) else None",
            "    return ((x,), target), testset",
        ]

    def describe(self, train: int, test: int | None) -> str:
        counts = f"{train:,} train" + (f" / {test:,} test" if test is not None else "")
        return f"table {self.path}: {counts}"


def _check_row(row: list[str], line: int, header: list[str], index, path: str, pos) -> None:
    if not row:
        return  # a blank line (csv gives []): skipped, as make_data() skips it
    if len(row) != len(header):
        raise data_error(
            f"'{path}' row {line} has {len(row)} cells, the header has {len(header)}",
            pos,
            "every row needs one cell per column (a ragged table)",
        )
    for i in index:
        cell = row[i].strip()
        try:
            value = float(cell)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value):
            raise data_error(
                f"'{path}' row {line}, column '{header[i]}': {cell[:40]!r} is not a finite number",
                pos,
                "every feature and target cell must be a number (no NaN, inf or text)",
            )


def _check_labels(path: str, delimiter: str, column: int, classes: int, name: str, pos) -> None:
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f, delimiter=delimiter)
        next(rows)
        for line, row in enumerate(rows, 2):
            if not row:
                continue
            value = float(row[column])
            if value != int(value) or not 0 <= value < classes:
                raise data_error(
                    f"'{path}' row {line}, column '{name}': {row[column].strip()} is not a "
                    f"class label in 0 .. {classes - 1} (num_classes: {classes})",
                    pos,
                    "labels are integers from 0; raise num_classes or renumber the labels",
                )
