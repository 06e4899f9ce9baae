"""preprocess.json: what a run did to its data before the model saw it, kept as data beside the
weights so new data can be prepared the same way (`graphspec predict`, exports' metadata).

It holds facts, never code: the task and loss, the model's inputs (names, shapes, dtypes), the
class names, the data source's settings as the spec gave them, a table's feature columns and
standardisation
statistics and a text's vocabulary (both as the generated make_data() computed them over the
training split), and the image transforms of the evaluation path (random augmentations left
out: a flip is dropped, a random crop becomes a centre crop of its size).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphspec.data.transforms import transform_steps
from graphspec.language.recipe import task_of

FILE = "preprocess.json"
VERSION = 1


def state(compiled: Any, data: Any) -> dict[str, Any]:
    """The preprocessing state of a run whose data is built (`datasets.Data`)."""
    spec = compiled.spec
    made = data.program.namespace.get("make_data")
    source = spec.data
    record: dict[str, Any] = {
        "version": VERSION,
        "task": task_of(spec.loss.op, source),
        "loss": spec.loss.op,
        "threshold": (spec.evaluate.threshold if spec.evaluate else 0.5),
        "inputs": [
            {"name": t.name, "shape": [str(d) for d in t.out.shape], "dtype": t.out.dtype}
            for t in compiled.graph.inputs
        ],
        "outputs": [
            {"name": t.name, "shape": [str(d) for d in t.out.shape]} for t in compiled.graph.outputs
        ],
        "classes": list(data.classes) if data.classes is not None else None,
        "data": source.model_dump(mode="json"),
        "reads_as": type(source).reads_as,
        "features": getattr(made, "features", None),
        "standardize": getattr(made, "standardize", None),
        "vocabulary": getattr(made, "vocabulary", None),
    }
    transforms = getattr(source, "transforms", None)
    if transforms is not None:
        record["eval_transforms"] = eval_transforms(transforms)
    return record


def eval_transforms(transforms: list[Any]) -> list[list[Any]]:
    """[name, arguments] of each transform a test image goes through."""
    steps = []
    for name, args in transform_steps(transforms):
        if name == "RandomHorizontalFlip":
            continue
        if name == "RandomCrop":
            name, args = "CenterCrop", {"size": args["size"]}
        steps.append([name, {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}])
    return steps


def write(run_dir: Path, record: dict[str, Any]) -> None:
    from graphspec.training.run_folder import write_json

    write_json(run_dir / FILE, record)
