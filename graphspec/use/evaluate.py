"""`graphspec evaluate`: a trained run's metrics on its own split (rebuilt as the run built it:
the same generated make_data() and seed), or on a new labelled file prepared from
preprocess.json. The numbers come from training/metrics.py, as at the end of the run, so on the
run's own test split they are the run's final ones, exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from graphspec.core.errors import fail
from graphspec.data.base import data_error
from graphspec.training import datasets, metrics
from graphspec.training.job import make_loss
from graphspec.use.prepare import prepare
from graphspec.use.trained import Trained


def on_split(trained: Trained, split: str) -> dict[str, Any]:
    """The metrics over the run's own `split` (test, or train)."""
    spec, meta = trained.spec, trained.meta
    torch.manual_seed(meta.get("seed") or 0)  # the run's order: data first, then weights
    try:
        data = datasets.from_spec(
            spec, fake_data=meta.get("fake_data"), origin=str(trained.run_dir)
        )
    except datasets.DataError as err:
        raise data_error(str(err), trained.compiled.doc.pos(("data", "source"))) from None
    data.program.use_device(torch.device("cpu"))
    chosen = data.test if split == "test" else data.train
    if chosen is None:
        raise fail("E-DATA", f"the run's data has no {split} split",
                   hint="evaluate --split train, or --data FILE with labels")  # fmt: skip
    return _measure(trained, chosen.batches(), split, data.classes)


def on_file(trained: Trained, path: str) -> dict[str, Any]:
    """The metrics over a new labelled file, prepared as the run prepared its data."""
    prepared = prepare(trained.state, path, want_target=True)
    batch = trained.spec.data.test_batch_size or trained.spec.data.batch_size or 256
    target = prepared.target
    assert target is not None  # want_target=True: prepare() refuses data without one
    n = len(target)
    batches = (
        (tuple(x[i : i + batch] for x in prepared.inputs), target[i : i + batch])
        for i in range(0, n, batch)
    )
    return _measure(trained, batches, Path(path).name, trained.classes)


def _measure(trained: Trained, batches, split: str, classes) -> dict[str, Any]:
    loss_fn = make_loss(trained.spec.loss)
    ignore = getattr(loss_fn, "ignore_index", None)
    collected = metrics.collect(trained.model, batches, loss_fn, torch.device("cpu"))
    return {"split": split, **metrics.measure(collected, trained.spec, classes, ignore)}
