"""The end of a finished run: final weights, the evaluation, the pictures.

The evaluation uses a fresh model with the saved weights loaded back (`weights_only=True`), as
the CIFAR tutorial does with its PATH: what is reported is what the file holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from graphspec.core.errors import SpecError
from graphspec.language.recipe import Evaluate, task_of
from graphspec.program import polyfit
from graphspec.program.script import counted_as
from graphspec.training import checkpoint, confusion, metrics, plots, preprocess
from graphspec.training import evaluate as evaluation
from graphspec.training import run_folder as runs

if TYPE_CHECKING:
    from graphspec.compiler.pipeline import Compiled
    from graphspec.training.job import Job
    from graphspec.training.loop import TrainState
    from graphspec.training.screen import Screen


@dataclass
class RunRecord:
    """What the end of a run writes to and reads from (the session hands it over)."""

    run_dir: Path
    screen: Screen
    metrics: runs.Metrics
    compiled: Compiled
    frames: list
    """The fit animation's frames: (step, prediction, loss)."""
    pictures: str = "now"
    """"now": drawn before finish() returns; "background": saved for plots.start_background
    (the session starts it once meta.json is final); "off": --no-plots."""

    @property
    def spec(self) -> Any:
        return self.compiled.spec


def finish(run: RunRecord, trained: torch.nn.Module, job: Job, state: TrainState) -> dict[str, Any]:
    """Save the final weights, evaluate them reloaded from disk, draw; return the result."""
    run_dir, screen = run.run_dir, run.screen
    weights = run_dir / "weights.pt"
    checkpoint.save_atomic(trained.state_dict(), weights)
    preprocess.write(run_dir, preprocess.state(run.compiled, job.data))  # with the weights
    model = run.compiled.build().to(job.device, getattr(torch, run.spec.train.dtype))
    model.load_state_dict(torch.load(weights, map_location=job.device, weights_only=True))
    result = _evaluate(run, job, model, state.step)
    later = ""
    if run.pictures != "off":
        pictures = _pictures(run, job, model)
        if run.pictures == "now":
            pictures.draw(run_dir)
            _graph(run)
        else:
            pictures.save(run_dir)
            later = f"; drawing {', '.join([*pictures.names(), 'graph.svg'])}"
            later += " in the background"
    made = sorted(
        p.name + ("/" if p.is_dir() else "")
        for p in run_dir.iterdir()
        if not p.name.startswith(".")
    )
    screen.say(f"wrote: {', '.join(made)}{later}")
    return result


def _evaluate(run: RunRecord, job: Job, model: torch.nn.Module, step: int) -> dict[str, Any]:
    spec, screen, data = run.spec, run.screen, job.data
    if data.fit is not None:
        result, _ = evaluation.fit(model, data.fit, job.loss_fn, job.device)
        screen.say(
            f"final fit: {spec.loss.op} {result['loss']:.6g} over {result['samples']} points"
        )
    else:
        result = _test_metrics(run, job, model)
    params = _learned(run, job, model)
    if params:
        result["params"] = params
    run.metrics.write({"step": step, **result})
    return result


def _test_metrics(run: RunRecord, job: Job, model: torch.nn.Module) -> dict[str, Any]:
    """The test split's metrics (the training split's when the data has no test split): the
    tutorial's lines for a classifier, then one line naming the split, its size and numbers."""
    spec, screen, data = run.spec, run.screen, job.data
    split, name = (data.test, "test") if data.test is not None else (data.train, "train")
    task = task_of(spec.loss.op, spec.data)
    want = spec.evaluate or Evaluate()
    ignore = getattr(job.loss_fn, "ignore_index", None)
    collected = metrics.collect(model, split.batches(), job.loss_fn, job.device)
    result: dict[str, Any] = {"split": name}
    if task in metrics.CLASS_TASKS and name == "test":
        counted = counted_as(run.compiled)
        tutorial = evaluation.tutorial_result(collected, data.classes, want.examples, ignore)
        lines = evaluation.classification_lines(
            tutorial, want.accuracy is not False, want.per_class, data.fake, counted
        )
        for line in lines:
            screen.say(line)
        screen.say(f"test loss: {tutorial['loss']:.4f}")
    result.update(metrics.measure(collected, spec, data.classes, ignore))
    screen.say(metrics.summary_line(name, result, _counted(run, task)))
    if "confusion_matrix" in result:
        confusion.write(run.run_dir, result["confusion_matrix"], run.pictures != "off")
    return result


def _counted(run: RunRecord, task: str) -> str:
    return counted_as(run.compiled) if task in ("classification", "sequence") else "samples"


def _learned(run: RunRecord, job: Job, model: torch.nn.Module) -> dict[str, float]:
    """The model's learnable scalars, printed: for a polynomial fit, the seed's Result line and
    the comparison with the Taylor and least-squares coefficients (graphspec.program.polyfit)."""
    params = evaluation.scalar_params(model)
    poly = polyfit.detect(run.spec)
    if params and poly is not None and job.data.fit is not None:
        (x,), y = job.data.fit.inputs, job.data.fit.target
        for line in polyfit.compare(x, y, params, poly.terms, poly.taylor(), poly.target):
            run.screen.say(line)
    elif params:
        run.screen.say("learned: " + ", ".join(f"{k} = {v:.6g}" for k, v in params.items()))
    return params


def _pictures(run: RunRecord, job: Job, model: torch.nn.Module) -> plots.Pictures:
    """What to draw: the loss when steps were logged, the fit for the fitting tasks."""
    records = runs.read_metrics(run.run_dir)
    pictures = plots.Pictures(run.spec.name, any("split" not in r for r in records))
    if job.data.fit is not None:
        points = job.data.fit
        result, prediction = evaluation.fit(model, points, job.loss_fn, job.device)
        x, y = points.inputs[0], points.target
        pictures.fit = {"x": x, "y": y, "prediction": prediction, "loss": result["loss"]}
        pictures.frames = run.frames
    return pictures


def _graph(run: RunRecord) -> None:
    """graph.svg by graphspec.render; without graphviz, say so and go on."""
    try:
        from graphspec.render.diagram import render_to_file
    except ImportError:
        run.screen.note("graph.svg skipped: graphspec.render.diagram is not available")
        return
    from graphspec.render.dot import DotNotFoundError

    try:
        render_to_file(run.compiled, run.run_dir / "graph.svg")
    except DotNotFoundError:
        run.screen.note(
            "graph.svg skipped: Graphviz's `dot` is not installed (graph.dot written instead)"
        )
    except SpecError as err:
        run.screen.note(f"graph.svg skipped: {err}")
