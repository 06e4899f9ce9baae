"""The training functions of a spec, executed: the same text `emit --train` writes.

`graphspec run` builds its model from generated source; it takes its data, batches, epoch order
and optimizer step from generated source too (program/functions.py), so the script a user
ejects and the run cannot drift apart. The loop (loop.py) adds checkpoints, logs and signals
around these functions and nothing else.
"""

from __future__ import annotations

from typing import Any

import torch

from graphspec.compiler.build import load_namespace
from graphspec.program import finetune, functions


class Program:
    """The executed functions: make_data, batches, size, epoch_order, train_step (and the
    optional ones, None where the spec needs none)."""

    def __init__(self, source: str, namespace: dict[str, Any]) -> None:
        self.source, self.namespace = source, namespace
        for name in functions.FUNCTIONS:
            setattr(self, name, namespace[name])
        for name in functions.OPTIONAL:  # train.dtype, train.validation
            setattr(self, name, namespace.get(name))

    def use_device(self, device: torch.device) -> None:
        """The run's resolved device (the text says `auto`): what autocast is given."""
        self.namespace["DEVICE"] = device


def load(spec: Any, origin: str) -> Program:
    """Generate the spec's training functions and execute them."""
    source = functions.program(spec, origin)
    imports = (*spec.data.imports, *finetune.imports(spec))  # what check_source allows
    return Program(source, load_namespace(source, origin, "training", imports))
