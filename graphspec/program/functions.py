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

from graphspec.compiler import codegen
from graphspec.core.codetext import MODEL_IMPORTS, OP_IMPORTS, literal, one_line, wrap_call
from graphspec.language.recipe import (
    BEST_LINE,
    CLASSIFICATION_LOSSES,
    CLOSURE_OPTIMIZERS,
    EARLY_LINE,
    higher_is_better,
    validation_metrics,
)
from graphspec.program import finetune, schedule

FUNCTIONS = ("make_data", "batches", "size", "epoch_order", "train_step")
"""What the run takes from the executed program."""
OPTIONAL = (
    "prepare",
    "cast",
    "split_validation",
    "validate",
    "validation_line",
    "improved",
    "make_scheduler",
    "freeze",
    "parameters",
)
"""Written only for a spec that needs them (train.channels_last or train.compile, train.dtype,
train.validation, scheduler, train.freeze and optimizer.groups); else None."""


def header(data: Any, comments: list[str], code: str) -> str:
    """Comment lines (each kept to one line), then the imports `code` uses: math, torch, and
    the data's own."""
    candidates = (*MODEL_IMPORTS, *OP_IMPORTS, *data.imports)
    lines = [*(f"# {one_line(c)}" for c in comments), *codegen.import_lines(candidates, code)]
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
    if spec.train.dtype != "float32":
        lines.append(f"DTYPE = torch.{spec.train.dtype}  # train.dtype: the weights' and data's")
    lines += _validation_settings(spec) + finetune.settings(spec)
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


def _validation_settings(spec: Any) -> list[str]:
    val = spec.train.validation
    if val is None:
        return []
    stop = val.early_stopping
    batch = val.batch_size or spec.data.test_batch_size or spec.data.batch_size
    lines = [
        f"VAL_SPLIT = {literal(val.split)}  # train.validation.split",
        f"VAL_EVERY = {literal(val.every)}",
        f"VAL_BATCH_SIZE = {batch or spec.data.whole_batch() or 'None'}",
        f"MONITOR = {literal(stop.monitor if stop else 'loss')}",
        f"MIN_DELTA = {(stop.min_delta if stop else 0.0)!r}",
    ]
    if stop is not None:
        lines.append(f"VAL_PATIENCE = {stop.patience}")
    lines.append(f"FINAL_WEIGHTS = {literal(val.final_weights)}")
    return lines + [f"EARLY_LINE = {literal(EARLY_LINE)}", f"BEST_LINE = {literal(BEST_LINE)}"]


def _device(name: str) -> str:
    if name == "auto":
        return (
            "torch.device(\n"
            '    "cuda" if torch.cuda.is_available() else "mps" '
            'if torch.backends.mps.is_available() else "cpu"\n)'
        )
    return f'torch.device("{one_line(name)}")'


def sections(spec: Any) -> list[str]:
    """make_data, batches and size, epoch_order, train_step: one source text each."""
    data = spec.data
    parts = [
        "\n".join(["def make_data():", *(w for line in data.make_data() for w in wrap_call(line))]),
        *data.helpers(),
        _batches(data, spec.seed or 0),
        _epoch_order(),
        *_prepare(spec),
        _train_step(spec),
    ]
    if spec.train.dtype != "float32":
        parts.append(_cast())
    if spec.train.validation is not None:
        parts += [_split_validation(data), _validate(spec), _validation_line(), _improved(spec)]
    if spec.scheduler is not None:
        parts.append(schedule.source(spec))
    return parts + finetune.functions(spec)


def _cast() -> str:
    return "\n".join(
        [
            "def cast(dataset):",
            '    """Floating tensors to DTYPE (train.dtype); ids and class labels keep theirs."""',
            "    if dataset is None:",
            "        return None",
            "    inputs, target = dataset",
            "    to = lambda t: t.to(DTYPE) if t.is_floating_point() else t  # noqa: E731",
            "    return tuple(to(x) for x in inputs), to(target)",
        ]
    )


