"""One `graphspec run` with torch loaded: build, train, save, evaluate, draw.

`Session` is also the loop's `Hooks`: it turns each logged step into a printed line and a
metrics.jsonl record, keeps the fit animation's frames, and writes checkpoints.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import torch

from graphspec import __version__
from graphspec.core.errors import Diverged, Interrupted
from graphspec.core.files import write_atomic
from graphspec.data.base import data_error
from graphspec.language.recipe import BEST_LINE, EARLY_LINE, STOP_LINE, check_training_options
from graphspec.training import budget, checkpoint, datasets
from graphspec.training import run_folder as runs
from graphspec.training import weights as start_weights
from graphspec.training.data_fit import check_data_fits
from graphspec.training.job import Job, check_steps, make_job, resolve_device
from graphspec.training.loop import DivergedError, StoppedError, TrainState, train
from graphspec.training.plan import Options, Plan
from graphspec.training.screen import Screen

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
MAX_KEPT_FRAMES = 240
FLUSH_S = 0.1  # logged lines reach the screen and metrics.jsonl at most this late


class PrunedError(Exception):
    """Raised from a validation when `Options.on_validation` asks to stop (a pruned trial)."""

    def __init__(self, state: TrainState, metrics: dict[str, float]) -> None:
        super().__init__(f"pruned at step {state.step}")
        self.state, self.metrics = state, metrics


class Session:
    """A run from built objects to exit code; also the hooks train() reports to."""

    def __init__(self, plan: Plan, opts: Options, screen: Screen) -> None:
        self.plan, self.opts, self.screen = plan, opts, screen
        self.spec = plan.compiled.spec
        self.stop_signal: int | None = None
        self.frames: list[tuple[int, torch.Tensor, float]] = []
        self.frame_stride = 1
        self.logs = 0
        self.last_value = float("nan")
        self.last_checkpoint: Path | None = None
        self.started = time.monotonic()

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> int:
        job, state = self._build()
        self.use_job(job)
        self._announce(job, state)
        self.metrics = self._open_metrics()
        try:
            return self._train(job, state)
        finally:
            self.metrics.close()

    def _build(self) -> tuple[Job, TrainState]:
        if self.plan.run_dir is not None:
            # The run folder's spec.yaml is anybody's text: its checkpoint must vouch for it
            # (spec hash, checksum) before make_data() or any other code generated from it runs.
            self.run_dir = self.plan.run_dir
            self.spec_hash = runs.spec_hash(self.spec)
            found = self._read_checkpoint()
            job = self._make_job()
            return job, self._resume(job, found)
        job = self._make_job()
        self._open_run()
        return job, TrainState()

    # The steps below are separate so that a distributed run (distributed.py) can shard the
    # data, wrap the model and keep every write on rank 0.

    def _make_job(self) -> Job:
        plan, spec = self.plan, self.spec
        device = resolve_device(spec.device, plan.doc.pos(("device",)))
        budget.check_device(plan.compiled, plan.doc, device, not self.opts.no_budget,
                            self.opts.budget_mem is not None)  # fmt: skip
        check_training_options(spec, plan.doc)  # emit --train makes the same checks
        # weights: read and checked before the run folder; a resumed run takes its checkpoint's
        self.start = start_weights.read(plan.compiled) if plan.run_dir is None else None
        start_weights.check_preset(plan.compiled)  # data.transforms: torchvision:NAME
        torch.manual_seed(plan.seed)  # data first, then weights: the regression seed's order
        try:
            data = datasets.from_spec(
                spec,
                fake_data=self.opts.fake_data,
                origin=plan.source,
                decode_cache=self.opts.decode_cache,
                progress=self.screen.tty and not self.opts.quiet,
            )
        except datasets.DataError as err:
            raise data_error(str(err), plan.doc.pos(("data", "source"))) from None
        data.program.use_device(device)
        self.data_path = data.path  # said on screen and kept in meta.json
        self.model = plan.compiled.build()
        start_weights.load(self.model, self.start)  # over the seeded init: ignored keys keep it
        if spec.train.dtype != "float32":  # drawn in float32 as always, then cast: same start
            self.model.to(getattr(torch, spec.train.dtype))
        job = make_job(spec, self.model, data, device, plan.seed)
        check_data_fits(plan.compiled, data, plan.doc, job.classification)
        check_steps(job, plan.doc.pos(("data",)))
        self._clamp_log_every(job)
        self.spec_hash = runs.spec_hash(spec)
        return job

    def _open_run(self) -> None:
        self.run_dir = runs.new_run_dir(
            self.opts.runs_dir, self.spec.name, self.opts.out, self.opts.overwrite
        )
        self.plan.lock = runs.Lock(self.run_dir)
        self._write_start()
        start_weights.write_record(self.run_dir, self.start)

    def _open_metrics(self) -> runs.Metrics:
        return runs.Metrics(self.run_dir)

    def _clamp_log_every(self, job: Job) -> None:
        """A `log_every` longer than an epoch would print no loss line and draw no loss.png:
        log once per epoch instead, and say so once."""
        per_epoch = len(job.data.train)
        if job.steps_mode or job.log_every <= per_epoch:
            return
        self.screen.note(
            f"train.log_every {job.log_every} is longer than an epoch of {per_epoch} batches: "
            f"logging every {per_epoch}"
        )
        job.log_every = per_epoch

    def _resume(self, job: Job, found: tuple[dict[str, Any], str, int]) -> TrainState:
        """Continue from `found`, the run folder's newest valid checkpoint (read before the job
        is made: its weights may be needed first); a distributed run: every rank, from the copy
        rank 0 reads (see distributed.py's hooks)."""
        ckpt, where, strays = found
        self._check_world(ckpt, where)
        state = checkpoint.restore(
            ckpt, self.model, job.optimizer, job.scheduler, job.generator, where
        )
        self._restored(ckpt)
        path = self.last_checkpoint = Path(where)
        if self._writes:
            runs.truncate_metrics(self.run_dir, state.step)
            self._write_start(resumed_from=path.name)
        if strays:
            self.screen.note(f"removed {strays} unfinished checkpoint file(s)")
        self.screen.say(
            f"resuming from {path} (step {state.step}, epoch {state.epoch + 1}, "
            f"batch {state.batch})"
        )
        return state

    def _read_checkpoint(self) -> tuple[dict[str, Any], str, int]:
        """The newest valid checkpoint, its path, and how many unfinished files were removed."""
        strays = checkpoint.remove_strays(self.run_dir)
        ckpt, path = checkpoint.newest_valid(self.run_dir, self.spec_hash, self.opts.fallback)
        return ckpt, str(path), len(strays)

    def _check_world(self, ckpt: dict[str, Any], where: str) -> None:
        """E-RESUME when the checkpoint was written by another number of processes."""
        checkpoint.check_world(ckpt, 1, self.opts.any_world_size, where)

    def _restored(self, ckpt: dict[str, Any]) -> None:
        """After the weights, optimizer and RNG are back: nothing more for one process."""

    @property
    def _writes(self) -> bool:
        """Whether this process writes the run folder (one process always does)."""
        return True

    def _write_start(self, resumed_from: str | None = None) -> None:
        fake = self.opts.fake_data if self._fakeable else None
        note = [f"trained on FakeData standing in for {self.spec.data.source}: --fake-data {fake}"]
        runs.write_spec(
            self.run_dir,
            self.plan.resolved,
            self.plan.source,
            self.opts.overrides,
            note if fake else [],
        )
        write_atomic(self.run_dir / "model.py", self.plan.compiled.source)
        self.meta = {
            "graphspec": __version__,
            "torch": torch.__version__,
            "spec": self.plan.source,
            "argv": self.opts.argv,
            "overrides": self.opts.overrides,
            "seed": self.plan.seed,
            "spec_hash": self.spec_hash,
            "fake_data": self.opts.fake_data if self._fakeable else None,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "status": "running",
            "resumed_from": resumed_from,
            "data_path": getattr(self, "data_path", None),
        }
        runs.write_json(self.run_dir / "meta.json", self.meta)

    @property
    def _fakeable(self) -> bool:
        """Whether --fake-data applies: the data source can be stood in for by FakeData."""
        return self.spec.data.stand_in(1) is not None

    def _announce(self, job: Job, state: TrainState) -> None:
        say = self.screen.say
        say(str(self.model))
        params = sum(p.numel() for p in self.model.parameters())
        frozen = sum(p.numel() for p in self.model.parameters() if not p.requires_grad)
        params_text = f"{params:,} parameters" + (f" ({frozen:,} frozen)" if frozen else "")
        say(
            f"model: {self.plan.compiled.graph.class_name}, {params_text} · "
            f"device: {job.device} · seed: {self.plan.seed}"
        )
        if job.data.fake:
            say(f"data: {job.data.fake}")
        else:
            say(f"data: {job.data.description}")
        say(f"data path: {job.data.path}")
        split = job.data.train
        order = "shuffled" if split.shuffle else "in order"
        say(f"batches: {len(split):,} per epoch of {split.batch_size} ({order})")
        length = (_count(job.epochs, "epoch") if job.epochs else _count(job.max_steps, "step")) + (
            f", at most {job.max_steps} steps" if job.epochs and job.max_steps else ""
        )
        say(f"train: {length} · {self.spec.loss.op} · {_call(self.spec.optimizer)}")
        if self.opts.fake_data and not job.data.fake:
            self.screen.note(f"--fake-data ignored: the data source is {self.spec.data.source}")

    def _train(self, job: Job, state: TrainState) -> int:
        self.started = time.monotonic()
        self.screen.start(job.total_steps, state.step, job.data.train.batch_size)
        previous = {s: signal.signal(s, self._on_signal) for s in STOP_SIGNALS}
        try:
            state = train(job, state, self)
        except DivergedError as err:
            return self._diverged(err)
        except StoppedError as err:
            return self._interrupted(err)
        except PrunedError as err:
            return self._pruned(err)
        finally:
            self.flush_logs()
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.screen.close()
        return self._finish(job, state)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.stop_signal = signum  # the loop finishes the step, checkpoints and stops
        signal.signal(
            signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
        )  # a second one stops at once

    # -- Hooks for train() -------------------------------------------------------------------

    def use_job(self, job: Job) -> None:
        """The job these hooks report on; what the per-step hooks need is settled here."""
        self.job = job
        self.logged: list[tuple] = []
        self.flushed = time.monotonic()
        self.total_steps = str(job.total_steps)
        self.fit_size = len(job.data.fit) if job.data.fit is not None else 0

    def on_step(self, state: TrainState, loss: float) -> None:
        self.last_value = loss
        now = time.monotonic()
        self.screen.step(loss, now)
        if self.logged and now - self.flushed > FLUSH_S:
            self.flush_logs(now)

    # on_log runs every few steps of loops whose step may be 350 µs, so it only notes the
    # numbers; flush_logs formats, prints and writes them in batches, every FLUSH_S and before
    # anything that must see them (a checkpoint, the end). bench/run_step.py checks the cost.

    def on_log(self, state: TrainState, mean_loss: float, output: torch.Tensor) -> None:
        lr = self.job.optimizer.param_groups[0]["lr"]
        self.logged.append((state.step, state.epoch, state.batch, mean_loss, lr, time.monotonic()))
        if self.fit_size:
            self._keep_frame(state, output)

    def flush_logs(self, now: float | None = None) -> None:
        """Print and record the logged steps noted since the last flush."""
        self.flushed = time.monotonic() if now is None else now
        if not self.logged:
            return
        lines, total = [], self.total_steps
        for step, epoch, batch, loss, _, _ in self.logged:
            if self.job.steps_mode:
                lines.append(f"step {step:{len(total)}d}/{total}  loss: {loss:.6g}")
            else:
                lines.append(f"[{epoch + 1}, {batch:5d}] loss: {loss:.3f}")
        self.screen.say("\n".join(lines))
        self.metrics.write_steps(self.logged, self.started)
        self.logged = []

    def _keep_frame(self, state: TrainState, output: torch.Tensor) -> None:
        self.logs += 1
        if self.logs % self.frame_stride:
            return
        fit = self.job.data.fit
        if output.shape[0] != self.fit_size or self.job.data.train.shuffle:
            with torch.no_grad():  # a mini-batch is not the whole curve: predict it all
                output = self.model(*(x.to(self.job.device) for x in fit.inputs))
        self.frames.append((state.step, output.detach().cpu(), self.last_value))
        if len(self.frames) >= MAX_KEPT_FRAMES:  # long runs: keep every other frame
            self.frames, self.frame_stride = self.frames[::2], self.frame_stride * 2

    def on_checkpoint(self, state: TrainState) -> None:
        if not checkpoint.params_finite(self.model):
            self.screen.note(f"step {state.step}: weights are not finite; no checkpoint written")
            return
        job = self.job
        self.flush_logs()
        self.metrics.flush()  # every line up to the checkpoint is on disk before it is
        ckpt = checkpoint.capture(
            state, self.model, job.optimizer, job.scheduler, job.generator, self.spec_hash
        )
        ckpt.update(self._checkpoint_extras())
        ckpt["checksum"] = checkpoint.digest(ckpt)  # over the extras too (a distributed run's)
        path = checkpoint.path_for(self.run_dir, state.step)
        checkpoint.save_atomic(ckpt, path)
        checkpoint.prune(self.run_dir, self.spec.train.keep_checkpoints)
        self.last_checkpoint = path

    def on_validate(self, state: TrainState) -> bool:
        """Evaluate the validation split with the generated validate(); record, print, keep the
        best weights (checkpoints/best.pt); True when early stopping ends training."""
        program, val = self.job.data.program, self.spec.train.validation
        metrics = program.validate(self.model, self.job.data.val.raw, self._plain_loss())
        if self.job.plateau_monitor is not None:  # ReduceLROnPlateau: the script does the same
            self.job.scheduler.step(metrics[self.job.plateau_monitor])
        epoch = state.epoch + 1
        self.flush_logs()
        self.screen.say(program.validation_line(state.step, epoch, metrics))
        self.metrics.write({"step": state.step, "epoch": epoch,
                            **{f"val_{k}": v for k, v in metrics.items()}})  # fmt: skip
        if self.opts.on_validation is not None and self.opts.on_validation(state.step, metrics):
            raise PrunedError(state, metrics)
        stop = val.early_stopping
        monitor = stop.monitor if stop else "loss"
        if program.improved(metrics[monitor], state.best):
            state.best, state.best_step, state.best_epoch = metrics[monitor], state.step, epoch
            state.bad_validations = 0
            self._save_best(state, monitor)
        else:
            state.bad_validations += 1
        if stop is None or state.bad_validations < stop.patience:
            return False
        line = EARLY_LINE.format(
            step=state.step, epoch=epoch, monitor=monitor, min_delta=stop.min_delta,
            patience=stop.patience,
        )  # fmt: skip
        self.screen.say(line)
        return True

    def _plain_loss(self) -> torch.nn.Module:
        """The spec's loss as built (a distributed run wraps it in a collective)."""
        return self.job.loss_fn

    def _save_best(self, state: TrainState, monitor: str) -> None:
        """checkpoints/best.pt: a whole checkpoint (resumable, checksummed) of the best weights,
        with what made them best; keep_checkpoints never prunes it."""
        job = self.job
        ckpt = checkpoint.capture(
            state, self.model, job.optimizer, job.scheduler, job.generator, self.spec_hash
        )
        ckpt["best"] = {"monitor": monitor, "value": state.best, "step": state.step,
                        "epoch": state.best_epoch}  # fmt: skip
        ckpt["checksum"] = checkpoint.digest(ckpt)
        checkpoint.save_atomic(ckpt, self.run_dir / checkpoint.FOLDER / checkpoint.BEST)

    def _checkpoint_extras(self) -> dict[str, Any]:
        """More to store in a checkpoint (a distributed run: its world size, each rank's RNG)."""
        return {}

    # -- endings ------------------------------------------------------------------------------

    def _diverged(self, err: DivergedError) -> int:
        state = err.state
        self.on_checkpoint(state)  # the weights are still those of the last finite step
        where = f"step {state.step + 1} (epoch {state.epoch + 1}, batch {state.batch + 1})"
        kept = (
            f"the last finite weights are in {self.last_checkpoint}"
            if self.last_checkpoint
            else "no finite checkpoint was written"
        )
        self._write_end("diverged", state)
        self.screen.close()
        raise Diverged(
            "E-DIVERGED",
            f"loss is {err.value} at {where}; {kept}",
            "lower optimizer.lr, or check the data for inf/nan",
            str(self.run_dir),
        )

    def _interrupted(self, err: StoppedError) -> int:
        name = signal.Signals(err.signum).name
        self._write_end("interrupted", err.state)
        self.screen.close()
        raise Interrupted(
            err.signum,
            f"{name} at step {err.state.step}: checkpoint {self.last_checkpoint} written",
            f"continue with: graphspec run --resume {self.run_dir}",
            str(self.run_dir),
        )

    def _pruned(self, err: PrunedError) -> int:
        """A sweep's pruner ended the trial at a validation: the folder says so, exit 0."""
        state = err.state
        self.on_checkpoint(state)
        self.screen.say(f"pruned at step {state.step} (epoch {state.epoch + 1}) by the sweep")
        self._write_end("pruned", state, {"validation_at_prune": err.metrics})
        self.screen.result(str(self.run_dir))
        return 0

    def _write_end(self, status: str, state: TrainState, result: dict | None = None) -> None:
        self.meta.update(
            status=status,
            steps=state.step,
            epoch=state.epoch + 1,
            batch=state.batch,
            finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
            result=result,
        )
        runs.write_json(self.run_dir / "meta.json", self.meta)

    def _finish(self, job: Job, state: TrainState) -> int:
        from graphspec.training.results import RunRecord, finish  # evaluation and drawings

        elapsed = time.monotonic() - self.started
        if state.stopped:  # train.stop ended it; emit --train's script prints the same line
            stop = self.spec.train.stop
            self.screen.say(
                STOP_LINE.format(step=state.step, tolerance=stop.tolerance, patience=stop.patience)
            )
        if self.last_checkpoint != checkpoint.path_for(self.run_dir, state.step):
            self.on_checkpoint(state)
        self.screen.say("Finished Training")
        self.screen.note(f"trained {_count(state.step, 'step')} in {elapsed:.2f} s")
        pictures = getattr(self.opts, "pictures", "now")
        best = self._best_summary(state)
        record = RunRecord(
            self.run_dir, self.screen, self.metrics, self.plan.compiled, self.frames, pictures
        )
        result = finish(record, self.model, job, state)
        if best is not None:
            result["validation"] = best
        self.meta["pictures"] = pictures
        self._write_end("finished", state, result)
        if pictures == "background":  # the folder is complete: draw while the shell goes on
            from graphspec.training.plots import start_background

            start_background(self.run_dir)
        self.screen.result(str(self.run_dir))
        return 0

    def _best_summary(self, state: TrainState) -> dict[str, Any] | None:
        """After training: which validation was best, and which weights the final evaluation
        uses; with `final_weights: best` the model takes the best weights back first."""
        val = self.spec.train.validation
        if val is None or state.best is None:
            return None
        monitor = val.early_stopping.monitor if val.early_stopping else "loss"
        which = val.final_weights
        self.screen.say(BEST_LINE.format(monitor=monitor, value=state.best, step=state.best_step,
                                         epoch=state.best_epoch, which=which))  # fmt: skip
        path = self.run_dir / checkpoint.FOLDER / checkpoint.BEST
        if which == "best":
            best = checkpoint.load(path, self.spec_hash)
            self.model.load_state_dict(best["model"])
        return {"monitor": monitor, "best": state.best, "best_step": state.best_step,
                "best_epoch": state.best_epoch, "early_stopped": state.early_stopped,
                "final_weights": which, "best_checkpoint": str(path)}  # fmt: skip


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _call(entry: Any) -> str:
    args = ", ".join(
        f"{k}={v}"
        for k, v in entry.model_dump(exclude={"op", "groups"}).items()
        if k == "lr" or v != type(entry).model_fields[k].default
    )
    return f"{entry.op}({args})"
