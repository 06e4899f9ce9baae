"""The one door through which outside text reaches generated Python source or a terminal line.

A spec's file path, node names, strings and numbers come from whoever wrote the file, and the
names inside a data file from whoever made it. Generated code holds them only in three shapes:
inside a comment or a one-line message (`one_line`, which escapes every character that could end a
line or hide text), inside a docstring (`in_docstring`, which also replaces double quotes and
backslashes), or as a Python literal (`literal`,
which is `repr` of a plain value, never of an object). `check_source` then parses the finished
source and refuses anything the generator does not write (foreign imports, dunder access,
builtins that run or open things, calls into namespaces that load code or reach other
processes, methods that change files, and file reads or writes from a function not known to
make them: make_data reads and never writes) before it is executed or saved: a second wall, in
case a future generator forgets the first.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

MODEL_IMPORTS = (
    "import math",
    "import torch",
    "import torch.nn as nn",
    "import torch.nn.functional as F",
)
"""What the generated model and training functions import. A data source's generated code adds
its own lines (`Source.imports`, on its class): the callers pass those to `check_source`, so the
allowed imports are these and the source's, each stated in one place."""
OP_IMPORTS = ("import torchvision",)
"""Imports the model's code may also use (torchvision's StochasticDepth, Permute, LayerNorm2d),
written only where the code reads them (codegen.import_lines) and always allowed."""
LINE_LENGTH = 100
"""Longest line written (ruff's line-length in graphspec's own pyproject.toml)."""
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

# Calls that read or write files, and the generated functions known to make them: make_data reads
# the data files and never writes (nor does read_image, which reads an image folder's files for
# it: data/images.py), main() (emit --train) saves and reloads the trained weights,
# and nothing else touches a file. A call is named by its dotted text (`np.load`); a name ending
# in "." stands for everything under it. The enclosing function is the top-level one (a helper
# nested inside make_data is make_data's).
GUARDED_CALLS: dict[str, frozenset[str]] = {
    "torch.save": frozenset({"main"}),
    "torch.load": frozenset({"make_data", "main", "load_weights"}),
    "np.load": frozenset({"make_data"}),
    "Path": frozenset({"make_data", "read_image"}),
    "csv.": frozenset({"make_data"}),
    "safetensors.": frozenset({"make_data"}),
    "load_digits": frozenset({"make_data"}),
    "torchvision.datasets.": frozenset({"make_data"}),
    "torchvision.io.read_file": frozenset({"make_data"}),
}
# Namespaces no generated text calls into: they load code, open files or reach other processes.
BANNED_CALLS = (
    "torch.hub.", "torch.jit.", "torch.ops.", "torch.library.", "torch.utils.cpp_extension.",
    "torch.package.", "torch.classes.", "torch.from_file", "torch.distributed.",
    "torch.multiprocessing.", "np.save", "np.ctypeslib.", "np.memmap", "np.fromfile",
    "np.lib.", "np.tofile", "pathlib.", "shutil.", "tempfile.", "torchvision.io.write",
)  # fmt: skip
# Methods that change files; no generated function calls them on anything.
WRITER_METHODS = frozenset(
    {
        "write_text", "write_bytes", "unlink", "touch", "mkdir", "rmdir", "rename", "replace",
        "symlink_to", "hardlink_to", "chmod", "tofile", "savez", "savez_compressed", "save",
        "open", "system", "popen", "remove",
    }
)  # fmt: skip


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


def check_source(source: str, imports: Iterable[str] = ()) -> None:
    """Refuse generated source that holds more than the generator writes (see module doc).

    `imports` are the import lines the generator wrote beyond `MODEL_IMPORTS` (a data source's
    own); any other import is refused."""
    allowed = imported_modules((*MODEL_IMPORTS, *OP_IMPORTS, *imports))
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
        _check_node(node, allowed)
    for stmt in tree.body:
        where = getattr(stmt, "name", "<module>")
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call):
                _check_call(node, where)