def _split_validation(data: Any) -> str:
    lines = [
        "def split_validation(dataset, fraction, generator):",
        '    """A seeded `fraction` of the training samples held out: (train, validation).',
        "",
        '    Both keep the samples\' own order; the cut is drawn from `generator` alone."""',
        "    n = size(dataset)",
        "    order = torch.randperm(n, generator=generator)",
        "    cut = max(1, round(n * fraction))",
        "    held, kept = order[:cut].sort().values, order[cut:].sort().values",
    ]
    if data.in_memory:
        lines += [
            "    inputs, target = dataset",
            "    return (",
            "        (tuple(x[kept] for x in inputs), target[kept]),",
            "        (tuple(x[held] for x in inputs), target[held]),",
            "    )",
        ]
    else:
        lines += [
            "    subset = torch.utils.data.Subset",
            "    train, val = subset(dataset, kept.tolist()), subset(dataset, held.tolist())",
            "    if hasattr(dataset, 'classes'):  # the evaluation names the classes",
            "        train.classes = val.classes = dataset.classes",
            "    return train, val",
        ]
    return "\n".join(lines)


def _validate(spec: Any) -> str:
    """validate(): the metrics `train.validation` asks for, one accumulator each."""
    loss = spec.loss.op
    wanted = validation_metrics(
        spec.train.validation, loss, spec.data, also=schedule.plateau_monitor(spec)
    )
    classify = loss in CLASSIFICATION_LOSSES
    tops = [int(m[3:]) for m in wanted if m.startswith("top")]
    ppl_default = classify and spec.train.validation.metrics is None
    ignore = getattr(spec.loss, "ignore_index", -100)
    start = ["n, loss_sum = 0, 0.0"]
    body = [
        "loss_sum += criterion(outputs, labels).item() * labels.shape[0]",
        "n += labels.shape[0]",
    ]
    result = ['"loss": loss_sum / (n or math.nan)']
    if classify:
        start.append("counted, per_position = 0, False" if ppl_default else "counted = 0")
        body += [
            f"keep = labels != {ignore}  # ignore_index: positions that are not scored",
            "counted += keep.sum().item()",
            *(["per_position = per_position or outputs.dim() > 2"] if ppl_default else []),
        ]
    if "accuracy" in wanted or "per_class" in wanted:
        body.append("hit = (outputs.argmax(1) == labels) & keep")
    if "accuracy" in wanted:
        start.append("correct = 0")
        body.append("correct += hit.sum().item()")
        result.append('"accuracy": 100.0 * correct / (counted or math.nan)')
    for k in tops:
        start.append(f"top{k} = 0")
        body.append(
            f"ranked = outputs.topk(min({k}, outputs.shape[1]), dim=1).indices"
            f"\ntop{k} += ((ranked == labels.unsqueeze(1)).any(1) & keep).sum().item()"
        )
        result.append(f'"top{k}": 100.0 * top{k} / (counted or math.nan)')
    if "perplexity" in wanted or ppl_default:
        nll = "F.nll_loss" if loss == "NLLLoss" else "F.cross_entropy"
        start.append("nll = 0.0")
        body.append(f'nll += {nll}(outputs, labels, ignore_index={ignore}, reduction="sum").item()')
    if "per_class" in wanted:
        start.append("right = seen = 0")
        body += [
            "width = outputs.shape[1]",
            "right = right + torch.bincount(labels[hit], minlength=width).cpu()",
            "seen = seen + torch.bincount(labels[keep], minlength=width).cpu()",
        ]
    if {"mse", "mae", "rmse", "r2"} & set(wanted):
        start += ["squares = absolutes = 0.0", "elements = 0"]
        body += [
            "diff = outputs - labels.view_as(outputs)",
            "squares += diff.pow(2).sum().item()",
            "absolutes += diff.abs().sum().item()",
            "elements += diff.numel()",
        ]
    if "r2" in wanted:  # 1 - SS_res / SS_tot, the targets' spread about their mean
        start.append("target_sum = target_squares = 0.0")
        body += [
            "target_sum += labels.sum().item()",
            "target_squares += labels.double().pow(2).sum().item()",
        ]
    for name, total in (("mse", "squares"), ("mae", "absolutes")):
        if name in wanted:
            result.append(f'"{name}": {total} / (elements or math.nan)')
    if "rmse" in wanted:
        result.append('"rmse": math.sqrt(squares / (elements or math.nan))')
    if "r2" in wanted:
        result.append(
            '"r2": 1 - squares / ((target_squares - target_sum**2 / (elements or math.nan))'
            " or math.nan)"
        )
    lines = [
        "def validate(net, dataset, criterion):",
        '    """The validation metrics over `dataset`, in order, in eval mode, no gradients."""',
        "    net.eval()",
        *(f"    {line}" for line in start),
        "    with torch.no_grad():",
        "        for inputs, labels in batches(dataset, None, VAL_BATCH_SIZE, False):",
        "            inputs, labels = tuple(x.to(DEVICE) for x in inputs), labels.to(DEVICE)",
        "            outputs = net(*inputs)",
        *(f"            {part}" for line in body for part in line.split("\n")),
        "    net.train()",
        "    metrics = {",
        *(f"        {item}," for item in result),
        "    }",
    ]
    if "perplexity" in wanted:
        lines.append('    metrics["perplexity"] = math.exp(nll / (counted or math.nan))')
    elif ppl_default:
        lines += [
            "    if per_position:  # labels per token or pixel: a language model's perplexity",
            '        metrics["perplexity"] = math.exp(nll / (counted or math.nan))',
        ]
    if "per_class" in wanted:
        lines.append(
            '    metrics["per_class"] = {str(c): 100.0 * r / s for c, (r, s) in '
            "enumerate(zip(right.tolist(), seen.tolist(), strict=True)) if s}"
        )
    return "\n".join([*lines, "    return metrics"])


