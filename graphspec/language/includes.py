"""`model: {from: FILE}`: a spec takes its model from another spec file.

A training spec names the model it trains instead of copying it:

    name: tiny_gpt
    constants: {vocab_size: 32}        # the GPT's own constants and blocks, overridden by name
    model: {from: zoo/gpt.yaml}        # its model:, constants: and blocks:
    data: ...                          # data, loss, optimizer, train: this file's own

The rule, in the order it is checked (every refusal is exit 2 at the `from:` value):

- FILE is relative to the folder of the file that says `from:` (an absolute path is taken as
  it is); it must end inside the *project*: the git working tree that holds the spec given on
  the command line (the nearest folder above it with a `.git`), or, outside git, that spec's own
  folder. The test is on the real path, so `..` and symbolic links that lead out are refused
  alike (E-PATH), whatever they point at, before the target is even looked at.
- It must be a regular file (not a FIFO, device or folder) of at most load.MAX_BYTES (1 MiB) (E-IO,
  E-LIMIT), and a spec: it is read by the same loader, with every limit, and its own errors
  point into it, at its own lines.
- `graphspec:zoo/NAME.yaml` names a model shipped inside the package (graphspec/zoo/), usable
  from any folder; the prefix cannot be mistaken for a path, and the name must stay inside
  the package's zoo.
- It may take its model `from:` a third file, and so on, at most MAX_CHAIN files deep; a file
  that comes back to itself is E-CYCLE.

What is taken: its `model:`, `constants:` and `blocks:`, with this file's own merged over them
(`merged`): mappings key by key, anything else replaced whole. So `constants: {vocab_size: 65}`
resizes the zoo GPT, other keys beside `from:` change the model (`inputs: {x: [N, 3, 32, 32]}`
replaces an input's shape, `layers: {fc: {out_features: 10}}` one field of one layer, a new
layer name adds a layer at the end), and a block of the same name changes that block. Its name,
data, loss, optimizer, scheduler, train, device and seed are not taken: the training spec says
how it trains, in full. The result is one document whose positions point into whichever file
each value came from, so `graphspec run`'s spec.yaml holds the whole model and repeats the run
without the other file.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Callable
from typing import Any

from graphspec.core.errors import Pos, fail

KEY = "from"
PACKAGE = "graphspec:"
"""The prefix of a file shipped in the package: `graphspec:zoo/resnet18.yaml`."""
MAX_CHAIN = 8
"""Files in one chain of `from:`s (each up to 1 MiB); a model is rarely more than one away."""
TAKEN = ("constants", "blocks")
"""Sections of the model's file that come with its model, merged by name under this file's."""

Reader = Callable[[str, str], Any]
"""(path to open, name for positions) -> a loaded, unresolved load.Document."""


def resolve(
    doc: Any, read: Reader, max_bytes: int, root: str | None = None, chain: tuple[str, ...] = ()
) -> Any:
    """`doc` with its `model: {from: FILE}` replaced by FILE's model (recursively); `doc`
    itself when it has none. `root` is the project folder (found from `doc.file` when None);
    `max_bytes` is the loader's size cap, checked before the file is opened."""
    data = doc.data
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict) or KEY not in model:
        return doc
    where = doc.pos(("model", KEY))
    spec_dir = os.path.dirname(doc.file) if _is_path(doc.file) else ""
    if root is None:
        root = project_root(spec_dir or ".")
    if not chain and _is_path(doc.file):
        chain = (os.path.realpath(doc.file),)
    label, real = _target(model[KEY], spec_dir, root, where)
    if real in chain:
        names = " -> ".join(_short(p, root) for p in (*chain, real))
        raise fail(
            "E-CYCLE",
            f"model.from makes a cycle: {names}",
            where,
            hint="a model file must not reach back to a spec that uses it",
        )
    if len(chain) >= MAX_CHAIN:
        raise fail(
            "E-LIMIT",
            f"more than {MAX_CHAIN} files in one chain of `model: {{from: ...}}`",
            where,
            hint="take the model from the file that defines it",
        )
    _check_file(real, label, where, max_bytes)
    included = resolve(read(real, label), read, max_bytes, root, (*chain, real))
    return _merge(doc, included, label, where)


def project_root(start: str) -> str:
    """The git working tree holding `start` (a folder), or `start` itself outside git."""
    here = os.path.realpath(start)
    probe = here
    while True:
        if os.path.lexists(os.path.join(probe, ".git")):  # a folder, or a worktree's file
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            return here
        probe = parent


def _is_path(file: str) -> bool:
    """A real file name, not a label such as '<spec>' (compile_text): those read from the
    current folder."""
    return not (file.startswith("<") and file.endswith(">"))


