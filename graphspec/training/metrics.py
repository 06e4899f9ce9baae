"""Metrics by name over a whole split's outputs and targets, computed by scikit-learn's metrics.

`collect` runs the model over a split once (eval mode, no gradients) and keeps every output and
target on the CPU; `compute` turns them into the metrics `evaluate:` asks for
(language/recipe.py names them and says which task can have which). The end of a run and
`graphspec evaluate` both call these two, so the same weights on the same split give the same
numbers. Accuracy, topK and per_class are percentages (as the tutorial prints them and as the
validation records them); precision, recall, f1, auroc and r2 are fractions, as scikit-learn
gives them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from graphspec.language.recipe import Evaluate, evaluation_metrics, task_of
from graphspec.training.datasets import Batch

CLASS_TASKS = ("classification", "sequence")


@dataclass
class Collected:
    """A split's outputs and targets, one row per scored sample or position."""

    outputs: torch.Tensor
    targets: torch.Tensor
    loss: float
    """The loss over the split: each batch's mean weighted by its samples."""
    samples: int


def collect(
    model: torch.nn.Module, batches: Iterable[Batch], loss_fn: torch.nn.Module, device: Any
) -> Collected:
    """Every output and target of a split's batches, with the loss, the model in eval mode."""
    outs, targets = [], []
    loss_sum, n = 0.0, 0
    model.eval()
    with torch.no_grad():
        for inputs, target in batches:
            out = model(*(x.to(device) for x in inputs))
            target = target.to(device)
            loss_sum += loss_fn(out, target).item() * target.shape[0]
            n += target.shape[0]
            outs.append(out.float().cpu())
            targets.append(target.cpu())
    if not outs:
        return Collected(torch.empty(0), torch.empty(0), float("nan"), 0)
    return Collected(torch.cat(outs), torch.cat(targets), loss_sum / n, n)


def rows(outputs: torch.Tensor, targets: torch.Tensor, ignore: int | None):
    """(N, C, d1, ...) outputs with (N, d1, ...) labels as (M, C) and (M,), one row per
    position, the positions the loss ignores left out (as emit --train's script scores them)."""
    if outputs.dim() > 2:
        outputs = outputs.movedim(1, -1).reshape(-1, outputs.shape[1])
        targets = targets.reshape(-1)
    if ignore is not None:
        keep = targets != ignore
        outputs, targets = outputs[keep], targets[keep]
    return outputs, targets


def compute(
    collected: Collected,
    names: list[str],
    task: str,
    *,
    loss: str,
    classes: list[str] | None = None,
    threshold: float = 0.5,
    ignore: int | None = None,
) -> dict[str, Any]:
    """The metrics `names` for `task` (recipe.task_of) from a split's outputs and targets."""
    result: dict[str, Any] = {"loss": collected.loss}
    out, target = collected.outputs, collected.targets
    if task in ("classification", "sequence"):
        result.update(_classes(out, target, names, loss, classes, ignore))
    elif task == "binary":
        result.update(_binary(out, target, names, loss, threshold))
    else:
        result.update(_values(out, target, names))
    return {k: result[k] for k in ["loss", *names] if k in result}


def _classes(out, target, names, loss, classes, ignore) -> dict[str, Any]:
    from sklearn import metrics as sk

    out, target = rows(out, target, ignore)
    width = out.shape[1]
    labels = list(range(width))
    y, pred = target.numpy(), out.argmax(1).numpy()
    named = list(classes or [])[:width] + [str(i) for i in range(len(classes or []), width)]
    found: dict[str, Any] = {"accuracy": 100.0 * sk.accuracy_score(y, pred)}
    for name in names:
        if name.startswith("top"):
            k = min(int(name[3:]), width)
            scores = out.numpy()
            found[name] = 100.0 * sk.top_k_accuracy_score(y, scores, k=k, labels=labels)
        elif name.split("_")[0] in ("precision", "recall", "f1"):
            found[name] = _prf(sk, y, pred, name, labels)
        elif name == "auroc":
            found[name] = _auroc_classes(sk, out, y, labels)
        elif name == "perplexity":
            log_p = (
                out if loss == "NLLLoss" else torch.log_softmax(out.double(), dim=1)
            )  # NLLLoss takes log-probabilities already
            nll = torch.nn.functional.nll_loss(log_p.double(), target, reduction="mean")
            found[name] = math.exp(nll.item())
        elif name == "per_class":
            right = sk.confusion_matrix(y, pred, labels=labels)
            seen = right.sum(1)
            found[name] = {named[i]: 100.0 * right[i, i] / seen[i] for i in labels if seen[i]}
        elif name == "confusion_matrix":
            found[name] = {
                "classes": named,
                "matrix": sk.confusion_matrix(y, pred, labels=labels).tolist(),
            }
    return found


