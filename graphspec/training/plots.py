"""The run's pictures, drawn off-screen by matplotlib's Agg canvas, imported only here.

Figures are made with the object API (`Figure` + `FigureCanvasAgg`), not pyplot: no global
figure state, no backend selection, and about half a second less to import.

loss.png is the logged loss against the step (and the validation loss, when validating). For
the fitting tasks, fit.png is the seed's final frame (data as dots, the prediction as a thick
red line, `Loss=` in red) and fit.gif is the seed's live `plt.ion()` plot made into a file, one
frame per logged step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphspec.core.files import write_atomic

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
    return t.detach().cpu().float().reshape(-1).numpy()  # bfloat16 (amp) has no numpy type
