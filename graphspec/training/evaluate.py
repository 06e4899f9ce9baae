"""After training: the tutorial's test-set report for classifiers (from the outputs that
training/metrics.py collects), the final fit for the fitting tasks. Each returns a plain dict
(for metrics.jsonl and meta.json) and the lines to print.
"""

from __future__ import annotations

from typing import Any

import torch

from graphspec.training.datasets import TensorSet


def classification_lines(
    result: dict[str, Any], accuracy: bool, per_class: bool, fake: str | None, counted: str
) -> list[str]:
    """The tutorial's prints, in its words (`accuracy: false` keeps only the examples)."""
    lines = []
    if result["examples"]:
        truth = " ".join(f"{t:5s}" for t, _ in result["examples"])
        guess = " ".join(f"{p:5s}" for _, p in result["examples"])
        lines += [f"GroundTruth:  {truth}", f"Predicted:  {guess}"]
    n = result["samples"]
    percent = 100 * result["correct"] // n if n else 0
    if accuracy:
        lines.append(f"Accuracy of the network on the {n} test {counted}: {percent} %")
    if accuracy and per_class:
        lines += [
            f"Accuracy for class: {name:5s} is {acc:.1f} %"
            for name, acc in result["per_class"].items()
        ]
    if fake:
        lines.append("(FakeData: the labels are random, so about 10% is what to expect)")
    return lines


def fit(
    model: torch.nn.Module, points: TensorSet, loss_fn: torch.nn.Module, device: torch.device
) -> tuple[dict[str, Any], torch.Tensor]:
    """The trained model over the whole fitting set: its loss and its prediction."""
    model.eval()
    with torch.no_grad():
        inputs = tuple(x.to(device) for x in points.inputs)
        prediction = model(*inputs)
        loss = loss_fn(prediction, points.target.to(device)).item()
    return {"split": "train", "samples": len(points), "loss": loss}, prediction.cpu()


def scalar_params(model: torch.nn.Module) -> dict[str, float]:
    """Learnable scalars owned by the model itself (the sin fit's a, b, c, d)."""
    return {name: p.item() for name, p in model.named_parameters(recurse=False) if p.numel() == 1}


def tutorial_result(
    collected: Any, classes: list[str] | None, examples: int, ignore: int | None
) -> dict[str, Any]:
    """What `classification_lines` prints, from a split's collected outputs (training/
    metrics.collect): the examples, the accuracy's counts, each class's accuracy."""
    from graphspec.training.metrics import rows

    outputs, labels = rows(collected.outputs, collected.targets, ignore)
    width = outputs.shape[1] if outputs.dim() == 2 else 0
    named = list(classes or [])[:width]
    named += [str(i) for i in range(len(named), width)]
    predicted = outputs.argmax(1) if width else labels
    hit = predicted == labels
    seen = torch.bincount(labels, minlength=width).tolist() if width else []
    right = torch.bincount(labels[hit], minlength=width).tolist() if width else []
    shown = list(zip(labels[:examples].tolist(), predicted[:examples].tolist(), strict=True))
    total = len(labels)
    return {
        "split": "test",
        "samples": total,
        "loss": collected.loss,
        "accuracy": 100.0 * hit.sum().item() / total if total else float("nan"),
        "per_class": {n: 100.0 * right[i] / seen[i] for i, n in enumerate(named) if seen[i]},
        "examples": [[named[t], named[p]] for t, p in shown],
        "correct": int(hit.sum().item()),
    }