def _target(ref: Any, spec_dir: str, root: str, where: Pos) -> tuple[str, str]:
    """(the name errors and spec.yaml use, the real path), refusing what leaves the project."""
    if not isinstance(ref, str) or not ref.strip():
        raise fail(
            "E-TYPE",
            "model.from must be the path of a spec file",
            where,
            hint="for example `model: {from: zoo/gpt.yaml}`, relative to this spec's folder",
        )
    if any(ord(c) < 32 or c == "\x7f" for c in ref):
        raise fail("E-PATH", "model.from holds a control character", where)
    if ref.startswith(PACKAGE):
        return ref, _packaged(ref, where)
    label = os.path.normpath(os.path.join(spec_dir, ref))
    real = os.path.realpath(label)
    if not _inside(real, root):
        lexical = os.path.abspath(label)
        how = "leads through a symbolic link" if _inside(lexical, root) else "is"
        raise fail(
            "E-PATH",
            f"'{ref}' {how} outside the project folder {root}",
            where,
            hint="a model file must lie in the spec's git working tree (or, outside git, its "
            "folder); copy the file there",
        )
    return label, real


def zoo_folder() -> str:
    """The zoo shipped inside the package."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "zoo")


def _packaged(ref: str, where: Pos) -> str:
    """The real path of `graphspec:zoo/NAME.yaml`, which must lie in the package's zoo."""
    zoo = zoo_folder()
    name = ref.removeprefix(PACKAGE)
    real = os.path.realpath(os.path.join(os.path.dirname(zoo), name))
    if not name.startswith("zoo/") or not _inside(real, zoo) or real == zoo:
        raise fail(
            "E-PATH",
            f"'{ref}' is not a model of graphspec's zoo",
            where,
            hint="write graphspec:zoo/<name>.yaml; `graphspec zoo` lists them",
        )
    return real


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _check_file(real: str, label: str, where: Pos, max_bytes: int) -> None:
    """Before opening: a FIFO would block the read, and the size must be known first."""
    try:
        info = os.stat(real)
    except FileNotFoundError:
        raise fail(
            "E-IO",
            f"model file '{label}' does not exist",
            where,
            hint="the path is relative to the folder of the spec that names it",
        ) from None
    except OSError as e:
        raise fail("E-IO", f"cannot read model file '{label}': {e.strerror or e}", where) from None
    if not stat.S_ISREG(info.st_mode):
        what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise fail("E-IO", f"model file '{label}' is {what}", where)
    if info.st_size > max_bytes:
        raise fail(
            "E-LIMIT",
            f"model file '{label}' is {info.st_size / (1 << 20):.1f} MiB; "
            f"the limit is {max_bytes // (1 << 20)} MiB",
            where,
        )
    if not os.access(real, os.R_OK):
        raise fail("E-IO", f"cannot read model file '{label}': permission denied", where)


def _short(path: str, root: str) -> str:
    return os.path.relpath(path, root) if _inside(path, root) else path


def _merge(doc: Any, included: Any, label: str, where: Pos) -> Any:
    """One document: `included`'s model, constants and blocks with `doc`'s own merged over."""
    theirs = included.data
    if theirs.get("model") is None:
        raise fail(
            "E-MISSING",
            f"'{label}' has no model: section to take",
            where,
            hint="name a spec file that defines a model",
        )
    if not isinstance(theirs["model"], dict):
        raise fail("E-TYPE", f"model must be a mapping in '{label}'", included.pos(("model",)))
    ours = {k: v for k, v in doc.data.items()}
    ours["model"] = {k: v for k, v in ours["model"].items() if k != KEY}
    out: dict[str, Any] = {}
    for key, value in ours.items():
        if key == "model":  # the taken sections come before it, where a spec has them
            out |= {s: theirs[s] for s in TAKEN if s not in ours and s in theirs}
        # a section the model file lacks merges as empty: the spec's own stands alone
        taken = key in ("model", *TAKEN) and key in theirs
        out[key] = merged(theirs[key], value) if taken else value
    return dataclasses.replace(
        doc,
        data=out,
        positions=_positions(ours, theirs, doc.positions, included.positions),
        key_positions=_positions(ours, theirs, doc.key_positions, included.key_positions),
        texts={**included.texts, **doc.texts},
        includes=[label, *included.includes],
    )


def merged(base: Any, over: Any) -> Any:
    """`over` merged into `base`: mappings key by key (the base's order, new keys after);
    anything else, lists included, replaced whole."""
    if not (isinstance(base, dict) and isinstance(over, dict)):
        return over
    out = dict(base)
    for key, value in over.items():
        out[key] = merged(base[key], value) if key in base else value
    return out


def _positions(
    ours: dict[str, Any], theirs: dict[str, Any], own: dict[Any, Any], their_table: dict[Any, Any]
) -> dict[Any, Any]:
    """Each path's position from the file its value now comes from: ours where we wrote it,
    theirs for every value of theirs that no value of ours replaced."""
    table = {
        path: pos
        for path, pos in their_table.items()
        if path[:1] in (("model",), *((s,) for s in TAKEN)) and not _replaced(ours, theirs, path)
    }
    table |= {path: pos for path, pos in own.items() if path[:2] != ("model", KEY)}
    return table


def _replaced(ours: Any, theirs: Any, path: tuple[Any, ...]) -> bool:
    """Whether a value of ours replaces (not merges into) theirs at `path` or above it."""
    for key in path:
        if not (isinstance(ours, dict) and key in ours):
            return False
        ours, theirs = ours[key], theirs[key] if isinstance(theirs, dict) else None
        if not (isinstance(ours, dict) and isinstance(theirs, dict)):
            return True
    return False
