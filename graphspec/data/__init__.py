"""Data sources: one class per `source:`, each holding its fields, static facts and code.

See data/base.py for what a source is. Every `Source` subclass with a `source: Literal["name"]`
field in a module of this package is a member of the spec's `data:` union (language/recipe.py):
a new source is one new file, nothing else. The names are read from the modules' text, and a
module is imported the first time a spec names one of its sources, so validating a spec builds
the model of its own source only (`SOURCES`, every class, imports them all).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any, get_args

from graphspec.data.base import Source

_NOT_SOURCES = ("__init__", "base", "transforms")
_SOURCE_LINE = re.compile(r"^    source: Literal\[([^\]]+)\]", re.M)


def _index() -> dict[str, str]:
    """Source name -> the module that defines it, in module-name order."""
    here = Path(__file__).parent
    return {
        name: path.stem
        for path in sorted(here.glob("*.py"))
        if path.stem not in _NOT_SOURCES
        for names in _SOURCE_LINE.findall(path.read_text(encoding="utf-8"))
        for name in re.findall(r'"(\w+)"', names)
    }


SOURCE_MODULES = _index()
"""Every `source:` name and the module under graphspec/data/ that defines it."""
_loaded: dict[str, type[Source]] = {}


def source_class(name: str) -> type[Source] | None:
    """The class whose `source:` is `name` (its module imported now), or None."""
    if name not in _loaded and name in SOURCE_MODULES:
        module = importlib.import_module(f"{__name__}.{SOURCE_MODULES[name]}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Source)
                and value.__module__ == module.__name__
                and "source" in value.model_fields
            ):
                for tag in get_args(value.model_fields["source"].annotation):
                    _loaded[tag] = value
    return _loaded.get(name)


def __getattr__(name: str) -> Any:
    if name == "SOURCES":  # every source class, each picked by the value of its `source:` field
        return tuple(dict.fromkeys(source_class(tag) for tag in SOURCE_MODULES))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def path_fields(source: object) -> tuple[str, ...]:
    """The path fields of the source named `source` (none for an unknown name)."""
    cls = source_class(source) if isinstance(source, str) else None
    return cls.path_fields if cls is not None else ()


__all__ = ["SOURCES", "SOURCE_MODULES", "Source", "path_fields", "source_class"]
