"""What an exported file carries besides the graph: a run folder's preprocess.json, so a served
model needs nothing else. Keys (all values are JSON text):

- `preprocess`: the whole preprocess.json (training/preprocess.py);
- `classes`: the class names, index by index (absent for regression);
- `normalize`: `{"mean": [...], "std": [...]}`: an image run's Normalize, or a table's
  standardisation (x - mean) / std;
- `vocabulary`: a character model's characters, id by id;
- `inputs`: the model's input names, shapes and dtypes.

ONNX keeps them in `metadata_props` (onnxruntime: `session.get_modelmeta().custom_metadata_map`),
pt2 and TorchScript as extra files of those names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PREPROCESS = "preprocess.json"


def of_run(weights: str | None) -> dict[str, str]:
    """The metadata of the run folder `weights` names (empty for a weights file or none)."""
    if not weights or not (Path(weights) / PREPROCESS).is_file():
        return {}
    try:
        state = json.loads((Path(weights) / PREPROCESS).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}  # a damaged preprocess.json: the export still works, without metadata
    if not isinstance(state, dict):
        return {}
    found: dict[str, Any] = {
        "preprocess": state,
        "classes": state.get("classes"),
        "normalize": normalize(state),
        "vocabulary": state.get("vocabulary"),
        "inputs": state.get("inputs"),
    }
    return {k: json.dumps(v) for k, v in found.items() if v is not None}


def normalize(state: dict[str, Any]) -> dict[str, list[float]] | None:
    stats = state.get("standardize")
    if stats:
        return {"mean": stats["mean"], "std": stats["std"]}
    for name, args in state.get("eval_transforms") or []:
        if name == "Normalize":
            return {"mean": list(args["mean"]), "std": list(args["std"])}
    return None
