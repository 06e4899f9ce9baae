"""Checks across sections, once every shape is known: the loss against the model's output and the
data's targets, and loader sizes that would give no batch. Pure Python, no torch.

Each check returns located problems; `check` raises them together. What needs torch or the
machine (is `cuda:7` present? is the dataset on disk?) is checked by `run` before it writes
anything: `job.resolve_device` and `data_check`. `validate` checks only the device's form, so it
stays torch-free and gives the same answer on every machine.
"""

from __future__ import annotations

from typing import Any

from graphspec.compiler.infer import TypedGraph
from graphspec.core.errors import Problem, SpecError
from graphspec.core.shapes import Dim, TensorType
from graphspec.language.load import Document
from graphspec.language.recipe import (
    CLASSIFICATION_LOSSES,
    CLOSURE_OPTIMIZERS,
    evaluation_metrics,
    validation_metrics,
)
from graphspec.language.recipe_checks import recipe_problems
from graphspec.language.spec import Spec


def check(spec: Spec, graph: TypedGraph, doc: Document) -> None:
    problems = _trainable(spec, doc) + _loss_problems(spec, graph, doc)
    problems += _loader_problems(spec, doc) + _amp_problems(spec, doc)
    problems += recipe_problems(spec, doc)
    problems += _pattern_problems(spec, graph, doc)
    problems += _metric_problems(spec, doc)
    if problems:
        raise SpecError(problems)


def _trainable(spec: Spec, doc: Document) -> list[Problem]:
    """A spec with `data:` is one `graphspec run` trains: it needs a loss and an optimizer."""
    if spec.data is None:
        return []
    return [
        Problem(
            "E-MISSING",
            f"missing '{key}': a spec with data: is trained, and training needs one",
            doc.pos(("data",)),
            hint=f"add a top-level {key}: line, e.g. {example}",
        )
        for key, example in _EXAMPLES.items()
        if getattr(spec, key) is None
    ]


_EXAMPLES = {"loss": "'loss: MSELoss'", "optimizer": "'optimizer: {op: SGD, lr: 0.01}'"}


def _metric_problems(spec: Spec, doc: Document) -> list[Problem]:
    """Metrics asked for (evaluate:, train.validation.metrics) that the task cannot have:
    refused here, never left out quietly at the end of a run."""
    if spec.loss is None or spec.data is None:
        return []
    problems, op = [], spec.loss.op
    asked = [(("evaluate",), lambda: evaluation_metrics(spec.evaluate, op, spec.data))]
    if spec.train.validation is not None:
        val = spec.train.validation
        asked.append((("train", "validation"), lambda: validation_metrics(val, op, spec.data)))
    for path, metrics in asked:
        try:
            metrics()
        except ValueError as err:
            where = _metric_pos(doc, path, str(err))
            hint = "leave out `metrics:` for the task's own"
            problems.append(Problem("E-LOSS", str(err), where, hint=hint))
    return problems


def _metric_pos(doc: Document, path: tuple, message: str) -> Any:
    """The list item naming the metric, where there is one; else the section (or accuracy:)."""
    name = message.split("'")[1] if "'" in message else ""
    section = doc.data
    for key in path:
        section = section.get(key) if isinstance(section, dict) else None
    items = section.get("metrics") if isinstance(section, dict) else None
    if isinstance(items, list) and name in items:
        return doc.pos((*path, "metrics", items.index(name)))
    if name == "accuracy" and isinstance(section, dict) and "accuracy" in section:
        return doc.pos((*path, "accuracy"))
    return doc.pos(path)


# -- loss against output and data -------------------------------------------------------------


