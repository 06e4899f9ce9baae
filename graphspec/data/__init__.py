"""Data sources: one class per `source:`, each holding its fields, static facts and code.

See data/base.py for what a source is. Every `Source` subclass with a `source:` tag defined in a
module of this package is found here, in module-name order, and becomes a member of the spec's
`data:` union (language/recipe.py): a new source is one new file, nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
import typing

from graphspec.data.base import Source

_NOT_SOURCES = ("base", "transforms")


def _discover() -> tuple[type[Source], ...]:
    found: list[type[Source]] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name in _NOT_SOURCES:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Source)
                and value.__module__ == module.__name__
                and "source" in value.model_fields
                and value not in found
            ):
                found.append(value)
    return tuple(found)


SOURCES: tuple[type[Source], ...] = _discover()
"""Every source class, each picked by the value of its `source:` field."""


def path_fields(source: object) -> tuple[str, ...]:
    """The path fields of the source named `source` (none for an unknown name)."""
    for cls in SOURCES:
        if source in typing.get_args(cls.model_fields["source"].annotation):
            return cls.path_fields
    return ()


__all__ = ["SOURCES", "Source", "path_fields"]