def _validation_line() -> str:
    return "\n".join(
        [
            "def validation_line(step, epoch, metrics):",
            '    """What a validation prints: its numbers, per_class left to the records."""',
            '    shown = (f"{k}: {v:.6g}" for k, v in metrics.items() if not isinstance(v, dict))',
            '    return f"validation at step {step} (epoch {epoch}): " + ", ".join(shown)',
        ]
    )


def _improved(spec: Any) -> str:
    stop = spec.train.validation.early_stopping
    higher = higher_is_better(stop.monitor if stop else "loss")
    test = "value > best + MIN_DELTA" if higher else "value < best - MIN_DELTA"
    return "\n".join(
        [
            "def improved(value, best):",
            f'    """Better than `best` by more than MIN_DELTA ({"higher" if higher else "lower"}'
            ' is better); a NaN never is."""',
            "    if best is None:",
            "        return value == value",
            f"    return {test}",
        ]
    )


_COUNT = "len(target) // batch_size if drop_last else -(-len(target) // batch_size)"


def _batches(data: Any, seed: int) -> str:
    if data.in_memory:
        drawn = data.augments_batches()
        one = "inputs[0], draws(epoch, 0)" if drawn else "inputs[0]"
        picked = "take(inputs[0], pick), draws(epoch, i)" if drawn else "take(inputs[0], pick)"
        doc = '    """One epoch\'s batches from number `start` on: slices, or picks of `order`'
        body = [
            f"def batches(dataset, order, batch_size, drop_last, start=0{', epoch=0' * drawn}):",
            *(
                [doc + ";", '    `epoch` seeds their random transforms (draws)."""']
                if drawn
                else [doc + '."""']
            ),
            "    inputs, target = dataset",
            f"    count = {_COUNT}",
            "    if order is None and start == 0 and count == 1 and batch_size >= len(target):",
            "        # one batch of everything, in order: the tensors themselves, no views",
            *(
                [f"        yield (transform_batch({one}),), target"]
                if data.transforms_batches()
                else ["        yield tuple(inputs), target"]
            ),
            "        return",
            "    for i in range(start, count):",
            "        if order is None:  # a slice is a view: no copy",
            "            pick = slice(i * batch_size, (i + 1) * batch_size)",
            "        else:",
            "            pick = order[i * batch_size : (i + 1) * batch_size]",
            *(
                [f"        yield (transform_batch({picked}),), take(target, pick)"]
                if data.transforms_batches()
                else ["        yield tuple(take(x, pick) for x in inputs), take(target, pick)"]
            ),
            "",
            "",
            "def take(x, pick):",
            '    """Rows `pick` of x: a slice is a view; index_select copies faster than',
            '    x[indices] does."""',
            "    return x[pick] if isinstance(pick, slice) else x.index_select(0, pick)",
            "",
            "",
            "def size(dataset):",
            "    return len(dataset[1])",
            *(_draws(seed) if drawn else []),
        ]
    else:
        body = [
            "def batches(dataset, order, batch_size, drop_last, start=0, epoch=0):",
            '    """One epoch\'s batches through a DataLoader, in `order`, from `start` on;',
            '    `epoch` seeds the workers (their random transforms)."""',
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


def _draws(seed: int) -> list[str]:
    """draws(epoch, batch): the generator a batch's random transforms draw from. Seeded by the
    run's seed, the epoch and the batch's number alone, so a resumed run (which starts mid-epoch)
    and the emitted script draw what the run drew, whatever came before."""
    return [
        "",
        "",
        f"AUGMENT_SEED = {int(seed)}",
        "",
        "",
        "def draws(epoch, batch):",
        '    """The generator batch `batch` of epoch `epoch` draws its random transforms from."""',
        "    mixed = (AUGMENT_SEED * 1_000_003 + epoch) * 1_000_003 + batch",
        "    return torch.Generator().manual_seed(mixed % 2**63)",
    ]


def _epoch_order() -> str:
    return "\n".join(
        [
            "def epoch_order(dataset, generator):",
            '    """This epoch\'s order: a permutation drawn from `generator` when shuffling."""',
            "    return torch.randperm(size(dataset), generator=generator) if SHUFFLE else None",
        ]
    )


def _prepare(spec: Any) -> list[str]:
    """prepare(net): the model as it trains, after .to(DEVICE): train.channels_last, compile;
    none when neither is set (the net itself trains)."""
    train = spec.train
    if not uses_prepare(spec):
        return []
    lines = [
        "def prepare(net):",
        '    """The model as train_step() gets it (train.channels_last, train.compile)."""',
    ]
    if getattr(train, "channels_last", False):
        lines.append("    net = net.to(memory_format=torch.channels_last)  # NHWC weights")
    if train.compile:
        lines.append("    net = torch.compile(net)  # its first steps compile")
    return ["\n".join([*lines, "    return net"])]


def uses_prepare(spec: Any) -> bool:
    """Whether the model trains as something other than itself (channels_last, compile)."""
    return bool(getattr(spec.train, "channels_last", False) or spec.train.compile)


def _train_step(spec: Any) -> str:
    amp = _amp(spec)
    scaled = amp == "fp16"
    channels = (
        ["    inputs = tuple(x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 "
         "else x for x in inputs)"]
        if getattr(spec.train, "channels_last", False)
        else []
    )  # fmt: skip
    if spec.train.accumulate > 1:
        return _accumulating_step(spec, amp, channels)
    if spec.optimizer.op in CLOSURE_OPTIMIZERS:
        forward = [
            "        optimizer.zero_grad()",
            *_autocast(amp, "        ", ["outputs.append(net(*inputs))",
                                           "loss = criterion(outputs[-1], labels)"]),
            "        loss.backward()",
            *_clip(spec, "        "),
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
                    *(
                        ["    SCALER.unscale_(optimizer)  # clip the true gradients"]
                        if _clip(spec, "")
                        else []
                    ),
                    *_clip(spec, "    "),
                    "    SCALER.step(optimizer)  # skipped when the scaled gradients overflowed",
                    "    SCALER.update()",
                ]
                if scaled
                else ["    loss.backward()", *_clip(spec, "    "), "    optimizer.step()"]
            ),
            "    return value, outputs",
        ]
    return "\n".join(lines)