def _loss_problems(spec: Spec, graph: TypedGraph, doc: Document) -> list[Problem]:
    if spec.loss is None or spec.data is None:
        return []  # a loss without data is reported as missing data (E-MISSING), not here
    pos = doc.pos(("loss",))
    outs = graph.outputs
    if len(outs) != 1:
        names = ", ".join(f"'{t.name}'" for t in outs)
        return [
            Problem(
                "E-GRAPH",
                f"the loss needs one model output, the model has {len(outs)}: {names}",
                pos,
                hint="list one node under model.outputs",
            )
        ]
    out, op, source = outs[0].out, spec.loss.op, spec.data.source
    name = outs[0].name
    if spec.data.reconstructs():
        return _reconstruction_problems(op, out, name, graph, pos)
    if op in CLASSIFICATION_LOSSES and spec.data.gives_labels():
        classes, where = spec.data.class_count()
        labels = spec.data.label_shape()
        return _class_problems(op, out, name, (classes, where), labels, pos)
    if op not in CLASSIFICATION_LOSSES and spec.data.gives_labels():
        return [
            Problem(
                "E-LOSS",
                f"{op} compares the output with a target of its shape, but "
                f"{source} data gives class labels",
                pos,
                name,
                hint=_labels_hint(spec, graph, out),
            )
        ]
    target = spec.data.target_shape()
    if target is not None and not _same_sample_shape(out, target):
        shown = "(" + ", ".join(map(str, target)) + ")"
        return [
            Problem(
                "E-LOSS",
                f"{op}: the model output {out} does not match the target "
                f"{shown} of the {source} data",
                pos,
                name,
                hint="make the output the target's shape (torch would broadcast "
                "silently, or fail at the first batch)",
            )
        ]
    return []


def _labels_hint(spec: Spec, graph: TypedGraph, out: TensorType) -> str:
    """What fits a regression loss over data of class labels: it depends on the model."""
    first = graph.inputs[0].out if graph.inputs else None
    if first is not None and out.shape == first.shape:
        # the output has the input's shape: an autoencoder, whose target is its input
        from graphspec.data import SOURCES

        able = sorted(
            tag
            for cls in SOURCES
            if cls.can_reconstruct
            for tag in cls.model_fields["source"].annotation.__args__
        )
        if type(spec.data).can_reconstruct:
            return (
                "the output has the input's shape: to reconstruct the input, add "
                "'target: input' to data:"
            )
        return (
            "the output has the input's shape: to reconstruct the input, use a source with "
            f"'target: input' ({', '.join(able)})"
        )
    if out.rank == 2:
        return "use CrossEntropyLoss for class labels (the output's width is the classes)"
    return (
        f"class labels need CrossEntropyLoss over a (N, C, ...) output; for {spec.loss.op}, "
        "use data whose target is values of the output's shape"
    )


def _reconstruction_problems(
    op: str, out: TensorType, name: str, graph: TypedGraph, pos: Any
) -> list[Problem]:
    """`target: input`: the output must be the first input's shape, and a loss over values."""
    first = graph.inputs[0] if graph.inputs else None
    if op in CLASSIFICATION_LOSSES:
        return [Problem("E-LOSS", f"{op} needs class labels, but target: input makes the "
                        "target the input's values", pos, name,
                        hint="use a reconstruction loss such as MSELoss, L1Loss or "
                        "BCELoss (pixels in [0, 1])")]  # fmt: skip
    if first is not None and not _same_dims(out.shape, first.out.shape):
        return [
            Problem(
                "E-LOSS",
                f"{op}: target: input makes the target the input '{first.name}' "
                f"{first.out}, but the model output is {out}",
                pos,
                name,
                hint="a reconstruction's output has its input's shape (decode back to it)",
            )
        ]
    return []


def _same_dims(a: tuple[Dim, ...], b: tuple[Dim, ...]) -> bool:
    """Equal rank and no static size that differs (symbols are not judged)."""
    if len(a) != len(b):
        return False
    return all(x == y or not (x.is_static and y.is_static) for x, y in zip(a, b, strict=True))


