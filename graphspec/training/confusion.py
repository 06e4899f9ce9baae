"""A classifier's confusion matrix in the run folder: confusion.csv (rows: the true class,
columns: the predicted one, each headed by its class name) and confusion.png, the same as a
picture with the class names on both axes. `graphspec evaluate` writes them the same way."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from graphspec.core.files import write_atomic

CSV, PNG = "confusion.csv", "confusion.png"
MAX_DRAWN = 50
"""Classes beyond this are not drawn (a vocabulary's hundreds): the CSV still holds them all."""


def write(folder: Path, confusion: dict[str, Any], picture: bool = True) -> list[str]:
    """confusion.csv, and confusion.png when `picture` (and the classes are few enough)."""
    names, matrix = confusion["classes"], confusion["matrix"]
    text = io.StringIO()
    out = csv.writer(text, lineterminator="\n")
    out.writerow(["true \\ predicted", *names])
    for name, row in zip(names, matrix, strict=True):
        out.writerow([name, *row])
    write_atomic(folder / CSV, text.getvalue())
    if picture and len(names) <= MAX_DRAWN:
        _png(names, matrix, folder / PNG)
        return [CSV, PNG]
    return [CSV]


def _png(names: list[str], matrix: list[list[int]], path: Path) -> None:
    from graphspec.training.plots import _figure

    size = 2.5 + 0.45 * len(names)
    fig, ax = _figure(size, size, 100)
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ticks = range(len(names))
    ax.set_xticks(ticks, names, rotation=45, ha="right")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = max((max(r) for r in matrix), default=0)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            color = "white" if top and value > top / 2 else "black"
            ax.text(j, i, str(value), ha="center", va="center", color=color, fontsize=8)
    ax.set_title("confusion matrix (test split)")
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png"))
