"""`graphspec run` under torchrun: DistributedDataParallel over gloo (CPU) or NCCL (CUDA).

The rule: `data.batch_size` is the *global* batch, in every world size. Every rank draws the
same epoch order from the same seeded generator, cuts each global batch into contiguous parts
(as even as can be: sizes differ by at most one) and trains on its part. The loss of each part
is weighted by its share of the global batch, so DDP's averaged gradient is exactly the gradient
of the global batch's mean loss: a run on N processes follows the single-process run over the
same batches, up to float rounding. (A DistributedSampler would also shard, but it deals samples
round-robin over the whole epoch, so the batches differ from a single process's.)

Rank 0 alone writes the run folder, metrics.jsonl and checkpoints, and prints; the logged loss
is the global mean (one all_reduce per step, which also carries a stop request so every rank
stops at the same step on SIGINT/SIGTERM), and the final evaluation runs on rank 0 over the whole
test set with the final weights (identical on every rank), so every number recorded is global.
A checkpoint holds each rank's torch RNG state and the world size; a resume reads it on rank 0
and broadcasts it (other machines need no copy of the run folder's checkpoints).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from graphspec.core.errors import Diverged, Interrupted, Pos, SpecError, fail
from graphspec.training import checkpoint
from graphspec.training import run_folder as runs
from graphspec.training.job import Job, resolve_device
from graphspec.training.loop import DivergedError, StoppedError, TrainState
from graphspec.training.screen import Screen
from graphspec.training.session import Session
from graphspec.training.world import TIMEOUT_VAR, World


@dataclass(frozen=True)
class Shard:
    """This rank's part of every batch: contiguous, sizes differing by at most one."""

    rank: int
    size: int

    def span(self, lo: int, hi: int) -> slice:
        n = hi - lo
        return slice(lo + self.rank * n // self.size, lo + (self.rank + 1) * n // self.size)


class ShardedLoss(nn.Module):
    """The spec's loss on this rank's part, weighted so DDP's mean gradient is the global one.

    Returns a tensor whose *value* is the global batch's loss (all_reduced) and whose gradient
    is that of this rank's weighted loss: the loop's `loss.item()`, its divergence check and the
    logged numbers are then the same on every rank, and global.
    """

    def __init__(self, loss_fn: nn.Module, world_size: int) -> None:
        super().__init__()
        self.loss_fn, self.world_size = loss_fn, world_size
        self.mean = getattr(loss_fn, "reduction", "mean") == "mean"
        self.stop_request = 0
        self.agreed_stop = False

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        local = self.loss_fn(output, target)
        n = target.shape[0]
        part = local.detach().to(torch.float64) * (n if self.mean else 1)
        stats = torch.stack(
            [
                part,
                torch.tensor(float(n), dtype=torch.float64, device=part.device),
                torch.tensor(float(self.stop_request), dtype=torch.float64, device=part.device),
            ]
        )
        dist.all_reduce(stats)  # sum over ranks: loss, samples, stop requests
        total, count, stops = stats.tolist()
        self.agreed_stop = stops > 0
        if self.mean:
            scaled, value = local * (n * self.world_size / count), total / count
        else:  # reduction "sum": the global sum; DDP divides the gradient by the world size
            scaled, value = local * self.world_size, total
        return (
            scaled
            + (torch.as_tensor(value, dtype=local.dtype, device=local.device) - scaled).detach()
        )


class NullMetrics:
    """metrics.jsonl on a rank that does not write."""

    def write(self, record: dict[str, Any]) -> None: ...
    def write_steps(self, rows: list[tuple], started: float) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class DistributedSession(Session):
    """A Session on one rank of a torchrun job (see the module docstring for the rules)."""

    def __init__(self, plan, opts, screen: Screen, world: World) -> None:
        if not world.writer:  # rank 0 prints; the others train silently
            devnull = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the process)
            screen = Screen(quiet=True, tty=False, out=devnull, err=devnull)
        self.world = world
        self.sharded_loss: ShardedLoss | None = None
        self._requested: int | None = None
        self._extras: dict[str, Any] = {}
        super().__init__(plan, opts, screen)

    # the loop polls stop_signal after every step; a signal on one rank becomes a request that
    # the next step's all_reduce shares, so all ranks stop (and checkpoint) at the same step
    @property
    def stop_signal(self) -> int | None:
        if self.sharded_loss is not None and self.sharded_loss.agreed_stop:
            return self._requested or signal.SIGTERM
        return None

    @stop_signal.setter
    def stop_signal(self, value: int | None) -> None:
        self._requested = value
        if self.sharded_loss is not None:
            self.sharded_loss.stop_request = int(value is not None)

    def run(self) -> int:
        device = resolve_device(self.spec.device, self.plan.doc.pos(("device",)))
        self.backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(self.world.local_rank)  # "cuda" now means this rank's GPU
        self._join()
        try:
            return super().run()
        finally:
            dist.destroy_process_group()

    def _join(self) -> None:
        """Meet the other ranks within the world's timeout (GRAPHSPEC_DIST_TIMEOUT), which also
        bounds every collective after: a peer that never comes is E-DIST on each rank, one line,
        exit 2, not torch's 30-minute wait."""
        from datetime import timedelta

        timeout = self.world.timeout_s
        try:
            dist.init_process_group(self.backend, timeout=timedelta(seconds=timeout))
        except Exception as err:  # noqa: BLE001 - torch's store and rendezvous errors vary
            why = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
            raise fail(
                "E-DIST",
                f"rank {self.world.rank} of {self.world.size}: the other processes did not "
                f"join at {self.world.where} within {timeout} s ({type(err).__name__}: {why})",
                Pos("<environment>", 1, 1),
                hint=f"start every rank (torchrun does), check MASTER_ADDR/MASTER_PORT, or "
                f"raise {TIMEOUT_VAR} (seconds)",
            ) from None

    def _make_job(self) -> Job:
        job = super()._make_job()
        train, size = job.data.train, self.world.size
        _check_shardable(len(train.items), train.batch_size, train.drop_last, size, self)
        train.shard = Shard(self.world.rank, size)
        ids = [self.world.local_rank] if job.device.type == "cuda" else None
        # broadcast_buffers=False: rank 0 evaluates and draws alone, with no peer to sync with
        ddp = nn.parallel.DistributedDataParallel(
            self.model, device_ids=ids, broadcast_buffers=False
        )
        job.model = torch.compile(ddp) if self.spec.train.compile else ddp
        self.sharded_loss = job.loss_fn = ShardedLoss(job.loss_fn, size)
        self.screen.note(
            f"distributed: {size} processes ({self.backend}); global batch {train.batch_size}, "
            f"{train.batch_size // size}-{-(-train.batch_size // size)} samples per process"
        )
        return job

    def _open_run(self) -> None:
        self.run_dir = self._from_writer(self._open_run_here)

    def _open_run_here(self) -> Path:
        super()._open_run()
        return self.run_dir

    def _open_metrics(self):
        return super()._open_metrics() if self.world.writer else NullMetrics()

    def _write_start(self, resumed_from: str | None = None) -> None:
        super()._write_start(resumed_from)
        self.meta["world_size"] = self.world.size
        runs.write_json(self.run_dir / "meta.json", self.meta)

    def _write_end(self, status: str, state: TrainState, result: dict | None = None) -> None:
        if self.world.writer:
            super()._write_end(status, state, result)

    def _checkpoint_extras(self) -> dict[str, Any]:
        return self._extras

    def on_checkpoint(self, state: TrainState) -> None:
        if not checkpoint.params_finite(self.model):  # the same on every rank: same weights
            if self.world.writer:
                super().on_checkpoint(state)  # which says so and writes nothing
            return
        rngs: list[Any] = [None] * self.world.size
        dist.all_gather_object(rngs, torch.get_rng_state())
        if self.world.writer:
            self._extras = {"world_size": self.world.size, "rng_ranks": rngs}
            super().on_checkpoint(state)
        dist.barrier()  # no rank goes on (or ends) before the file is whole
        self.last_checkpoint = checkpoint.path_for(self.run_dir, state.step)

    # Validation runs on rank 0 alone, over the whole validation split with the plain loss and
    # the unwrapped model (no collective inside); its outcome (the counters and the early-stop
    # decision) is broadcast, so every rank stops at the same step and checkpoints agree.

    def _plain_loss(self) -> nn.Module:
        return self.sharded_loss.loss_fn if self.sharded_loss is not None else self.job.loss_fn

    def on_validate(self, state: TrainState) -> bool:
        box: list[Any] = [None]
        if self.world.writer:
            stop = super().on_validate(state)
            box = [(stop, state.best, state.best_step, state.best_epoch, state.bad_validations)]
        dist.broadcast_object_list(box, src=0)
        stop, state.best, state.best_step, state.best_epoch, state.bad_validations = box[0]
        return stop

    # -- resuming: Session._resume, with rank 0 reading the checkpoint for every rank --------
    def _read_checkpoint(self) -> tuple[dict[str, Any], str, int]:
        return self._from_writer(super()._read_checkpoint)  # rank 0 reads, all receive

    def _check_world(self, ckpt: dict[str, Any], where: str) -> None:
        try:
            checkpoint.check_world(ckpt, self.world.size, self.opts.any_world_size, where)
        except SpecError:
            if not self.world.writer:
                raise SystemExit(2) from None  # rank 0 says why, once
            raise

    def _restored(self, ckpt: dict[str, Any]) -> None:
        ranks = ckpt.get("rng_ranks")
        if isinstance(ranks, list) and len(ranks) == self.world.size:
            torch.set_rng_state(ranks[self.world.rank])  # each rank's own stream

    @property
    def _writes(self) -> bool:
        return self.world.writer

    def _finish(self, job: Job, state: TrainState) -> int:
        if self.last_checkpoint != checkpoint.path_for(self.run_dir, state.step):
            self.on_checkpoint(state)  # on every rank: it gathers the RNG states
        # rank 0 evaluates alone over whole sets: the plain loss, no shard, no collective
        job.loss_fn, job.data.train.shard = self.sharded_loss.loss_fn, None
        code = super()._finish(job, state) if self.world.writer else 0
        dist.barrier()  # the others wait for rank 0's weights, evaluation and pictures
        return code

    # Every rank sees the same global loss and the same agreed stop, so all end here at the
    # same step; rank 0 reports (cli/exits.py), the others leave with its exit code, silently.

    def _diverged(self, err: DivergedError) -> int:
        if self.world.writer:
            return super()._diverged(err)
        self.on_checkpoint(err.state)
        raise Diverged("E-DIVERGED", str(err), None, str(self.run_dir), quiet=True)

    def _interrupted(self, err: StoppedError) -> int:
        if self.world.writer:
            return super()._interrupted(err)
        raise Interrupted(err.signum, str(err), None, str(self.run_dir), quiet=True)

    def _from_writer(self, produce):
        """Run `produce` on rank 0 and give its result to every rank. An input error there is
        raised on rank 0 and ends the others quietly (exit 2): one error line, not N."""
        box: list[Any] = [None]
        if self.world.writer:
            try:
                box = [("ok", produce())]
            except SpecError as err:
                box = [("error", err.problems)]
        dist.broadcast_object_list(box, src=0)
        kind, value = box[0]
        if kind == "error":
            if self.world.writer:
                raise SpecError(value)
            raise SystemExit(2)
        return value


def _check_shardable(
    n: int, batch: int, drop_last: bool, size: int, session: DistributedSession
) -> None:
    """The rule for ragged batches: each global batch is cut into `size` parts that differ by
    at most one sample, and every part must hold at least one sample, or two where the model
    has BatchNorm (which cannot train on one). A batch that would break it is refused before
    training (E-USAGE) with the fix: a larger batch_size, or drop_last to drop the ragged last
    batch."""
    need = 2 if _has_batch_norm(session.model) else 1
    last = n % batch if not drop_last else 0
    small = batch if batch < need * size else last if 0 < last < need * size else 0
    if small and not session.world.writer:
        raise SystemExit(2)  # rank 0 says why, once
    if small:
        which = "data.batch_size" if small == batch else "the last batch of an epoch"
        why = (
            "every process needs at least one"
            if need == 1
            else ("with BatchNorm every process needs at least two")
        )
        raise fail(
            "E-USAGE",
            f"{which} has {small} samples, too few for {size} processes: {why}",
            session.plan.doc.pos(("data",)),
            hint="batch_size is the global batch: raise it, or set data.drop_last: true",
        )


def _has_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
