"""The training program's shared functions: what `emit --train` writes and `run` executes.

`make_data()` (written by the data source, data/), `batches()`, `size()`, `epoch_order()` and
`train_step()` are generated once per spec as plain PyTorch source. The standalone script calls
them from its tutorial-style `main()`; `graphspec run` executes the same text (training/
program.py) and calls the same functions from its loop, which adds checkpoints, logs and
signals around them. A change to any of them shows up in both, so the two cannot drift.
Nothing here imports torch.
"""

from __future__ import annotations

from typing import Any

from graphspec.core.codetext import one_line
from graphspec.language.recipe import CLOSURE_OPTIMIZERS

FUNCTIONS = ("make_data", "batches", "size", "epoch_order", "prepare", "train_step")
"""What the run takes from the executed program."""


def header(data: Any, comments: list[str]) -> str:
    """Comment lines (each kept to one line), then the imports: torch, and the data's own."""
    lines = [
        *(f"# {one_line(c)}" for c in comments),
        "import math",
        "import torch",
        "import torch.nn as nn",
        "import torch.nn.functional as F",
        *data.imports,
    ]
    return "\n".join(lines)


def settings(spec: Any) -> list[str]:
    """The constants the functions read: the data's batching and the device."""
    data = spec.data
    batch = data.batch_size or data.whole_batch() or "None"
    lines = [
        f"BATCH_SIZE = {batch}",
        f"SHUFFLE = {data.shuffle}",
        f"DROP_LAST = {data.drop_last}",
    ]
    if _auto_workers(data):
        lines += [
            "# data.num_workers left out: workers only where cores are to spare for them (torch's",
            "# thread count is the cores this process may use); on 2 cores they would compete",
            "CORES = torch.get_num_threads()",
            "NUM_WORKERS = min(8, CORES // 2) if CORES > 2 else 0",
        ]
    elif not data.in_memory:
        lines.append(f"NUM_WORKERS = {data.num_workers}")
    lines.append(f"DEVICE = {_device(spec.device)}")
    if _amp(spec) == "fp16":  # float16's narrow range: scale the loss so small gradients live
        lines.append("SCALER = torch.amp.GradScaler(DEVICE.type)")
    return lines


def _amp(spec: Any) -> str | None:
    """train.amp as the dtype's short name: `true` means bf16 (what the CPU autocasts to)."""
    amp = getattr(spec.train, "amp", False)
    return "bf16" if amp is True else amp or None


def _auto_workers(data: Any) -> bool:
    return not data.in_memory and data.num_workers is None


def _device(name: str) -> str:
    if name == "auto":
        return (
            'torch.device("cuda" if torch.cuda.is_available() else '
            '"mps" if torch.backends.mps.is_available() else "cpu")'
        )
    return f'torch.device("{one_line(name)}")'


def sections(spec: Any) -> list[str]:
    """make_data, batches and size, epoch_order, train_step: one source text each."""
    data = spec.data
    return [
        "\n".join(["def make_data():", *data.make_data()]),
        *data.helpers(),
        _batches(data),
        _epoch_order(),
        _prepare(spec),
        _train_step(spec),
    ]


_COUNT = "len(target) // batch_size if drop_last else -(-len(target) // batch_size)"


def _batches(data: Any) -> str:
    if data.in_memory:
        body = [
            "def batches(dataset, order, epoch, batch_size, drop_last, start=0):",
            '    """One epoch\'s batches from number `start` on: slices, or picks of `order`."""',
            "    inputs, target = dataset",
            f"    count = {_COUNT}",
            "    for i in range(start, count):",
            "        if order is None:  # a slice is a view: no copy",
            "            pick = slice(i * batch_size, (i + 1) * batch_size)",
            "        else:",
            "            pick = order[i * batch_size : (i + 1) * batch_size]",
            *(
                ["        yield (transform_batch(take(inputs[0], pick)),), take(target, pick)"]
                if data.transforms_batches()
                else ["        yield tuple(take(x, pick) for x in inputs), take(target, pick)"]
            ),
            "",
            "",
            "def take(x, pick):",
            '    """Rows `pick` of x: a slice is a view; index_select copies many times faster',
            '    than x[indices] does (2.3 ms against 77 µs for 64 CIFAR images)."""',
            "    return x[pick] if isinstance(pick, slice) else x.index_select(0, pick)",
            "",
            "",
            "def size(dataset):",
            "    return len(dataset[1])",
        ]
    else:
        body = [
            "def batches(dataset, order, epoch, batch_size, drop_last, start=0):",
            '    """One epoch\'s batches through a DataLoader, in `order`, from `start` on."""',
            "    ids = order.tolist() if order is not None else list(range(len(dataset)))",
            f"    count = {_COUNT.replace('len(target)', 'len(dataset)')}",
            "    plan = [ids[i * batch_size : (i + 1) * batch_size] for i in range(start, count)]",
            "    # the workers' seeds come from this generator, not from the global RNG",
            "    seeds = torch.Generator().manual_seed(epoch)",
            "    loader = torch.utils.data.DataLoader(",
            "        dataset, batch_sampler=plan, num_workers=NUM_WORKERS, generator=seeds",
            "    )",
            "    for images, labels in loader:",
            "        yield (images,), labels",
            "",
            "",
            "def size(dataset):",
            "    return len(dataset)",
        ]
    return "\n".join(body)