def dotted(node: ast.AST) -> str | None:
    """`a.b.c` for a call target made of names and attributes; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _check_call(call: ast.Call, where: str) -> None:
    """A call is refused when it reaches a banned namespace, changes a file, or reads one from
    a function not known to (see GUARDED_CALLS)."""
    line = getattr(call, "lineno", "?")
    name = dotted(call.func)
    if name is not None:
        if name.startswith(BANNED_CALLS):
            raise UnsafeSource(f"call of {name!r} at line {line}")
        for guarded, functions in GUARDED_CALLS.items():
            if name == guarded or (guarded.endswith(".") and name.startswith(guarded)):
                if where not in functions:
                    raise UnsafeSource(f"call of {name!r} in {where} at line {line}")
                return
    method = call.func.attr if isinstance(call.func, ast.Attribute) else None
    if method in WRITER_METHODS:
        raise UnsafeSource(f"call of a file-changing method {method!r} at line {line}")


def imported_modules(lines: Iterable[str]) -> frozenset[str]:
    """The modules that import lines name: `from pathlib import Path` -> pathlib."""
    return frozenset(
        name for line in lines for node in ast.parse(line).body for name in _modules(node)
    )


def _modules(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""]
    return []


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)


def _check_node(node: ast.AST, allowed: frozenset[str]) -> None:
    line = getattr(node, "lineno", "?")
    for name in _modules(node):
        if name not in allowed:
            raise UnsafeSource(f"import of {name!r} at line {line}")
    if isinstance(node, ast.Name) and node.id in BANNED_NAMES:
        raise UnsafeSource(f"use of {node.id!r} at line {line}")
    # `model.eval()` is a method, not the builtin: attributes are checked for dunders only.
    ident = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
    if ident and ident.startswith("__") and ident not in _ALLOWED_DUNDERS:
        raise UnsafeSource(f"dunder access {ident!r} at line {line}")


# -- layout: long lines wrapped as ruff's formatter wraps them --------------------------------


def wrap_call(line: str) -> list[str]:
    """A statement ending in one call, `x = f(a, b)`, as ruff's formatter writes it when it is
    longer than LINE_LENGTH: the arguments on a line of their own, indented, if they fit there,
    else one a line with a trailing comma. Any other line is returned as it is."""
    if len(line) <= LINE_LENGTH or not line.endswith(")") or "#" in line:
        return [line]
    body = line.lstrip()
    pad = line[: len(line) - len(body)]
    try:
        tree = ast.parse(body)
    except SyntaxError:
        return [line]
    value = getattr(tree.body[0], "value", None) if len(tree.body) == 1 else None
    if not isinstance(value, ast.Call) or value.end_col_offset != len(body.encode()):
        return [line]
    head = body[: value.func.end_col_offset] + "("  # ASCII: generated heads are identifiers
    parts: list[ast.expr | ast.keyword] = [*value.args, *value.keywords]
    args = [_segment(body, a) for a in parts]
    inner = pad + "    " + ", ".join(args)
    if len(inner) <= LINE_LENGTH:
        return [pad + head, inner, pad + ")"]
    return [pad + head, *(f"{pad}    {a}," for a in args), pad + ")"]


def wrap_list(head: str, value: str) -> list[str]:
    """`head` + a list literal on one line, or one item a line when that is too long (as ruff's
    formatter writes it)."""
    if len(head + value) <= LINE_LENGTH or not value.startswith("["):
        return [head + value]
    items = ast.parse(value, mode="eval").body
    assert isinstance(items, ast.List)
    pad = " " * (len(head) - len(head.lstrip()) + 4)
    parts = [pad + _segment(value, item) + "," for item in items.elts]
    return [head + "[", *parts, pad[:-4] + "]"]


def _segment(line: str, node: ast.expr | ast.keyword) -> str:
    """The text of `node` in the one-line `line`. `ast.get_source_segment` splits the whole text
    into lines on every call, which made a long list quadratic: a spec with thousands of class
    names took minutes to emit (found by tests/security/test_fuzz.py)."""
    if "\n" in line:
        return ast.get_source_segment(line, node) or ""
    return line.encode()[node.col_offset : node.end_col_offset].decode()  # offsets are UTF-8
