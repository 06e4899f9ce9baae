"""`graphspec validate --data`: every check `graphspec run` makes before training, and nothing
after: the spec and its cross-section checks, the memory budget, the data's presence (files,
folders), then the data loaded as the run loads it (columns, classes, vocabulary) and a sample
against the model's inputs and loss (shapes, dtypes, class counts), and a first batch. No run
folder is made, no weights are drawn, nothing is trained.
"""

from __future__ import annotations

from graphspec.core.errors import fail
from graphspec.data.base import data_error
from graphspec.language.recipe import CLASSIFICATION_LOSSES, check_training_options
from graphspec.training.plan import Options, prepare


def check_data(spec: str) -> str:
    """Run the checks; a summary of the data on success (a SpecError names what is wrong)."""
    plan = prepare(Options(spec=spec, pictures="off"))
    compiled, doc = plan.compiled, plan.doc
    check_training_options(compiled.spec, doc)

    import torch

    from graphspec.training import datasets
    from graphspec.training.data_fit import check_data_fits

    torch.manual_seed(plan.seed)  # the run's order: a seeded split draws the same rows
    try:
        data = datasets.from_spec(compiled.spec, origin=plan.source)
    except datasets.DataError as err:
        raise data_error(str(err), doc.pos(("data", "source"))) from None
    loss = compiled.spec.loss
    classification = loss is not None and loss.op in CLASSIFICATION_LOSSES
    check_data_fits(compiled, data, doc, classification)
    if len(data.train) == 0:  # job.check_steps' rule, without a job
        n, b = len(data.train.items), data.train.batch_size  # type: ignore[arg-type]
        raise fail("E-DATA", f"the training set gives no batch: {n} samples, batch_size {b} "
                   "with drop_last", doc.pos(("data",)),
                   hint="lower data.batch_size or set drop_last: false")  # fmt: skip
    return f"data ok: {data.description}; {len(data.train):,} batches per epoch"
