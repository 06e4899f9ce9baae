"""A finished run folder, opened for use: its spec compiled, its model built with the chosen
weights, and its preprocessing state (preprocess.json) read back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from graphspec.core.errors import fail
from graphspec.training import checkpoint, run_folder
from graphspec.training import preprocess as preprocess_file

MAX_JSON_BYTES = 64 * 1024**2


@dataclass
class Trained:
    run_dir: Path
    compiled: Any
    model: torch.nn.Module
    meta: dict[str, Any]
    state: dict[str, Any]
    """preprocess.json"""
    weights: str

    @property
    def spec(self) -> Any:
        return self.compiled.spec

    @property
    def classes(self) -> list[str] | None:
        return self.state.get("classes")


def open_run(run_dir: str | Path, weights: str = "final") -> Trained:
    """The run at `run_dir` with its `final` (weights.pt) or `best` (checkpoints/best.pt)
    weights; E-RUN-style errors (E-RESUME, E-CKPT) name what is missing."""
    from graphspec.compiler.pipeline import compile_file

    folder = Path(run_dir)
    if not (folder / "spec.yaml").is_file():
        raise fail(
            "E-USAGE",
            f"'{folder}' is not a run folder (it has no spec.yaml)",
            hint="give a folder that `graphspec run` wrote, e.g. runs/<name>/<time>",
        )
    meta = run_folder.read_meta(folder)
    state_path = folder / preprocess_file.FILE
    if not state_path.is_file():
        raise fail("E-CKPT", f"'{state_path}' is missing",
                   hint="runs finished before preprocess.json existed: train again")  # fmt: skip
    state = _read_json(state_path)
    compiled = compile_file(folder / "spec.yaml")
    model = compiled.build()
    if compiled.spec.train.dtype != "float32":
        model.to(getattr(torch, compiled.spec.train.dtype))
    model.load_state_dict(_weights(folder, weights, meta))
    return Trained(folder, compiled, model.eval(), meta, state, weights)


def _weights(folder: Path, which: str, meta: dict[str, Any]) -> dict[str, torch.Tensor]:
    if which == "best":
        path = folder / checkpoint.FOLDER / checkpoint.BEST
        if not path.is_file():
            raise fail(
                "E-CKPT",
                f"'{path}' is missing: the run kept no best weights",
                hint="best weights come from train.validation; use --weights final",
            )
        return checkpoint.load(path, meta["spec_hash"])["model"]
    path = folder / "weights.pt"
    with checkpoint.open_regular(path, str(path)) as f:
        return torch.load(f, map_location="cpu", weights_only=True)


def _read_json(path: Path) -> dict[str, Any]:
    if path.stat().st_size > MAX_JSON_BYTES:
        raise fail("E-CKPT", f"'{path}' is larger than {MAX_JSON_BYTES:,} bytes")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise fail("E-CKPT", f"'{path}' is not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise fail("E-CKPT", f"'{path}' does not hold a JSON object")
    return data
