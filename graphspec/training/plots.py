"""The run's pictures, drawn off-screen by matplotlib's Agg canvas, imported only here.

Drawing is off the run's critical path: matplotlib's import and the drawing cost about as much
as a short run's whole training (bench/RESULTS.md). A run started from the command line saves
what the pictures need (`Pictures.save`: plain numpy arrays, `.pictures.npz`) once the run
folder is otherwise complete, and a detached `python -m graphspec.training.plots RUN_DIR`
draws loss.png, fit.png, fit.gif and graph.svg while the shell has its prompt back; that
process imports neither torch nor pyplot. Called in-process
(`graphspec.cli.main([...])`), a run draws them before it returns; `--no-plots` draws none.

Figures are made with the object API (`Figure` + `FigureCanvasAgg`), not pyplot: no global
figure state, no backend selection, and about half a second less to import.

loss.png is the logged loss against the step (and the validation loss, when validating). For
the fitting tasks, fit.png is the seed's final frame (data as dots, the prediction as a thick
red line, `Loss=` in red) and fit.gif is the seed's live `plt.ion()` plot made into a file, one
frame per logged step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphspec.core.files import write_atomic
from graphspec.training.run_folder import read_metrics

PENDING = ".pictures.npz"
LOG = "pictures.log"

MAX_FRAMES = 60  # a GIF of a few seconds; longer runs are sampled evenly


def _figure(width: float, height: float, dpi: int) -> tuple[Any, Any]:
    """A figure on an Agg canvas (files only: no display, no window) and its axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def loss_png(records: list[dict[str, Any]], path: Path, title: str) -> None:
    steps = [r["step"] for r in records if "loss" in r and "split" not in r]
    losses = [r["loss"] for r in records if "loss" in r and "split" not in r]
    fig, ax = _figure(6.4, 4.0, 100)
    ax.plot(steps, losses, lw=1.5, label="training")
    val = [(r["step"], r["val_loss"]) for r in records if "val_loss" in r]  # train.validation
    if val:
        ax.plot(*zip(*val, strict=True), "o-", lw=1.5, ms=3, label="validation")
        ax.legend()
        losses = losses + [v for _, v in val]
    if losses and min(losses) > 0 and max(losses) / min(losses) > 50:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (mean since the previous point)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png"))


def _loss_label(loss: float) -> str:
    """The seed's `Loss=%.4f`, which reads 0.0000 for the sin fit's 2.5e-8: small ones as %.3g."""
    return f"Loss={loss:.4f}" if abs(loss) >= 1e-3 else f"Loss={loss:.3g}"


def _fit_axes(ax: Any, x: Any, y: Any, prediction: Any, loss: float, caption: str):
    """The seed's picture: data as dots, the prediction as a thick red line, `Loss=` in red."""
    ax.scatter(x, y, s=12)
    (line,) = ax.plot(x, prediction, "r-", lw=5)
    text = ax.text(
        0.5, 0.05, _loss_label(loss), transform=ax.transAxes, fontdict={"size": 20, "color": "red"}
    )
    title = ax.set_title(caption)
    return line, text, title


def fit_png(x: Any, y: Any, prediction: Any, loss: float, path: Path, caption: str) -> None:
    fig, ax = _figure(6.4, 4.8, 100)
    _fit_axes(ax, _flat(x), _flat(y), _flat(prediction), loss, caption)
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png"))


def fit_gif(x: Any, y: Any, frames: list[tuple[int, Any, float]], path: Path) -> None:
    """`frames`: (step, prediction, loss) at each logged step.

    The axes, ticks and data are drawn once; each frame redraws only the red line and its
    labels over that background (blitting), which is what makes a 60-frame GIF take a moment
    rather than half a minute. Pillow, which matplotlib already requires, writes the file.
    """
    from PIL import Image

    if len(frames) > MAX_FRAMES:
        stride = len(frames) / MAX_FRAMES
        frames = [frames[int(i * stride)] for i in range(MAX_FRAMES - 1)] + [frames[-1]]
    xs, ys = _flat(x), _flat(y)
    predictions = [_flat(p) for _, p, _ in frames]
    fig, ax = _figure(6.4, 4.8, 60)
    moving = _fit_axes(ax, xs, ys, predictions[0], frames[0][2], "step 0")
    low = min(ys.min(), *(p.min() for p in predictions))
    high = max(ys.max(), *(p.max() for p in predictions))
    ax.set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low))  # fixed for every frame
    for artist in moving:
        artist.set_animated(True)  # left out of the background
    fig.canvas.draw()
    background = fig.canvas.copy_from_bbox(fig.bbox)
    images = []
    line, text, title = moving
    for (step, _, loss), prediction in zip(frames, predictions, strict=True):
        fig.canvas.restore_region(background)
        line.set_ydata(prediction)
        text.set_text(_loss_label(loss))
        title.set_text(f"step {step}")
        for artist in moving:
            ax.draw_artist(artist)
        width, height = fig.canvas.get_width_height()
        rgba = Image.frombuffer("RGBA", (width, height), bytes(fig.canvas.buffer_rgba()))
        images.append(rgba.convert("RGB"))
    # one palette for all frames (the picture has a handful of colours): quantizing each
    # frame on its own would cost more than drawing it
    palette = images[-1].quantize(colors=64)
    frames_p = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    write_atomic(
        path,
        lambda f: frames_p[0].save(
            f, format="GIF", save_all=True, append_images=frames_p[1:], duration=100, loop=0
        ),
    )