def _class_problems(
    op: str,
    out: TensorType,
    name: str,
    counted: tuple[int | None, str],
    labels: tuple[int | str, ...] | None,
    pos: Any,
) -> list[Problem]:
    """Class labels against the output: (N, C) for one label per sample, (N, C, d1, ...) for
    labels (N, d1, ...) per token or pixel (torch's rule); C is dimension 1 either way."""
    extra = labels or ()
    want = "(N, C" + "".join(f", {d}" for d in extra) + ")"
    problem = None
    if out.rank != 2 + len(extra):
        if not extra:
            hint = ("one label per sample needs (N, C): flatten (start_dim: 1) and end with a "
                    "Linear layer giving one value per class")  # fmt: skip
        else:
            hint = f"labels of shape (N, {', '.join(map(str, extra))}) need classes in dim 1"
        problem = (f"{op} with class labels needs a {want} output, got {out}", hint)
    elif extra and not _same_dims(out.shape[2:], tuple(Dim.of(d) for d in extra)):
        hint = "the classes go in dimension 1, the labels' sizes after them (torch's rule)"
        if _same_dims(out.shape[1:-1], tuple(Dim.of(d) for d in extra)):
            hint = (
                f"the classes are last in {out}: torch wants them in dimension 1; add "
                f"{{op: transpose, dim0: 1, dim1: {out.rank - 1}}} as the last layer"
            )
        problem = (f"{op}: labels of shape (N, {', '.join(map(str, extra))}) need a {want} "
                   f"output, got {out}", hint)  # fmt: skip
    if problem is not None:
        return [Problem("E-LOSS", problem[0], pos, name, hint=problem[1])]
    classes, where = counted
    if classes is not None and out.shape[1] != Dim(classes):
        return [
            Problem(
                "E-LOSS",
                f"{op}: the output {out} has {out.shape[1]} classes, the data "
                f"has {classes} ({where})",
                pos,
                name,
                hint=f"make the layer before the loss give {classes} values in dimension 1 "
                f"(out_features: {classes})",
            )
        ]
    return []


def _same_sample_shape(out: TensorType, target: tuple[int, ...]) -> bool:
    """Equal rank and equal sizes after the batch dimension (symbolic sizes are not judged)."""
    if out.rank != len(target):
        return False
    return all(
        not d.is_static or d.value == t for d, t in zip(out.shape[1:], target[1:], strict=True)
    )


# -- fine-tuning ------------------------------------------------------------------------------


def _pattern_problems(spec: Spec, graph: TypedGraph, doc: Document) -> list[Problem]:
    """Each `train.freeze` and `optimizer.groups` pattern must name a parameter (E-REF): one
    that matches nothing is a typo that would silently train everything."""
    groups = getattr(spec.optimizer, "groups", None) or []
    if not spec.train.freeze and not groups:
        return []
    from graphspec.compiler.state import state_table
    from graphspec.language.recipe import group_patterns
    from graphspec.language.weights import matches

    keys = list(state_table(graph))
    named = [(p, ("train", "freeze", i)) for i, p in enumerate(spec.train.freeze)]
    named += [(p, ("optimizer", "groups", i, "params")) for i, g in enumerate(groups)
              for p in group_patterns(g)]  # fmt: skip
    return [
        Problem(
            "E-REF",
            f"'{pattern}' matches no parameter or buffer of the model",
            doc.pos(path),
            hint=f"state_dict keys look like '{keys[0] if keys else 'fc.weight'}'; patterns "
            "are fnmatch's (fc.*, layer[12].*)",
        )  # fmt: skip
        for pattern, path in named
        if not any(matches(k, [pattern]) for k in keys)
    ]


# -- loaders ---------------------------------------------------------------------------------


def _loader_problems(spec: Spec, doc: Document) -> list[Problem]:
    data = spec.data
    if data is None:
        return []
    problems = data.problems(doc.pos)
    n, what = data.sample_count()
    batch = getattr(data, "batch_size", None)
    if n is not None and batch is not None and data.drop_last and batch > n:
        problems.append(
            Problem(
                "E-CONSTRAINT",
                f"batch_size {batch} is larger than the {n} samples ({what}) and "
                "drop_last drops the only, partial, batch: training would take no step",
                doc.pos(("data", "batch_size")),
                hint=f"use batch_size <= {n}, or drop_last: false",
            )
        )
    return problems


def _amp_problems(spec: Spec, doc: Document) -> list[Problem]:
    """float16 autocast needs CUDA (the CPU autocasts to bfloat16) and a grad scaler, which a
    closure optimizer's several evaluations per step cannot use."""
    if spec.train is None or spec.train.amp != "fp16":
        return []
    pos = doc.pos(("train", "amp"))
    if spec.device in ("cpu", "mps"):
        return [Problem("E-CONSTRAINT", f"train.amp fp16 on device {spec.device}: float16 "
                        "autocast is for CUDA", pos, hint="use amp: bf16 on the CPU")]  # fmt: skip
    if spec.optimizer is not None and spec.optimizer.op in CLOSURE_OPTIMIZERS:
        return [Problem("E-CONSTRAINT", f"train.amp fp16 with {spec.optimizer.op}: its closure "
                        "cannot be gradient-scaled", pos, hint="use amp: bf16")]  # fmt: skip
    return []