def _prf(sk: Any, y, pred, name: str, labels) -> float:
    metric, _, average = name.partition("_")
    fn = {"precision": sk.precision_score, "recall": sk.recall_score, "f1": sk.f1_score}[metric]
    return float(fn(y, pred, labels=labels, average=average or "macro", zero_division=0))


def _auroc_classes(sk: Any, out: torch.Tensor, y, labels) -> float:
    """One-vs-rest ROC-AUC over softmax probabilities (NaN when a class is never seen)."""
    if len(set(y.tolist())) < len(labels):
        return float("nan")
    prob = torch.softmax(out.double(), dim=1).numpy()
    return float(sk.roc_auc_score(y, prob, multi_class="ovr", labels=labels))


def probabilities(out: torch.Tensor, loss: str) -> torch.Tensor:
    """A BCE run's outputs as probabilities: BCEWithLogitsLoss's are logits."""
    return torch.sigmoid(out) if loss == "BCEWithLogitsLoss" else out


def _binary(out, target, names, loss, threshold) -> dict[str, Any]:
    from sklearn import metrics as sk

    prob = probabilities(out, loss).reshape(-1).double().numpy()
    y = target.reshape(-1).numpy().round().astype(np.int64)
    pred = (prob >= threshold).astype(np.int64)
    found: dict[str, Any] = {"accuracy": 100.0 * sk.accuracy_score(y, pred)}
    for name in names:
        if name.split("_")[0] in ("precision", "recall", "f1"):
            metric, _, average = name.partition("_")
            fn = {"precision": sk.precision_score, "recall": sk.recall_score,
                  "f1": sk.f1_score}[metric]  # fmt: skip
            found[name] = float(
                fn(y, pred, labels=[0, 1], average=average or "binary", zero_division=0)
            )
        elif name == "auroc":
            found[name] = float(sk.roc_auc_score(y, prob)) if len(set(y.tolist())) > 1 else math.nan
        elif name == "confusion_matrix":
            found[name] = {
                "classes": ["0", "1"],
                "matrix": sk.confusion_matrix(y, pred, labels=[0, 1]).tolist(),
            }
    return found


def _values(out, target, names) -> dict[str, Any]:
    from sklearn import metrics as sk

    n = out.shape[0]
    p = out.reshape(n, -1).double().numpy()
    y = target.reshape(n, -1).double().numpy()
    mse = float(sk.mean_squared_error(y, p))
    found: dict[str, Any] = {
        "mse": mse,
        "mae": float(sk.mean_absolute_error(y, p)),
        "rmse": math.sqrt(mse),
    }
    if "r2" in names:
        found["r2"] = float(sk.r2_score(y, p)) if n > 1 else math.nan
    return found


def measure(
    collected: Collected, spec: Any, classes: list[str] | None, ignore: int | None
) -> dict[str, Any]:
    """The metrics `evaluate:` asks for (or the task's own) with the count scored: what the end
    of a run records and `graphspec evaluate` reproduces."""
    task = task_of(spec.loss.op, spec.data)
    names = evaluation_metrics(spec.evaluate, spec.loss.op, spec.data)
    threshold = (spec.evaluate or Evaluate()).threshold
    found = compute(collected, names, task, loss=spec.loss.op, classes=classes,
                    threshold=threshold, ignore=ignore)  # fmt: skip
    samples = collected.samples
    if task in CLASS_TASKS:  # the positions scored
        samples = len(rows(collected.outputs, collected.targets, ignore)[1])
    return {"samples": samples, **found}


def summary_line(split: str, result: dict[str, Any], counted: str) -> str:
    """`test split, 20 samples: loss 0.1, mse 0.1, ...` (emit --train's script prints it too)."""
    shown = ", ".join(f"{k} {v}" for k, v in table_lines(result))
    return f"{split} split, {result['samples']:,} {counted}: {shown}"


def table_lines(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, value) rows of a result's numbers (per_class and the matrix are in files)."""
    return [
        (k, f"{v:.6g}")
        for k, v in result.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and k != "samples"
    ]
