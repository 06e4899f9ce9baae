"""Everything a training run needs, made from a checked spec: device, model, data, loss,
optimizer and scheduler. The loop in train.py takes a `Job` and knows nothing of YAML.

Torch classes are looked up by names from spec_train's closed tables (validated before this runs),
never by a dotted path from the spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from graphspec.core.errors import Pos, fail
from graphspec.language.recipe import (
    CLASSIFICATION_LOSSES,
    OWN_OPTIMIZERS,
    TENSOR_ARGS,
    default_log_every,
)
from graphspec.program import schedule
from graphspec.training import optim
from graphspec.training.datasets import Data


@dataclass
class Job:
    """A model and the means to train it, plus the spec's loop settings."""

    model: nn.Module
    loss_fn: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any  # torch.optim.lr_scheduler.LRScheduler | None
    data: Data
    device: torch.device
    generator: torch.Generator
    """Draws the data order; seeded from the spec's seed, saved in checkpoints."""
    epochs: int | None
    max_steps: int | None
    log_every: int
    checkpoint_every: int = 0
    step_scheduler_every_step: bool = False
    plateau_monitor: str | None = None
    """A ReduceLROnPlateau's metric: the scheduler steps with it after each validation."""
    classification: bool = False
    stop: Any = None
    """`train.stop` (recipe.Stop) or None: end early once the loss settles."""
    validate_every: int | str | None = None
    """`train.validation.every` ("epoch" or a step count), None without validation."""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def steps_mode(self) -> bool:
        """`train: {steps: N}` alone: log lines count steps, not batches of an epoch."""
        return self.epochs is None

    @property
    def total_steps(self) -> int:
        per_epoch = len(self.data.train)
        if self.epochs is None:
            return self.max_steps or 0
        total = self.epochs * per_epoch
        return min(total, self.max_steps) if self.max_steps else total


def resolve_device(name: str, pos: Pos) -> torch.device:
    """`auto` picks cuda, then mps, then cpu; asking for a device that is absent is E-DEVICE."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = device.index or 0
        if index >= count:
            have = f"{count} CUDA device(s)" if count else "no CUDA device"
            raise fail(
                "E-DEVICE",
                f"device '{name}' is not available: this machine has {have}",
                pos,
                hint="use device: auto, or cpu",
            )
    if device.type == "mps" and not _mps_available():
        raise fail(
            "E-DEVICE", "device 'mps' is not available here", pos, hint="use device: auto, or cpu"
        )
    return device


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def _args(entry: Any, drop: tuple[str, ...] = ("op",)) -> dict[str, Any]:
    """A table row's fields as torch keyword arguments (lists become tuples: betas, ...)."""
    args = entry.model_dump(exclude={*drop, "groups"})  # groups: parameters(net)
    return {
        k: tuple(v) if isinstance(v, list) and k != "milestones" else v for k, v in args.items()
    }


def make_loss(entry: Any) -> nn.Module:
    args = _args(entry)
    for key in TENSOR_ARGS & args.keys():  # weight, pos_weight: tensors (buffers: .to moves them)
        if args[key] is not None:
            args[key] = torch.tensor(args[key], dtype=torch.float32)
    return getattr(nn, entry.op)(**args)  # entry.op is one of spec_train.LOSSES


def make_optimizer(entry: Any, params: Any) -> torch.optim.Optimizer:
    home = optim if entry.op in OWN_OPTIMIZERS else torch.optim
    return getattr(home, entry.op)(params, **_args(entry))  # one of OPTIMIZERS


def make_scheduler(job: Job, spec: Any) -> Any:
    """The generated make_scheduler() (program/schedule.py: emit --train calls the same), given
    how often it steps in the run."""
    if spec.scheduler is None:
        return None
    total = job.total_steps
    per_epoch = max(1, len(job.data.train))
    intervals = total if schedule.interval(spec) == "step" else -(-total // per_epoch)
    given = (intervals,) if schedule.needs_intervals(spec) else ()
    return job.data.program.make_scheduler(job.optimizer, *given)


def _prepared(program: Any, model: nn.Module) -> nn.Module:
    """The model as it trains: the generated prepare() (channels_last, torch.compile), or the
    model itself where the spec sets neither and the program writes none."""
    return model if program.prepare is None else program.prepare(model)


def make_job(spec: Any, model: nn.Module, data: Data, device: torch.device, seed: int) -> Job:
    """Assemble the job; the model is already built (its init drew from the seeded RNG)."""
    model = model.to(device)
    program = data.program
    if program.freeze is not None:  # train.freeze, optimizer.groups: generated, as the script's
        model = program.freeze(model)
    params = program.parameters(model) if program.parameters else model.parameters()
    optimizer = make_optimizer(spec.optimizer, params)
    epochs, steps = spec.train.epochs, spec.train.steps
    if epochs is None and steps is None:
        epochs = 1
    job = Job(
        model=_prepared(data.program, model),
        loss_fn=make_loss(spec.loss).to(device, getattr(torch, spec.train.dtype)),
        optimizer=optimizer,
        scheduler=None,
        data=data,
        device=device,
        generator=torch.Generator().manual_seed(seed),
        epochs=epochs,
        max_steps=steps,
        log_every=spec.train.log_every or default_log_every(len(data.train), epochs is None),
        checkpoint_every=spec.train.checkpoint_every,
        step_scheduler_every_step=schedule.interval(spec) == "step",
        plateau_monitor=schedule.plateau_monitor(spec),
        classification=spec.loss.op in CLASSIFICATION_LOSSES,
        stop=spec.train.stop,
        validate_every=spec.train.validation.every if spec.train.validation else None,
    )
    job.scheduler = make_scheduler(job, spec)
    return job


def check_steps(job: Job, pos: Pos) -> None:
    """A run that could not take a single step is an input error, not an empty success."""
    if len(job.data.train) == 0:
        n, b = len(job.data.train.items), job.data.train.batch_size
        raise fail(
            "E-DATA",
            f"the training set gives no batch: {n} samples, batch_size {b} with drop_last",
            pos,
            hint="lower data.batch_size or set drop_last: false",
        )
