"""Data against the model, once both are built: E-DATA before the first step.

A sample whose shape or dtype does not fit the model's input, ids beyond the Embedding's rows,
a target that would broadcast silently in the loss, or labels beyond the classifier's width stop
the run before it trains. Each error names the data (its file) and points at the spec field
that gives it.
"""

from __future__ import annotations

from typing import Any

from graphspec.compiler.pipeline import Compiled
from graphspec.core.shapes import FLOAT_DTYPES
from graphspec.data.base import data_error
from graphspec.language.load import Document

FLOAT_TARGET_LOSSES = frozenset({"BCELoss", "BCEWithLogitsLoss"})
"""Losses whose target must be floats: integer labels are refused before training."""


def check_data_fits(compiled: Compiled, data: Any, doc: Document, classification: bool) -> None:
    """E-DATA before training when a sample does not fit the model."""
    from graphspec.training.datasets import first_sample

    fit = _Fit(compiled, doc)
    if len(data.train.items) == 0:
        raise fit.error("the training set is empty")
    inputs, target = first_sample(data.train)
    declared = compiled.graph.inputs
    if len(inputs) != len(declared):
        raise fit.error(
            f"gives {len(inputs)} input(s) per sample, the model takes "
            f"{len(declared)} ({', '.join(t.name for t in declared)})"
        )
    wide = compiled.spec.train.dtype == "float64"  # floats were cast to it (train.dtype)
    for tensor, node in zip(inputs, declared, strict=True):
        dtype = str(tensor.dtype)
        dtype = "torch.float32" if wide and dtype == "torch.float64" else dtype
        fit.sample(tuple(tensor.shape), dtype, node)
    for split in (data.train, data.test):
        if split is not None:
            fit.ids(split)
    outputs = compiled.graph.outputs
    if outputs and classification:  # labels of a Dataset are ints, not tensors
        for split in (data.train, data.test):
            if split is not None:
                fit.labels(split, outputs[0], target)
        return
    loss = compiled.spec.loss.op
    if loss in FLOAT_TARGET_LOSSES and not getattr(target, "is_floating_point", lambda: False)():
        got = str(getattr(target, "dtype", type(target).__name__)).removeprefix("torch.")
        raise fit.error(
            f"gives {got} targets, and {loss} wants float targets (0/1 or probabilities)",
            hint="store the target as float32, or use CrossEntropyLoss for class labels",
        )
    if not outputs or not hasattr(target, "shape"):
        return
    want = _static(outputs[0].out.shape[1:])
    if want is not None and tuple(target.shape) != want:
        raise fit.error(
            f"gives a target of shape {tuple(target.shape)} per sample, the model's output "
            f"'{outputs[0].name}' per sample is {want}",
            hint="a mismatch here would broadcast silently in the loss",
        )


class _Fit:
    """The checks, with what names the data and where the spec gives it."""

    def __init__(self, compiled: Compiled, doc: Document) -> None:
        self.compiled, self.doc = compiled, doc
        self.named, field = compiled.spec.data.named_as()
        self.pos = doc.pos(field)

    def error(self, message: str, hint: str | None = None) -> Exception:
        return data_error(f"{self.named} {message}", self.pos, hint)

    def sample(self, shape: tuple[int, ...], dtype: str, node: Any) -> None:
        declared = node.out.shape
        ok = len(declared) == len(shape) + 1 and all(
            not d.is_static or d.value == s for d, s in zip(declared[1:], shape, strict=True)
        )
        if not ok:
            raise self.error(
                f"gives samples of shape {shape}, the model's input '{node.name}' is "
                f"{node.out} (batch first)"
            )
        got = dtype.removeprefix("torch.")
        if got != node.out.dtype:
            integer = node.out.dtype not in FLOAT_DTYPES
            raise self.error(
                f"gives {got} for input '{node.name}', declared {node.out.dtype}",
                hint=(
                    "ids for an Embedding are integers: give integer data (random data: "
                    "dtype: int64 with a high)"
                    if integer
                    else f"declare the input's dtype as {got}, or convert the data"
                ),
            )

    def ids(self, split: Any) -> None:
        """Integer inputs that feed an Embedding: every id must have a row."""
        from graphspec.training.datasets import TensorSet

        if not isinstance(split.items, TensorSet):
            return
        for tensor, node in zip(split.items.inputs, self.compiled.graph.inputs, strict=True):
            rows = _embedding_rows(self.compiled.graph, node.name)
            if rows is None or tensor.is_floating_point() or tensor.numel() == 0:
                continue
            low, high = int(tensor.min()), int(tensor.max())
            if low < 0 or high >= rows[0]:
                raise self.error(
                    f"gives ids from {low} to {high} for input '{node.name}', but {rows[1]} "
                    f"has {rows[0]} rows (ids 0 .. {rows[0] - 1})",
                    hint="make the table as large as the vocabulary (num_embeddings or the "
                    "table's first size)",
                )

    def labels(self, split: Any, output: Any, target: Any) -> None:
        from graphspec.training.datasets import labels_of

        labels = labels_of(split)
        if labels is None or labels.numel() == 0:
            return
        out = output.out
        if labels.is_floating_point():
            want = _static(out.shape[1:])
            shape = tuple(getattr(target, "shape", ()))
            if want is not None and shape == want:
                return  # class probabilities of the output's shape: torch takes them
            raise self.error(
                f"gives a float target of shape {shape} per sample for "
                f"{self.compiled.spec.loss.op}, which wants integer class labels",
                hint="class labels are integers 0 .. C-1 (a table: give num_classes)",
            )
        ignore = getattr(self.compiled.spec.loss, "ignore_index", None)
        kept = labels[labels != ignore] if ignore is not None else labels.reshape(-1)
        if kept.numel() == 0:
            return
        classes = out.shape[1] if out.rank >= 2 else None
        low, high = int(kept.min()), int(kept.max())
        if low < 0 or (classes is not None and classes.is_static and high >= classes.value):
            skip = f" (ignore_index {ignore} left out)" if ignore not in (None, -100) else ""
            raise self.error(
                f"gives class labels: labels run from {low} to {high}{skip}, but the output "
                f"'{output.name}' {out} has {classes} classes in dimension 1",
                hint="give the last layer one value per class, or renumber the labels",
            )


def _static(dims: Any) -> tuple[int, ...] | None:
    if not all(d.is_static for d in dims):
        return None
    return tuple(d.value for d in dims)


def _embedding_rows(graph: Any, name: str) -> tuple[int, str] | None:
    """The rows of the first table the model input `name` indexes, and what holds them."""
    from graphspec.compiler.graph import split_ref

    for typed in graph.nodes.values():
        node = typed.node
        if node.kind != "op" or not node.inputs or split_ref(node.inputs[0])[0] != name:
            continue
        op = typed.op
        kind = getattr(op, "op", "")
        if kind == "Embedding":
            return op.num_embeddings, f"the Embedding '{node.name}'"
        if kind == "embedding" and len(node.inputs) > 1:
            table = graph.ref_type(node.inputs[1]).shape[0]
            if table.is_static:
                return table.value, f"the table '{node.inputs[1]}' of '{node.name}'"
    return None
