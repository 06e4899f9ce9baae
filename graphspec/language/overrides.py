"""`--set key=value`: change any field of a spec from the command line.

The key is a dotted path (`optimizer.lr`, `data.batch_size`, `model.layers.fc1.out_features`,
`data.transforms.1.Normalize.mean`); the value is YAML read by graphspec's own safe loader, so
`1e-3` is a float, `true` a bool and `{op: Adam, lr: 0.01}` a mapping. The changed data is then
validated exactly like the file, and an error in an overridden value points at the `--set`
that gave it: `--set optimizer.lr:1:1: error[E-RANGE]: 'lr' must be > 0, got -1.0`.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphspec.core.codetext import one_line
from graphspec.core.errors import Pos, fail
from graphspec.language import load
from graphspec.language.load import Document


@dataclass(frozen=True)
class Override:
    text: str  # as given: "optimizer.lr=1e-3"
    path: tuple[str | int, ...]
    value: Any
    doc: Document  # the value's own little document, for positions

    @property
    def label(self) -> str:
        return f"--set {'.'.join(str(p) for p in self.path)}"


def split_positionals(items: list[str]) -> tuple[str | None, list[str]]:
    """`graphspec run SPEC key=value ...`: the spec file, then Hydra-style bare overrides.

    The first item is the spec unless it holds `=` and is neither an existing file nor a
    .yaml/.yml path; every other item must be key=value."""
    spec, rest = None, list(items)
    if rest and not _bare_override(rest[0]):
        spec = rest.pop(0)
    for item in rest:
        if "=" not in item:
            raise fail(
                "E-USAGE",
                f"'{item}' is not key=value: only one SPEC is taken, and it comes first",
                Pos("<command line>", 1, 1),
                hint="write overrides as key=value, e.g. optimizer.lr=0.01",
            )
    return spec, rest


def _bare_override(item: str) -> bool:
    if "=" not in item or item.endswith((".yaml", ".yml")):
        return False
    return not Path(item).is_file()


def parse(items: list[str]) -> list[Override]:
    return [_parse_one(item) for item in items]


def _parse_one(item: str) -> Override:
    key, eq, text = item.partition("=")
    where = Pos(f"--set {one_line(item)}", 1, 1)
    if "".join(item.splitlines()) != item:  # one override is one line: what it sets is clear
        raise fail(
            "E-SET",
            f"'--set {one_line(item)}' holds a line break",
            where,
            hint='give one key=value per --set; inside a YAML "double-quoted" value write \\n',
        )
    if not eq or not key.strip():
        raise fail(
            "E-SET",
            f"'--set {item}' is not key=value",
            where,
            hint="for example --set optimizer.lr=0.01",
        )
    parts = key.strip().split(".")
    if any(not p for p in parts):
        raise fail(
            "E-SET",
            f"'{key}' is not a dotted field path",
            where,
            hint="for example train.epochs or model.layers.fc1.out_features",
        )
    path = tuple(int(p) if p.isdigit() else p for p in parts)
    label = f"--set {key.strip()}"
    if not text.strip():
        raise fail(
            "E-SET",
            f"'--set {item}' gives no value",
            where,
            hint="write null to remove a field's value",
        )
    mini = load.load_text(f"value: {text}\n", label)  # same safe YAML 1.2 loader as files
    return Override(item, path, mini.data["value"], mini)


def apply(doc: Document, overrides: list[Override]) -> Document:
    """A new document: the data with every override applied, positions pointing at them."""
    data = copy.deepcopy(doc.data)
    positions, key_positions = dict(doc.positions), dict(doc.key_positions)
    for ov in overrides:
        data = _assign(data, ov)
        for table in (positions, key_positions):
            for path in [p for p in table if p[: len(ov.path)] == ov.path]:
                del table[path]
        shift = len("value: ")
        for sub, pos in ov.doc.positions.items():
            if sub[:1] == ("value",):
                positions[ov.path + sub[1:]] = Pos(pos.file, 1, pos.col - shift)
        for sub, pos in ov.doc.key_positions.items():
            if sub[:1] == ("value",):
                key_positions[ov.path + sub[1:]] = Pos(pos.file, 1, max(1, pos.col - shift))
        for depth in range(len(ov.path)):  # keys the override created along the way
            key_positions.setdefault(ov.path[: depth + 1], Pos(ov.label, 1, 1))
    # the texts stay: positions not overridden still point into the files (quoted values)
    return dataclasses.replace(doc, data=data, positions=positions, key_positions=key_positions)


def _assign(data: Any, ov: Override) -> Any:
    if not isinstance(data, dict):
        raise fail("E-SET", "the spec's top level is not a mapping", Pos(ov.label, 1, 1))
    node: Any = data
    for depth, seg in enumerate(ov.path[:-1]):
        nxt = ov.path[depth + 1]
        node = _child(node, seg, ov, want_list=isinstance(nxt, int))
    last = ov.path[-1]
    if isinstance(node, list):
        if not isinstance(last, int) or not 0 <= last < len(node):
            raise fail(
                "E-SET", f"{ov.label}: no item {last} in a list of {len(node)}", Pos(ov.label, 1, 1)
            )
    node[last] = copy.deepcopy(ov.value)
    return data


def _child(node: Any, seg: str | int, ov: Override, want_list: bool) -> Any:
    """Step into node[seg], creating a mapping where there is none yet."""
    if isinstance(node, list):
        if isinstance(seg, int) and 0 <= seg < len(node):
            child = node[seg]
        else:
            raise fail(
                "E-SET", f"{ov.label}: no item {seg} in a list of {len(node)}", Pos(ov.label, 1, 1)
            )
    else:
        key = str(seg)
        if key not in node or node[key] is None:
            node[key] = {}
        child = node[key]
    if isinstance(child, str) and not want_list:
        # `loss: MSELoss` is shorthand for {op: MSELoss}; setting loss.reduction expands it
        child = {"op": child}
        _put(node, seg, child)
    if not isinstance(child, (dict, list)):
        raise fail(
            "E-SET",
            f"{ov.label}: '{seg}' holds {child!r}, which has no fields",
            Pos(ov.label, 1, 1),
        )
    return child


def _put(node: Any, seg: str | int, value: Any) -> None:
    if isinstance(node, list):
        node[seg] = value  # type: ignore[index]
    else:
        node[str(seg)] = value