def _accumulating_step(spec: Any, amp: str | None, channels: list[str]) -> str:
    """train.accumulate K: the batch goes through the model in K parts whose gradients add up
    to the whole batch's (each part's mean loss weighed by its share of the samples); one
    update. Under DDP only the last part's backward all-reduces (no_sync on the others)."""
    scaled = amp == "fp16"
    share = "part_labels.shape[0] / n" if spec.loss.reduction == "mean" else "1.0"
    backward = "SCALER.scale(loss).backward()" if scaled else "loss.backward()"
    update = (
        ["    SCALER.unscale_(optimizer)", *_clip(spec, "    "), "    SCALER.step(optimizer)",
         "    SCALER.update()"]
        if scaled else [*_clip(spec, "    "), "    optimizer.step()"]
    )  # fmt: skip
    return "\n".join(
        [
            "def train_step(net, criterion, optimizer, inputs, labels):",
            f'    """One update from the batch run in {spec.train.accumulate} parts '
            '(train.accumulate); the loss is\n    checked before the update."""',
            *channels,
            "    optimizer.zero_grad()",
            "    n, value, outputs = labels.shape[0], 0.0, []",
            "",
            "    def part_step(part, part_labels):",
            *_autocast(amp, "        ", ["out = net(*part)",
                                          f"loss = criterion(out, part_labels) * ({share})"]),
            f"        {backward}",
            "        outputs.append(out)",
            "        return loss.item()",
            "",
            f"    splits = [x.tensor_split({spec.train.accumulate}) for x in (*inputs, labels)]",
            "    parts = [p for p in zip(*splits) if p[-1].shape[0]]  # a batch smaller than K",
            "    for i, (*part, part_labels) in enumerate(parts):",
            "        if i < len(parts) - 1 and hasattr(net, 'no_sync'):  # DDP: sync the last",
            "            with net.no_sync():",
            "                value += part_step(part, part_labels)",
            "        else:",
            "            value += part_step(part, part_labels)",
            "    if not math.isfinite(value):",
            "        raise FloatingPointError(value)",
            *update,
            "    return value, torch.cat(outputs)",
        ]
    )  # fmt: skip