def _epoch_order() -> str:
    return "\n".join(
        [
            "def epoch_order(dataset, generator):",
            '    """This epoch\'s order: a permutation drawn from `generator` when shuffling."""',
            "    return torch.randperm(size(dataset), generator=generator) if SHUFFLE else None",
        ]
    )


def _prepare(spec: Any) -> str:
    """prepare(net): the model as it trains, after .to(DEVICE): train.channels_last, compile."""
    train = spec.train
    lines = [
        "def prepare(net):",
        '    """The model as train_step() gets it (train.channels_last, train.compile)."""',
    ]
    if getattr(train, "channels_last", False):
        lines.append("    net = net.to(memory_format=torch.channels_last)  # NHWC weights")
    if train.compile:
        lines.append("    net = torch.compile(net)  # its first steps compile")
    return "\n".join([*lines, "    return net"])


def _train_step(spec: Any) -> str:
    amp = _amp(spec)
    scaled = amp == "fp16"
    channels = (
        ["    inputs = tuple(x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 "
         "else x for x in inputs)"]
        if getattr(spec.train, "channels_last", False)
        else []
    )  # fmt: skip
    if spec.optimizer.op in CLOSURE_OPTIMIZERS:
        forward = [
            "        optimizer.zero_grad()",
            *_autocast(amp, "        ", ["outputs.append(net(*inputs))",
                                           "loss = criterion(outputs[-1], labels)"]),
            "        loss.backward()",
            "        return loss",
        ]  # fmt: skip
        lines = [
            "def train_step(net, criterion, optimizer, inputs, labels):",
            '    """One optimizer step; the optimizer re-evaluates the loss several times."""',
            *channels,
            "    outputs = []",
            "",
            "    def closure():",
            *forward,
            "",
            "    value = optimizer.step(closure).item()",
            "    if not math.isfinite(value):  # stop before the weights see it",
            "        raise FloatingPointError(value)",
            "    return value, outputs[0]",
        ]
    else:
        lines = [
            "def train_step(net, criterion, optimizer, inputs, labels):",
            '    """zero the parameter gradients; forward + backward + optimize.',
            "",
            "    The loss is checked before the update, so a non-finite one never reaches the",
            '    weights. Returns the loss as a number and the outputs."""',
            *channels,
            "    optimizer.zero_grad()",
            *_autocast(
                amp, "    ", ["outputs = net(*inputs)", "loss = criterion(outputs, labels)"]
            ),  # fmt: skip
            "    value = loss.item()",
            "    if not math.isfinite(value):",
            "        raise FloatingPointError(value)",
            *(
                [
                    "    SCALER.scale(loss).backward()",
                    "    SCALER.step(optimizer)  # skipped when the scaled gradients overflowed",
                    "    SCALER.update()",
                ]
                if scaled
                else ["    loss.backward()", "    optimizer.step()"]
            ),
            "    return value, outputs",
        ]
    return "\n".join(lines)


def _autocast(amp: str | None, pad: str, body: list[str]) -> list[str]:
    if not amp:
        return [pad + line for line in body]
    dtype = {"bf16": "torch.bfloat16", "fp16": "torch.float16"}[amp]
    return [f"{pad}with torch.autocast(DEVICE.type, dtype={dtype}):"] + [
        f"{pad}    {line}" for line in body
    ]


def program(spec: Any, origin: str) -> str:
    """What `graphspec run` executes: the script's header, settings and shared functions."""
    parts = [
        header(spec.data, [f"The training functions of {origin}, as `emit --train` writes them."]),
        "\n".join(settings(spec)),
        *sections(spec),
    ]
    return "\n\n\n".join(parts) + "\n"
