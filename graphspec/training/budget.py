"""The memory budget of `graphspec run`, checked before anything is allocated (E-BUDGET).

From the static cost model (compiler/cost.py) and the data section, before torch is imported:
- the data made in memory: random tensors (`inputs`, `target`, labels) and a linspace's x and
  target (torchvision datasets and FakeData load a batch at a time and are not counted);
- the model's training state: weights, their gradients and the optimizer's per-weight state
  (SGD with momentum one copy, Adam/AdamW two, ...);
- the activations a training step keeps for backward, at the training batch size;
- the largest single tensor the forward pass makes (an `expand` to [N, 1e5, 1e5]).

Each must fit, and so must their sum. The default budget is 80 % of the machine's RAM (a CUDA
device is checked against 90 % of its own memory once it is chosen); `--budget-mem 64G` sets
another, `--no-budget` turns the check off. The error names the data field or the node, with
the bytes, at its position in the spec.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from graphspec.compiler.cost import cost_of, default_sizes
from graphspec.core.errors import Pos, Problem, SpecError, fail

RAM_SHARE = 0.8
DEVICE_SHARE = 0.9
_STATE_COPIES = {"SGD": 1, "Adam": 2, "AdamW": 2, "RMSprop": 1, "Adagrad": 1, "LBFGS": 2}
"""Per-weight copies an optimizer keeps (SGD's momentum buffer, Adam's two moments)."""
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int | None:
    """`64G`, `512M`, `1.5T`, `2GiB`, `1000000`: bytes; None when it is not a size."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not m:
        return None
    value = int(float(m[1]) * _UNITS[m[2].upper()])
    return value if value > 0 else None


def machine_ram() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def show(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


@dataclass
class Limit:
    bytes: int
    source: str
    """Where the number comes from, for the message ('80 % of 16.0 GB RAM', '--budget-mem')."""


def limit_from(option: str | None, enabled: bool = True) -> Limit | None:
    """The budget the command line asks for (None: no check)."""
    if not enabled:
        return None
    if option is not None:
        value = parse_size(option)
        if value is None:
            raise fail(
                "E-USAGE",
                f"--budget-mem {option!r} is not a size",
                hint="write a number of bytes with K, M, G or T, e.g. --budget-mem 64G",
            )
        return Limit(value, f"--budget-mem {option}")
    ram = machine_ram()
    if ram is None:
        return None
    return Limit(int(ram * RAM_SHARE), f"{RAM_SHARE:.0%} of this machine's {show(ram)} RAM")


HINT = "raise it with --budget-mem SIZE (e.g. --budget-mem 64G), or turn it off with --no-budget"


def check(compiled: Any, doc: Any, limit: Limit | None) -> None:
    """E-BUDGET for each part, and for their sum, beyond `limit` (see the module doc)."""
    if limit is None:
        return
    problems: list[Problem] = []
    data = data_parts(compiled.spec.data, doc)
    for what, size, pos in data:
        if size > limit.bytes:
            problems.append(_problem(f"{what} is {show(size)}", limit, pos))
    cost = cost_of(compiled.graph, default_sizes(compiled.spec))
    at = f"at batch size {cost.sizes.get('N', 1)}"
    largest, node = cost.largest
    if largest > limit.bytes:
        problems.append(
            _problem(f"this node makes a tensor of {show(largest)} {at}", limit,
                     _node_pos(compiled, node), node)
        )  # fmt: skip
    training = training_state_bytes(compiled, cost.total("params"))
    parts = [("data", sum(s for _, s, _ in data)), ("weights, gradients and optimizer state",
             training), (f"activations kept for backward {at}", cost.activation_bytes)]  # fmt: skip
    total = sum(size for _, size in parts)
    if not problems and total > limit.bytes:
        biggest = max(cost.nodes, key=lambda n: n.saved_bytes + 4 * n.params)
        listed = ", ".join(f"{name} {show(size)}" for name, size in parts if size)
        problems.append(
            _problem(f"a training step needs about {show(total)} ({listed}); the biggest "
                     f"node is '{biggest.path}'", limit, _node_pos(compiled, biggest.path),
                     biggest.path)
        )  # fmt: skip
    if problems:
        raise SpecError(problems)


def _problem(what: str, limit: Limit, pos: Pos, node: str | None = None) -> Problem:
    return Problem(
        "E-BUDGET",
        f"{what}, beyond the memory budget of {show(limit.bytes)} ({limit.source})",
        pos,
        node,
        HINT,
    )


def training_state_bytes(compiled: Any, params: int) -> int:
    """Weights and gradients (float32) and the optimizer's copies of them."""
    optimizer = getattr(compiled.spec, "optimizer", None)
    name = getattr(optimizer, "op", "SGD")
    copies = _STATE_COPIES.get(name, 2)
    if name == "SGD" and not getattr(optimizer, "momentum", 0):
        copies = 0
    return 4 * params * (2 + copies)


def data_parts(data: Any, doc: Any) -> list[tuple[str, int, Pos]]:
    """(what, bytes, position) of each piece of data made in memory at once (the source says)."""
    if data is None:
        return []
    return [(what, size, doc.pos(path)) for what, size, path in data.memory_parts()]


def _node_pos(compiled: Any, path: str) -> Pos:
    """The node's position; a node inside a block call is shown at the call."""
    graph = compiled.graph
    head = path.split(".")[0].split("[")[0]
    node = graph.nodes.get(head)
    return node.node.pos if node is not None else compiled.doc.pos(("model",))


def check_device(compiled: Any, doc: Any, device: Any, enabled: bool, explicit: bool) -> None:
    """On a CUDA device, the same check against DEVICE_SHARE of its memory (torch imported)."""
    if not enabled or explicit or getattr(device, "type", "cpu") != "cuda":
        return
    import torch

    total = torch.cuda.get_device_properties(device).total_memory
    check(compiled, doc, Limit(int(total * DEVICE_SHARE), f"90 % of {device}'s {show(total)}"))
