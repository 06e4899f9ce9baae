"""Data against the model, once both are built: E-DATA before the first step (BAD-INPUTS 43).

A sample whose shape or dtype does not fit the model's input, a target that would broadcast
silently in the loss, or labels beyond the classifier's width stop the run before it trains.
"""

from __future__ import annotations

from typing import Any

from graphspec.compiler.pipeline import Compiled
from graphspec.data.base import data_error
from graphspec.language.load import Document


def check_data_fits(compiled: Compiled, data: Any, doc: Document, classification: bool) -> None:
    """E-DATA before training when a sample does not fit the model (BAD-INPUTS 43)."""
    from graphspec.training.datasets import first_sample, labels_of

    if len(data.train.items) == 0:
        raise _error("the training set is empty", doc)
    inputs, target = first_sample(data.train)
    declared = compiled.graph.inputs
    if len(inputs) != len(declared):
        raise _error(
            f"the data gives {len(inputs)} input(s) per sample, the model takes "
            f"{len(declared)} ({', '.join(t.name for t in declared)})",
            doc,
        )
    wide = compiled.spec.train.dtype == "float64"  # floats were cast to it (train.dtype)
    for tensor, node in zip(inputs, declared, strict=True):
        dtype = str(tensor.dtype)
        dtype = "torch.float32" if wide and dtype == "torch.float64" else dtype
        _check_sample(tuple(tensor.shape), dtype, node, doc)
    outputs = compiled.graph.outputs
    if classification and outputs:
        _check_labels(labels_of(data.train), outputs[0], doc)
    elif outputs and hasattr(target, "shape"):
        want = _static(outputs[0].out.shape[1:])
        if want is not None and tuple(target.shape) != want:
            raise _error(
                f"the target of a sample has shape {tuple(target.shape)}, the model's output "
                f"'{outputs[0].name}' per sample is {want}",
                doc,
                hint="a mismatch here would broadcast silently in the loss",
            )


def _static(dims: Any) -> tuple[int, ...] | None:
    if not all(d.is_static for d in dims):
        return None
    return tuple(d.value for d in dims)


def _check_sample(shape: tuple[int, ...], dtype: str, node: Any, doc: Document) -> None:
    declared = node.out.shape
    ok = len(declared) == len(shape) + 1 and all(
        not d.is_static or d.value == s for d, s in zip(declared[1:], shape, strict=True)
    )
    if not ok:
        raise _error(
            f"a sample of the data has shape {shape}, the model's input '{node.name}' is "
            f"{node.out} (batch first)",
            doc,
        )
    want = f"torch.{node.out.dtype}"
    if dtype != want:
        raise _error(
            f"the data gives {dtype.removeprefix('torch.')} for input '{node.name}', "
            f"declared {node.out.dtype}",
            doc,
        )


def _check_labels(labels: Any, output: Any, doc: Document) -> None:
    if labels is None or labels.numel() == 0:
        return
    classes = output.out.shape[-1]
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or (classes.is_static and high >= classes.value):
        raise _error(
            f"class labels run from {low} to {high}, but the model's output '{output.name}' "
            f"has {classes} classes",
            doc,
        )


def _error(message: str, doc: Document, hint: str | None = None) -> Exception:
    return data_error(message, doc.pos(("data",)), hint)
