"""Data paths resolve beside the spec that names them, as `model: {from: FILE}` does.

A relative file or folder named in `data:` (each source's `path_fields`) is looked for beside
the spec first; a path found only from the working folder (how specs were written before) is
kept as it is; a path found in neither place becomes the one beside the spec, so the message
about it names where it was looked for. A spec held in a string (no file) keeps its paths.
"""

from __future__ import annotations

import os
import re
from typing import Any

from graphspec.data import path_fields

KEYWORDS = frozenset({"input"})
"""Values of path fields that are not paths (npy's `target: input`)."""


def resolve(data: Any, spec_file: str) -> Any:
    """`data` with its data paths and `weights.from` resolved, absolute (a copy where anything
    changed): the run folder's spec.yaml and an emitted script then read the same files from
    anywhere."""
    if not isinstance(data, dict) or not os.path.isfile(spec_file):
        return data
    base = os.path.dirname(spec_file)
    section = data.get("data")
    if isinstance(section, dict):
        section = dict(section)
        for field in path_fields(section.get("source")):
            _resolve_field(section, field.split("."), base)
        data = {**data, "data": section}
    weights = data.get("weights")
    if isinstance(weights, dict) and _is_path(weights.get("from")):
        data = {**data, "weights": {**weights, "from": place(weights["from"], base)}}
    return data


def _is_path(value: Any) -> bool:
    """A weights source that is a file or folder, not a name (`torchvision:...`)."""
    return isinstance(value, str) and value != "" and not re.match(r"^[A-Za-z][\w+.-]*:", value)


def _resolve_field(mapping: dict[str, Any], keys: list[str], base: str) -> None:
    key = keys[0]
    value = mapping.get(key)
    if len(keys) > 1:
        if isinstance(value, dict):
            mapping[key] = inner = dict(value)
            _resolve_field(inner, keys[1:], base)
    elif isinstance(value, str):
        mapping[key] = place(value, base)
    elif isinstance(value, list):
        mapping[key] = [place(v, base) if isinstance(v, str) else v for v in value]


def place(path: str, base: str) -> str:
    """Where a path written in a spec in folder `base` is read from (absolute)."""
    if path in KEYWORDS or os.path.isabs(path) or path.startswith("~"):
        return path
    beside = os.path.normpath(os.path.join(base, path))
    try:
        found = beside if os.path.exists(beside) or not os.path.exists(path) else path
    except (ValueError, OSError):  # a NUL byte, a name too long: the source's check says so
        return path
    return os.path.abspath(found)
