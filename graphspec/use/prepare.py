"""New data prepared as the run prepared its own, from preprocess.json alone: a table's columns
by name scaled by the stored mean and std, arrays checked against the model's input shapes,
images through the evaluation transforms. Each returns the model's inputs, the target where the
data holds one (for `evaluate --data`), and a name per sample for the predictions file.

Every mistake is E-DATA naming the file and the column or shape that differs from training.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from graphspec.core.errors import fail

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")


@dataclass
class Prepared:
    inputs: tuple[torch.Tensor, ...]
    target: torch.Tensor | None
    names: list[str]
    """One per sample: a row number, an index, an image's file name."""


def data_error(message: str, hint: str | None = None) -> Exception:
    return fail("E-DATA", message, hint=hint)


def prepare(state: dict[str, Any], path: str, want_target: bool = False) -> Prepared:
    """`path` read and prepared by the kind of data the run trained on."""
    reads = state.get("reads_as")  # the data source's own word for it (data/base.py)
    where = Path(path)
    if not where.exists():
        raise data_error(f"'{path}' does not exist")
    readers = {"table": _table, "numpy": _arrays, "images": _images}
    if reads in readers:
        return readers[reads](state, where, want_target)
    raise data_error(
        f"predict reads tables, arrays and images; this run trained on "
        f"{state['data'].get('source')} data",
        "for a text model, use `graphspec sample RUN_DIR --prompt TEXT`",
    )


# -- tables -----------------------------------------------------------------------------------


def _table(state: dict[str, Any], path: Path, want_target: bool) -> Prepared:
    data = state["data"]
    delimiter = data.get("delimiter") or (
        "\t" if str(data["path"]).lower().endswith((".tsv", ".tab")) else ","
    )
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [row for row in csv.reader(f, delimiter=delimiter)]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise data_error(f"'{path}' is not a UTF-8 CSV/TSV table ({err})") from None
    if not rows:
        raise data_error(f"'{path}' is empty: a header row naming the columns comes first")
    header = [c.strip() for c in rows[0]]
    target = data["target"]
    features = state.get("features") or data.get("features") or _trained(state, header, path)
    for column in features:
        if column not in header:
            raise data_error(
                f"'{path}' has no column '{column}' (the run trained on {', '.join(features)})",
                f"its columns: {', '.join(header)}",
            )
    reconstruct = target == "input"
    if want_target and not reconstruct and target not in header:
        raise data_error(f"'{path}' has no target column '{target}' to evaluate against")
    index = [header.index(c) for c in features]
    x, y, names = [], [], []
    for line, row in enumerate(rows[1:], 2):
        if not row:
            continue
        if len(row) != len(header):
            raise data_error(f"'{path}' row {line} has {len(row)} cells, the header {len(header)}")
        x.append([_number(row[i], path, line, header[i]) for i in index])
        if want_target and not reconstruct:
            y.append(_number(row[header.index(target)], path, line, target))
        names.append(str(line))
    if not x:
        raise data_error(f"'{path}' has a header and no rows")
    inputs = torch.tensor(x, dtype=torch.float32)
    stats = state.get("standardize")
    if stats:  # the training rows' mean and std, as stored: never recomputed here
        inputs = (inputs - torch.tensor(stats["mean"])) / torch.tensor(stats["std"])
    labels = None
    if want_target:
        labels = inputs if reconstruct else torch.tensor(y)
        labels = labels.to(torch.int64) if data.get("num_classes") else labels
    return Prepared((inputs,), labels, names)


def _trained(state: dict[str, Any], header: list[str], path: Path) -> list[str]:
    """A run folder without its feature names: every column but the target, if they fit."""
    features = [c for c in header if c != state["data"]["target"]]
    width = state["inputs"][0]["shape"][-1]
    if width.isdigit() and len(features) != int(width):
        raise data_error(
            f"'{path}' has {len(features)} feature columns ({', '.join(features)}); the model "
            f"takes {width}",
            "give the columns the run trained on (and the target's column, or none)",
        )
    return features


def _number(cell: str, path: Path, line: int, column: str) -> float:
    try:
        return float(cell)
    except ValueError:
        message = f"'{path}' row {line}, column '{column}': {cell[:40]!r} is not a number"
        raise data_error(message) from None


