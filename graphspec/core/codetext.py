"""The one door through which outside text reaches generated Python source or a terminal line.

A spec's file path, node names, strings and numbers come from whoever wrote the file, and the
names inside a data file from whoever made it. Generated code holds them only in three shapes:
inside a comment or a one-line message (`one_line`, which escapes every character that could end a
line or hide text), inside a docstring (`in_docstring`, which also replaces double quotes and
backslashes), or as a Python literal (`literal`,
which is `repr` of a plain value, never of an object). `check_source` then parses the finished
source and refuses anything the generator does not write (foreign imports, dunder access,
builtins that run or open things) before it is executed or saved: a second wall, in case a
future generator forgets the first.
"""

from __future__ import annotations

import ast

# Imports the generated module and training script may hold, and nothing else.
ALLOWED_IMPORTS = frozenset(
    {
        "math",
        "numpy",
        "torch",
        "torch.nn",
        "torch.nn.functional",
        "torchvision",
        "torchvision.transforms",
        "sklearn.datasets",
        "csv",
        "pathlib",
        "safetensors.torch",
        "tiktoken",
    }
)
# Bare names generated code never needs and an injected payload would.
BANNED_NAMES = frozenset(
    {
        "__import__", "eval", "exec", "compile", "open", "globals", "locals", "vars",
        "getattr", "setattr", "delattr", "breakpoint", "input", "importlib", "os", "sys",
        "subprocess", "builtins", "__builtins__", "memoryview",
    }
)  # fmt: skip
"""Names generated code never uses; core/names.py refuses them as spec names too."""
_ALLOWED_DUNDERS = frozenset({"__init__", "__name__", "__main__"})


def one_line(text: object) -> str:
    """`text` with every non-printable character escaped, so it can never break a line."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() else _escape(c) for c in s)


def _escape(c: str) -> str:
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(c) or (
        f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
    )


def in_docstring(text: object) -> str:
    """`text` made safe inside a triple-quoted docstring: one line, and no double quote or backslash
    that could end the string or escape its end (a data file's member name is anybody's text)."""
    return one_line(text).replace('"', "'").replace("\\", "/")


def literal(value: object) -> str:
    """A Python literal for a plain value (str, number, bool, None, or lists/tuples of them)."""
    if isinstance(value, str):
        return _string(value)
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        items = ", ".join(literal(v) for v in value)
        if isinstance(value, list):
            return f"[{items}]"
        return f"({items}{',' if len(value) == 1 else ''})"
    raise TypeError(f"not a plain value for generated code: {type(value).__name__}")


def _string(text: str) -> str:
    """repr's escapes in double quotes, as ruff's formatter writes a string; a text holding a
    double quote keeps repr's quotes, which then need no escapes for it."""
    shown = repr(text)
    if shown.startswith('"') or '"' in text:
        return shown
    return f'"{shown[1:-1]}"'


class UnsafeSource(Exception):
    """Generated source holds something the generator never writes: a bug, never run."""


def check_source(source: str) -> None:
    """Refuse generated source that holds more than the generator writes (see module doc)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise UnsafeSource(f"generated source does not parse: {err}") from None
    for stmt in tree.body:
        if not isinstance(
            stmt, (ast.Import, ast.ImportFrom, ast.ClassDef, ast.FunctionDef, ast.Assign, ast.If)
        ) and not _is_docstring(stmt):
            raise UnsafeSource(f"unexpected top-level statement at line {stmt.lineno}")
    for node in ast.walk(tree):
        _check_node(node)


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)


def _check_node(node: ast.AST) -> None:
    line = getattr(node, "lineno", "?")
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        names = [node.module or ""]
    else:
        names = []
    for name in names:
        if name not in ALLOWED_IMPORTS:
            raise UnsafeSource(f"import of {name!r} at line {line}")
    if isinstance(node, ast.Name) and node.id in BANNED_NAMES:
        raise UnsafeSource(f"use of {node.id!r} at line {line}")
    # `model.eval()` is a method, not the builtin: attributes are checked for dunders only.
    ident = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
    if ident and ident.startswith("__") and ident not in _ALLOWED_DUNDERS:
        raise UnsafeSource(f"dunder access {ident!r} at line {line}")
