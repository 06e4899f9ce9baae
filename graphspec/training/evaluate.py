"""After training: the tutorial's test-set report for classifiers, the final fit for the fitting
tasks. Each returns a plain dict (for metrics.jsonl and meta.json) and the lines to print.
"""

from __future__ import annotations

from typing import Any

import torch

from graphspec.training.datasets import Data, Split, TensorSet


def classification(
    model: torch.nn.Module,
    split: Split,
    data: Data,
    loss_fn: torch.nn.Module,
    device: torch.device,
    examples: int = 4,
) -> dict[str, Any]:
    """Loss, accuracy, per-class accuracy and the first few predictions on `split`."""
    named = list(data.classes or [])
    classes = named + [str(i) for i in range(len(named), _num_classes(model, split, device))]
    correct = total = weight = 0
    loss_sum = 0.0
    right = [0] * len(classes)
    seen = [0] * len(classes)
    shown: list[tuple[int, int]] = []
    model.eval()
    with torch.no_grad():  # not training: no gradients needed
        for inputs, labels in split.batches():
            inputs = tuple(x.to(device) for x in inputs)
            labels = labels.to(device)
            outputs = model(*inputs)
            loss_sum += loss_fn(outputs, labels).item() * labels.size(0)
            weight += labels.size(0)
            outputs, labels = per_position(outputs, labels, loss_fn)
            _, predicted = torch.max(outputs, 1)  # the class with the highest energy
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
            for label, guess in zip(labels.tolist(), predicted.tolist(), strict=True):
                seen[label] += 1
                right[label] += int(label == guess)
                if len(shown) < examples:
                    shown.append((label, guess))
    return {
        "split": "test",
        "samples": total,
        "loss": loss_sum / weight if weight else float("nan"),
        "accuracy": 100.0 * correct / total if total else float("nan"),
        "per_class": {
            name: 100.0 * right[i] / seen[i] for i, name in enumerate(classes) if seen[i]
        },
        "examples": [[classes[t], classes[p]] for t, p in shown],
        "correct": correct,
    }


def per_position(
    outputs: torch.Tensor, labels: torch.Tensor, loss_fn: torch.nn.Module
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C, d1, ...) outputs with (N, d1, ...) labels (a class per token or pixel) as
    (M, C) and (M,): one row per position, positions the loss ignores (ignore_index) left out."""
    if outputs.dim() > 2:
        outputs = outputs.movedim(1, -1).reshape(-1, outputs.shape[1])
        labels = labels.reshape(-1)
    ignore = getattr(loss_fn, "ignore_index", None)
    if ignore is not None and not labels.is_floating_point():
        keep = labels != ignore
        outputs, labels = outputs[keep], labels[keep]
    return outputs, labels


def _num_classes(model: torch.nn.Module, split: Split, device: torch.device) -> int:
    inputs, _ = next(iter(split.batches()))
    with torch.no_grad():
        return model(*(x.to(device) for x in inputs)).shape[1]


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


def final_loss(
    model: torch.nn.Module, split: Split, loss_fn: torch.nn.Module, device: torch.device
) -> dict[str, Any]:
    """Mean loss over the training set with the final weights (no test split to use)."""
    total, n = 0.0, 0
    model.eval()
    with torch.no_grad():
        for inputs, target in split.batches():
            out = model(*(x.to(device) for x in inputs))
            total += loss_fn(out, target.to(device)).item() * target.shape[0]
            n += target.shape[0]
    return {"split": "train", "samples": n, "loss": total / n if n else float("nan")}


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