# -- arrays -----------------------------------------------------------------------------------


def _arrays(state: dict[str, Any], path: Path, want_target: bool) -> Prepared:
    import numpy as np

    specs = state["inputs"]
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                names = state["data"].get("inputs") or [s["name"] for s in specs]
                missing = [n for n in names if n not in archive.files]
                if missing:
                    raise data_error(f"'{path}' has no array '{missing[0]}'",
                                     f"its arrays: {', '.join(archive.files)}")  # fmt: skip
                arrays = [archive[n] for n in names]
                target_name = state["data"].get("target", "y")
                target = archive[target_name] if want_target and target_name in archive else None
        else:
            if len(specs) != 1:
                raise data_error(f"the model takes {len(specs)} inputs: give an .npz holding each")
            arrays, target = [np.load(path, allow_pickle=False)], None
    except (OSError, ValueError) as err:
        raise data_error(f"'{path}' is not a NumPy file ({err})") from None
    if want_target and target is None:
        raise data_error(f"'{path}' holds no target array to evaluate against")
    inputs = tuple(_input(a, s, path) for a, s in zip(arrays, specs, strict=True))
    labels = None
    if target is not None:
        labels = torch.from_numpy(target)
        labels = labels.to(torch.float32) if labels.is_floating_point() else labels
    return Prepared(inputs, labels, [str(i) for i in range(len(inputs[0]))])


def _input(array: Any, spec: dict[str, Any], path: Path) -> torch.Tensor:
    """One input as the run fed it (floats as float32), its per-sample shape checked."""
    tensor = torch.from_numpy(array)
    tensor = tensor.to(torch.float32) if tensor.is_floating_point() else tensor
    _check_shape(tuple(tensor.shape), spec, f"'{path}'")
    return tensor


def _check_shape(shape: tuple[int, ...], spec: dict[str, Any], what: str) -> None:
    want = spec["shape"]
    fits = len(shape) == len(want) and all(
        not w.isdigit() or int(w) == s for w, s in zip(want[1:], shape[1:], strict=False)
    )
    if not fits:
        shown = "(" + ", ".join(want) + ")"
        raise data_error(
            f"{what} has shape {tuple(shape)}; the model's input '{spec['name']}' is {shown}",
            "samples first, then the sizes the run trained on",
        )


# -- images -----------------------------------------------------------------------------------


def _images(state: dict[str, Any], path: Path, want_target: bool) -> Prepared:
    from PIL import Image, UnidentifiedImageError

    classes = state.get("classes") or []
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    else:
        files = [path]
    if not files:
        raise data_error(f"'{path}' holds no images ({', '.join(IMAGE_SUFFIXES)})")
    transform = eval_transform(state.get("eval_transforms") or [["ToTensor", {}]])
    tensors, labels = [], []
    for file in files:
        try:
            with Image.open(file) as image:
                image = image.convert("RGB")
                tensors.append(transform(image))
        except (OSError, UnidentifiedImageError) as err:
            raise data_error(f"'{file}' is not an image ({err})") from None
        if want_target:
            if file.parent.name not in classes:
                raise data_error(f"'{file}': its folder '{file.parent.name}' is not a class of "
                                 f"the run ({', '.join(classes)})")  # fmt: skip
            labels.append(classes.index(file.parent.name))
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        raise data_error(
            f"the images of '{path}' come out in sizes {sorted(shapes)}",
            "the run's transforms gave it one size; add Resize to its spec",
        )
    batch = torch.stack(tensors)
    _check_shape(tuple(batch.shape), state["inputs"][0], f"'{path}'")
    target = torch.tensor(labels) if want_target else None
    root = path if path.is_dir() else path.parent
    return Prepared((batch,), target, [str(f.relative_to(root)) for f in files])


def eval_transform(steps: list[list[Any]]) -> Any:
    """torchvision's Compose of the stored steps, each looked up in graphspec's closed table."""
    import torchvision.transforms as transforms

    from graphspec.data.transforms import TRANSFORMS

    built = []
    for name, args in steps:
        if name not in TRANSFORMS:  # only names the spec language allows, never a path
            raise data_error(f"preprocess.json names an unknown transform {name!r}")
        built.append(getattr(transforms, name)(**{k: _arg(v) for k, v in args.items()}))
    return transforms.Compose(built)


def _arg(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
