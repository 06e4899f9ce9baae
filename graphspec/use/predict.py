"""`graphspec predict`: a trained run's predictions on new data, one row per sample.

Classification: the class name, then each class's probability (softmax), or with `top_k` the K
likeliest classes and theirs. BCE: the probability and the 0/1 decision at the run's threshold.
Regression and reconstruction: the output values, flattened per sample.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import torch

from graphspec.training.metrics import probabilities
from graphspec.use.prepare import Prepared
from graphspec.use.trained import Trained

BATCH = 256


def outputs(trained: Trained, prepared: Prepared) -> torch.Tensor:
    """The model's outputs over the prepared samples, in batches, no gradients."""
    n = len(prepared.inputs[0])
    parts = []
    with torch.no_grad():
        for start in range(0, n, BATCH):
            parts.append(trained.model(*(x[start : start + BATCH] for x in prepared.inputs)))
    return torch.cat(parts).float()


def table(trained: Trained, prepared: Prepared, top_k: int | None = None) -> list[list[Any]]:
    """The predictions as rows, the header first."""
    out = outputs(trained, prepared)
    task = trained.state["task"]
    names = prepared.names
    if task == "classification":
        return _classes(out, names, trained.classes, top_k)
    if task == "binary":
        prob = probabilities(out, trained.state["loss"]).reshape(len(out), -1)
        threshold = trained.state.get("threshold", 0.5)
        if prob.shape[1] == 1:
            rows = [
                [n, p.item(), int(p.item() >= threshold)]
                for n, p in zip(names, prob[:, 0], strict=True)
            ]
            return [["sample", "probability", "prediction"], *rows]
        head = [f"probability_{i}" for i in range(prob.shape[1])]
        return [["sample", *head], *([n, *p.tolist()] for n, p in zip(names, prob, strict=True))]
    flat = out.reshape(len(out), -1)
    head = (
        ["prediction"] if flat.shape[1] == 1 else [f"prediction_{i}" for i in range(flat.shape[1])]
    )
    return [["sample", *head], *([n, *v.tolist()] for n, v in zip(names, flat, strict=True))]


def _classes(out, names, classes, top_k) -> list[list[Any]]:
    width = out.shape[1]
    named = list(classes or [])[:width] + [str(i) for i in range(len(classes or []), width)]
    prob = torch.softmax(out, dim=1)
    if top_k:
        k = min(top_k, width)
        values, index = prob.topk(k, dim=1)
        head = [h for i in range(1, k + 1) for h in (f"class_{i}", f"probability_{i}")]
        rows = [
            [n, *(x for c, p in zip(i.tolist(), v.tolist(), strict=True) for x in (named[c], p))]
            for n, v, i in zip(names, values, index, strict=True)
        ]
        return [["sample", *head], *rows]
    predicted = prob.argmax(1).tolist()
    return [
        ["sample", "prediction", *(f"p_{c}" for c in named)],
        *([n, named[c], *p.tolist()] for n, c, p in zip(names, predicted, prob, strict=True)),
    ]


def as_csv(rows: list[list[Any]]) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    for row in rows:
        writer.writerow([repr(v) if isinstance(v, float) else v for v in row])
    return text.getvalue()
