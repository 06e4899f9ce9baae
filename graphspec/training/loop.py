"""The training loop: one function, read top to bottom.

It does what the seed programs do by hand (zero_grad, forward, loss, backward, step, print the
running loss) and adds only what a run folder needs: a divergence check before each update, a
checkpoint every `checkpoint_every` steps, and a clean stop on SIGINT/SIGTERM. Everything about
files and screens lives behind `Hooks` (session.py); this module only trains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch

from graphspec.training.job import Job


@dataclass
class TrainState:
    """Where training is: all a checkpoint needs besides the model, optimizer and RNGs."""

    step: int = 0
    """Optimizer steps taken."""
    epoch: int = 0
    """Epochs completed (0-based index of the current one)."""
    batch: int = 0
    """Batches of the current epoch done; a resumed run starts at this one."""
    epoch_rng: torch.Tensor | None = None
    """The data generator's state when the current epoch began: its order is redrawn from it."""
    running_loss: float = 0.0
    running_count: int = 0
    previous_loss: float | None = None
    """The last step's loss, for `train.stop` (not checkpointed: a resume starts it afresh)."""
    calm: int = 0
    """Steps in a row whose loss moved by at most `train.stop.tolerance` of the one before."""
    stopped: bool = False
    """Training ended because the loss settled (`train.stop`), not because it ran out."""
    best: float | None = None
    """`train.validation`: the best value of the monitored metric so far (checkpointed)."""
    best_step: int = 0
    best_epoch: int = 0
    bad_validations: int = 0
    """Validations in a row without improvement, for early stopping (checkpointed)."""
    early_stopped: bool = False
    """Training ended by early stopping on the validation metric."""


class DivergedError(Exception):
    """The loss stopped being finite; the weights are those of the step before."""

    def __init__(self, state: TrainState, value: float) -> None:
        super().__init__(f"loss is {value} at step {state.step + 1}")
        self.state, self.value = state, value


class StoppedError(Exception):
    """SIGINT or SIGTERM arrived; the step in flight finished and a checkpoint was written."""

    def __init__(self, signum: int, state: TrainState) -> None:
        super().__init__(f"interrupted by signal {signum} at step {state.step}")
        self.signum, self.state = signum, state


class Hooks(Protocol):
    """What the loop reports to (session.Session implements it; a benchmark can pass a no-op)."""

    stop_signal: int | None

    def on_step(self, state: TrainState, loss: float) -> None: ...
    def on_log(self, state: TrainState, mean_loss: float, output: torch.Tensor) -> None: ...
    def on_checkpoint(self, state: TrainState) -> None: ...
    def on_validate(self, state: TrainState) -> bool:
        """Validate now; True when early stopping ends training."""
        ...


def train(job: Job, state: TrainState, hooks: Hooks) -> TrainState:
    """Train `job` from `state` until its epochs or steps are done; return the final state."""
    model, optimizer, loss_fn = job.model, job.optimizer, job.loss_fn
    step = job.data.program.train_step  # the generated step: emit --train writes the same
    on_device = job.device.type != "cpu"
    # settled once, out of a loop whose step may take only 350 µs
    step_scheduler = job.scheduler if job.step_scheduler_every_step else None
    by_epoch = not job.step_scheduler_every_step and job.plateau_monitor is None
    epoch_scheduler = job.scheduler if by_epoch else None
    count_steps, log_every, every = job.steps_mode, job.log_every, job.checkpoint_every
    # validation comes before the checkpoint of the same step, so that checkpoint holds its
    # outcome (best value, counters) and a resume never redoes or skips one
    val_every, per_epoch = job.validate_every, len(job.data.train)
    model.train()
    while not _finished(job, state):
        if state.batch == 0:  # the epoch's order is drawn from here: keep where it began
            state.epoch_rng = job.generator.get_state() if job.data.train.shuffle else None
        elif state.epoch_rng is not None:  # resumed mid-epoch: redraw the same order
            job.generator.set_state(state.epoch_rng)
        for inputs, target in job.data.train.batches(job.generator, state.batch, state.epoch):
            if on_device:
                inputs = tuple(x.to(job.device, non_blocking=True) for x in inputs)
                target = target.to(job.device, non_blocking=True)
            try:
                value, output = step(model, loss_fn, optimizer, inputs, target)
            except FloatingPointError as err:  # raised before the update: weights are finite
                raise DivergedError(state, float(err.args[0])) from None
            if step_scheduler is not None:
                step_scheduler.step()

            state.step += 1
            state.batch += 1
            state.running_loss += value
            state.running_count += 1
            hooks.on_step(state, value)
            if (state.step if count_steps else state.batch) % log_every == 0:
                hooks.on_log(state, state.running_loss / state.running_count, output)
                state.running_loss, state.running_count = 0.0, 0
            if val_every is not None and (
                state.batch == per_epoch if val_every == "epoch" else state.step % val_every == 0
            ):
                state.early_stopped = hooks.on_validate(state)
            if every and state.step % every == 0:
                hooks.on_checkpoint(state)
            if hooks.stop_signal is not None:
                hooks.on_checkpoint(state)
                raise StoppedError(hooks.stop_signal, state)
            if job.stop is not None and _settled(job.stop, state, value):
                state.stopped = True
                return state
            if state.early_stopped:
                return state
            if job.max_steps is not None and state.step >= job.max_steps:
                return state  # a step cap may end an epoch early; a resume continues it
        state.epoch += 1
        state.batch = 0
        if not count_steps:  # the tutorial's running loss restarts every epoch
            state.running_loss, state.running_count = 0.0, 0
        if epoch_scheduler is not None:
            epoch_scheduler.step()
    return state


def _settled(stop: Any, state: TrainState, value: float) -> bool:
    """Whether `train.stop` ends training after this step's loss (emit --train: the same rule)."""
    previous, state.previous_loss = state.previous_loss, value
    moved = previous is None or abs(previous - value) > stop.tolerance * abs(previous)
    state.calm = 0 if moved else state.calm + 1
    return state.calm >= stop.patience


def _finished(job: Job, state: TrainState) -> bool:
    if job.max_steps is not None and state.step >= job.max_steps:
        return True
    return job.epochs is not None and state.epoch >= job.epochs