def _clip(spec: Any, pad: str) -> list[str]:
    """train.clip_grad_value, then train.clip_grad_norm: between backward and the update."""
    train, lines = spec.train, []
    if train.clip_grad_value is not None:
        lines.append(
            f"{pad}nn.utils.clip_grad_value_(net.parameters(), "
            f"clip_value={train.clip_grad_value!r})  # train.clip_grad_value"
        )
    if train.clip_grad_norm is not None:
        lines.append(
            f"{pad}nn.utils.clip_grad_norm_(net.parameters(), "
            f"max_norm={train.clip_grad_norm!r})  # train.clip_grad_norm"
        )
    return lines  # fmt: skip


def _autocast(amp: str | None, pad: str, body: list[str]) -> list[str]:
    if not amp:
        return [pad + line for line in body]
    dtype = {"bf16": "torch.bfloat16", "fp16": "torch.float16"}[amp]
    return [f"{pad}with torch.autocast(DEVICE.type, dtype={dtype}):"] + [
        f"{pad}    {line}" for line in body
    ]


def program(spec: Any, origin: str) -> str:
    """What `graphspec run` executes: the script's header, settings and shared functions."""
    code = "\n\n\n".join(["\n".join(settings(spec)), *sections(spec)]) + "\n"
    comment = f"The training functions of {origin}, as `emit --train` writes them."
    return header(spec.data, [comment], code) + codegen.after_imports(code)
