"""From generated source to a live nn.Module: the one place that imports torch for the model.

The source is registered with `linecache` under a synthetic file name (as torch.fx does), so a
traceback through `forward` shows the generated line, shape comment and all.
"""

from __future__ import annotations

import hashlib
import linecache
from collections.abc import Iterable
from typing import Any


def load_class(source: str, class_name: str, origin: str) -> type:
    """Execute the generated module text and return its model class."""
    cls: type = load_namespace(source, origin, class_name)[class_name]
    return cls


def load_namespace(
    source: str, origin: str, name: str = "program", imports: Iterable[str] = ()
) -> dict[str, Any]:
    """Execute generated text (a model, or the training functions); return its namespace.
    `imports`: the import lines the generator wrote beyond the model's (a data source's)."""
    from graphspec.core.codetext import check_source, one_line

    check_source(source, imports)  # never execute text the generator did not write
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    filename = f"<graphspec {one_line(origin)} {digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace: dict[str, Any] = {"__name__": f"graphspec.generated.{name}"}
    # The text is produced by compiler.codegen from a checked graph, never taken from the spec.
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102
    return namespace
