"""The test metrics of an `emit --train` script, in plain torch: the script runs where only torch
is installed, so it cannot call scikit-learn as `graphspec run` does (training/metrics.py). The
two print the same line for the same weights (tests/program/test_script_metrics.py holds them
to it), which makes each a check of the other. Nothing here imports torch: `SOURCE` is text.
"""

from __future__ import annotations

from typing import Any

from graphspec.core.codetext import literal
from graphspec.language.recipe import evaluation_metrics, task_of

SOURCE = '''
def binary_auroc(score, y):
    """ROC-AUC as the Mann-Whitney statistic: ranks of the positives, ties sharing a rank."""
    positives, negatives = int(y.sum()), int((1 - y).sum())
    if not positives or not negatives:
        return math.nan
    _, inverse, counts = torch.unique(score, sorted=True, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    ranks = (ends - (counts.double() - 1) / 2)[inverse]
    above = ranks[y == 1].sum() - positives * (positives + 1) / 2
    return (above / (positives * negatives)).item()


def prf(confusion, name, binary):
    """precision, recall or f1 from a confusion matrix (rows: true, columns: predicted)."""
    metric, _, average = name.partition("_")
    average = average or ("binary" if binary else "macro")
    tp = confusion.diag().double()
    predicted, actual = confusion.sum(0).double(), confusion.sum(1).double()
    if average == "micro":
        tp, predicted, actual = tp.sum(), predicted.sum(), actual.sum()
    ratio = lambda a, b: torch.where(b > 0, a / b.clamp_min(1), torch.zeros_like(a))  # noqa: E731
    precision, recall = ratio(tp, predicted), ratio(tp, actual)
    value = {
        "precision": precision,
        "recall": recall,
        "f1": ratio(2 * precision * recall, precision + recall),
    }[metric]
    if average == "binary":
        return value[1].item()
    if average == "weighted":
        return (value * actual).sum().item() / actual.sum().item()
    return value.mean().item()


def test_metrics(outputs, targets, loss, names, task, threshold):
    """The metrics `names` for `task` over a split's outputs and targets (plain torch)."""
    found = {"loss": loss}
    if task in ("classification", "sequence"):
        width = outputs.shape[1]
        predicted = outputs.argmax(1)
        confusion = torch.bincount(targets * width + predicted, minlength=width * width)
        confusion = confusion.reshape(width, width)
        found["accuracy"] = 100.0 * (predicted == targets).double().mean().item()
        for name in names:
            if name.startswith("top"):
                ranked = outputs.topk(min(int(name[3:]), width), dim=1).indices
                hit = (ranked == targets[:, None]).any(1)
                found[name] = 100.0 * hit.double().mean().item()
            elif name.split("_")[0] in ("precision", "recall", "f1"):
                found[name] = prf(confusion, name, False)
            elif name == "auroc":
                seen = torch.bincount(targets, minlength=width)
                prob = torch.softmax(outputs.double(), dim=1)
                per_class = [binary_auroc(prob[:, c], (targets == c).long()) for c in range(width)]
                found[name] = sum(per_class) / width if bool((seen > 0).all()) else math.nan
            elif name == "perplexity":
                log_p = outputs.double() if LOSS == "NLLLoss" else outputs.double().log_softmax(1)
                found[name] = math.exp(F.nll_loss(log_p, targets).item())
    elif task == "binary":
        prob = outputs.reshape(-1).double()
        prob = torch.sigmoid(prob) if LOSS == "BCEWithLogitsLoss" else prob
        y = targets.reshape(-1).round().long()
        predicted = (prob >= threshold).long()
        confusion = torch.bincount(y * 2 + predicted, minlength=4).reshape(2, 2)
        found["accuracy"] = 100.0 * (predicted == y).double().mean().item()
        for name in names:
            if name.split("_")[0] in ("precision", "recall", "f1"):
                found[name] = prf(confusion, name, True)
            elif name == "auroc":
                found[name] = binary_auroc(prob, y)
    else:
        n = outputs.shape[0]
        p, y = outputs.reshape(n, -1).double(), targets.reshape(n, -1).double()
        found["mse"] = (p - y).pow(2).mean().item()
        found["mae"] = (p - y).abs().mean().item()
        found["rmse"] = math.sqrt(found["mse"])
        spread = (y - y.mean(0)).pow(2).sum(0)
        r2 = 1 - (p - y).pow(2).sum(0) / spread
        r2 = torch.where(spread > 0, r2, torch.where((p - y).pow(2).sum(0) > 0, 0.0, 1.0))
        found["r2"] = r2.mean().item() if n > 1 else math.nan
    return {k: found[k] for k in ["loss", *names] if k in found}
'''.strip()


def settings(spec: Any) -> list[str]:
    """The constants test_metrics() and the script's evaluate() read."""
    names = evaluation_metrics(spec.evaluate, spec.loss.op, spec.data)
    shown = [n for n in names if n not in ("per_class", "confusion_matrix")]
    threshold = spec.evaluate.threshold if spec.evaluate else 0.5
    return [
        f"LOSS = {literal(spec.loss.op)}",
        f"TASK = {literal(task_of(spec.loss.op, spec.data))}",
        f"TEST_METRICS = {literal(shown)}  # evaluate.metrics, or the task's own",
        f"THRESHOLD = {threshold!r}",
    ]