def _flat(t: Any) -> Any:
    if hasattr(t, "detach"):  # a tensor; bfloat16 (amp) has no numpy type
        return t.detach().cpu().float().reshape(-1).numpy()
    return t.reshape(-1)


@dataclass
class Pictures:
    """What a finished run draws: loss.png from metrics.jsonl; for a fit, its points, final
    prediction and the animation's frames; graph.svg from the run's spec.yaml."""

    name: str
    loss: bool
    fit: dict[str, Any] | None = None  # x, y, prediction (flat arrays), loss
    frames: list[tuple[int, Any, float]] = field(default_factory=list)

    def names(self) -> list[str]:
        made = ["loss.png"] if self.loss else []
        made += ["fit.png"] if self.fit else []
        made += ["fit.gif"] if self.fit and self.frames else []
        return made

    def draw(self, run_dir: Path) -> None:
        if self.loss:
            records = read_metrics(run_dir)
            loss_png(records, run_dir / "loss.png", f"{self.name}: training loss")
        if self.fit:
            fit = self.fit
            caption = f"{self.name}: final fit"
            x, y = fit["x"], fit["y"]
            fit_png(x, y, fit["prediction"], fit["loss"], run_dir / "fit.png", caption)
            if self.frames:
                fit_gif(fit["x"], fit["y"], self.frames, run_dir / "fit.gif")

    def save(self, run_dir: Path) -> None:
        """The arrays and numbers as one .npz, for the background process."""
        import numpy as np

        arrays: dict[str, Any] = {}
        about = {"name": self.name, "loss": self.loss, "fit_loss": None, "steps": [], "losses": []}
        if self.fit:
            arrays.update({k: _flat(self.fit[k]) for k in ("x", "y", "prediction")})
            about["fit_loss"] = float(self.fit["loss"])
        if self.frames:
            arrays["frames"] = np.stack([_flat(p) for _, p, _ in self.frames])
            about["steps"] = [int(s) for s, _, _ in self.frames]
            about["losses"] = [float(v) for _, _, v in self.frames]
        arrays["about"] = np.frombuffer(json.dumps(about).encode(), dtype=np.uint8)
        write_atomic(run_dir / PENDING, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path: Path) -> Pictures:
        import numpy as np

        with np.load(path) as npz:
            about = json.loads(npz["about"].tobytes().decode())
            fit = None
            if about["fit_loss"] is not None:
                fit = {k: npz[k] for k in ("x", "y", "prediction")} | {"loss": about["fit_loss"]}
            frames = []
            if about["steps"]:
                stack = npz["frames"]
                frames = list(zip(about["steps"], stack, about["losses"], strict=True))
        return cls(about["name"], about["loss"], fit, frames)


def start_background(run_dir: Path) -> int:
    """Draw the saved pictures and the graph in a detached process; its pid. Its output goes
    to pictures.log in the run folder (kept only if it says something)."""
    log = open(run_dir / LOG, "wb")  # noqa: SIM115 (handed to the child)
    with log:
        child = subprocess.Popen(
            [sys.executable, "-m", "graphspec.training.plots", str(run_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # not stopped by the shell's Ctrl-C meant for the next job
            env=dict(os.environ, MPLBACKEND="agg"),
        )
    return child.pid


def _background(run_dir: Path) -> int:
    """The background process: the pictures, then graph.svg; the pending file goes last."""
    pending = run_dir / PENDING
    Pictures.load(pending).draw(run_dir)
    _graph_svg(run_dir)
    pending.unlink()
    log = run_dir / LOG
    if log.exists() and log.stat().st_size == 0:
        log.unlink()
    return 0


def _graph_svg(run_dir: Path) -> None:
    from graphspec.compiler.pipeline import compile_file
    from graphspec.core.errors import SpecError

    try:
        from graphspec.render.diagram import render_to_file
    except ImportError:
        return
    try:
        render_to_file(compile_file(run_dir / "spec.yaml"), run_dir / "graph.svg")
    except SpecError as err:  # no graphviz: graph.dot is written instead
        print(f"graph.svg skipped: {err}")


if __name__ == "__main__":
    sys.exit(_background(Path(sys.argv[1])))
