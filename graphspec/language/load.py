"""Load a YAML spec into plain Python data, remembering where every value came from.

Specs are written by hand and may be hostile, so loading is two phases:

1. `_Composer` reads YAML parser events into a small node tree and refuses, before any value
   is built, everything that could run code or blow up: explicit tags, anchors, aliases, merge
   keys, deep nesting and too many nodes.
2. `_build` walks that tree into dicts, lists and scalars, typing plain scalars by the YAML 1.2
   core schema (yaml_core.py), refusing non-string and duplicate keys, and recording the position
   of every value and key by path.

PyYAML's constructors and resolver are never used: they follow YAML 1.1 (`no` -> False,
`010` -> 8, `1e-3` -> str) and build whatever a tag asks for. The events come from libyaml when
PyYAML has it (about 8x faster) and from PyYAML's pure-Python parser otherwise; `_compose` keeps
the two indistinguishable (see there).
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import yaml
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.scanner import Scanner

try:
    from yaml._yaml import CParser as _CParser  # libyaml's parser, when PyYAML was built with it
except ImportError:  # pragma: no cover - depends on how PyYAML was installed
    _CParser = None

from graphspec.core.errors import Pos, SpecError, fail
from graphspec.language import includes, yaml_core

MAX_BYTES = 1 << 20  # a hand-written spec is a few kB; with MAX_NODES this bounds parse time
MAX_DEPTH = 32  # nested mappings/sequences; the composer recurses once per level
# Every key and value counts. At the cap loading takes ~2 s with libyaml, ~10 s with the pure
# parser alone. Sized to sit above any spec within compile.MAX_GRAPH_NODES (20,000 layers of
# bench/scale.py's shape are 120,000 YAML nodes), so that cap is the one users meet.
MAX_NODES = 250_000


@dataclass
class Document:
    """A loaded spec: plain data plus the source position of each value and mapping key."""

    data: Any
    file: str
    positions: dict[tuple, Pos] = field(default_factory=dict)
    key_positions: dict[tuple, Pos] = field(default_factory=dict)
    text: str = field(default="", repr=False)
    texts: dict[str, str] = field(default_factory=dict, repr=False)
    """Every file's text by name, where values came from other files (`model: {from: ...}`)."""
    includes: list[str] = field(default_factory=list)
    """The files the model was taken from, nearest first (language/includes.py)."""

    def text_at(self, path: tuple) -> str:
        """Source from the value at `path` to the end of its line (shows whether it is quoted)."""
        pos = self.pos(path)
        text = self.texts.get(pos.file, self.text if pos.file == self.file else "")
        lines = text.splitlines()
        return lines[pos.line - 1][pos.col - 1 :] if 0 < pos.line <= len(lines) else ""

    def pos(self, path: tuple) -> Pos:
        """Position of the value at `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(tuple(path[:end]))
            if found is not None:
                return found
        return Pos(self.file, 1, 1)

    def key_pos(self, path: tuple) -> Pos:
        """Position of the key naming `path` (where 'model must be a mapping' belongs)."""
        return self.key_positions.get(tuple(path)) or self.pos(path)


# --- reading the file --------------------------------------------------------------------------


def load_file(path: str | os.PathLike) -> Document:
    """Read and load the spec at `path`, its `model: {from: ...}` resolved; every failure is a
    SpecError."""
    file = os.fspath(path)
    return load_text(_decode(_read_capped(file), file), file)


def load_text(text: str, file: str) -> Document:
    """Load spec source `text`, its `model: {from: ...}` resolved relative to `file`'s folder
    (the current folder for a label such as '<spec>'); `file` labels positions."""
    return includes.resolve(_load_one(text, file), _read_one, MAX_BYTES)


def _read_one(path: str, label: str) -> Document:
    """One file, read and loaded as it is: a model file named by `from:`."""
    return _load_one(_decode(_read_capped(path), label), label)


def _load_one(text: str, file: str) -> Document:
    start = Pos(file, 1, 1)
    # a string with more characters than the limit has at least as many bytes; skip encoding it
    size = len(text) if len(text) > MAX_BYTES else len(text.encode("utf-8", "surrogatepass"))
    _check_size(size, start)
    _check_printable(text, file)
    with gc_paused():
        return _load(text, file)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (also usable as a decorator; nests).

    Loading and compiling make several objects per YAML node and hardly any reference cycles;
    with the collector on, its repeated passes over the growing heap cost a third of the time at
    10,000 layers and made it grow faster than linearly. What few cycles there are (the parser's
    own) are collected once it is back on.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _load(text: str, file: str) -> Document:
    start = Pos(file, 1, 1)
    root = _compose(text, file)
    if root is None or (isinstance(root, _Scalar) and root.plain and root.value == ""):
        raise fail("E-EMPTY", "spec is empty", start, hint="write the spec as 'key: value' lines")
    if not isinstance(root, _Map):
        got = "a list" if isinstance(root, _Seq) else yaml_core.type_name(_resolve(root))
        message = f"top level must be a mapping, got {got}"
        raise fail("E-SCHEMA", message, root.pos, hint="write the spec as 'key: value' lines")
    doc = Document(None, file, text=text, texts={file: text})
    doc.data = _build(root, (), doc.positions, doc.key_positions)
    return doc


def _read_capped(file: str) -> bytes:
    start = Pos(file, 1, 1)
    try:
        # stat first: opening a FIFO would block, and the size check must precede reading
        info = os.stat(file)
        if stat.S_ISDIR(info.st_mode):
            raise fail("E-IO", f"'{file}' is a directory, not a spec file", start)
        if not stat.S_ISREG(info.st_mode):
            raise fail("E-IO", f"'{file}' is not a regular file", start)
        _check_size(info.st_size, start)
        with open(file, "rb") as f:
            raw = f.read(MAX_BYTES + 1)  # the file may have grown since stat
    except FileNotFoundError:
        raise fail("E-IO", f"file '{file}' does not exist", start) from None
    except PermissionError:
        raise fail("E-IO", f"cannot read '{file}': permission denied", start) from None
    except OSError as e:
        raise fail("E-IO", f"cannot read '{file}': {e.strerror or e}", start) from None
    _check_size(len(raw), start)
    return raw


def _check_size(size: int, pos: Pos) -> None:
    if size > MAX_BYTES:
        raise fail(
            "E-LIMIT",
            f"spec is {size / (1 << 20):.1f} MiB; the limit is {MAX_BYTES // (1 << 20)} MiB",
            pos,
            hint="a spec describes a model; keep data and weights in separate files",
        )


def _decode(raw: bytes, file: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        # the prefix before the first bad byte is valid UTF-8, so it can be measured in characters
        before = raw[: e.start].decode("utf-8")
        raise fail(
            "E-ENCODING",
            f"not UTF-8 text: byte 0x{raw[e.start]:02x} at offset {e.start} is invalid",
            _text_pos(before, len(before), file),
            hint="save the spec as UTF-8; is this a binary file?",
        ) from None


# Characters PyYAML's reader rejects (a copy of Reader.NON_PRINTABLE), NUL among them.
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def _check_printable(text: str, file: str) -> None:
    bad = _NON_PRINTABLE.search(text)
    if bad:
        char = bad.group()
        what = "a NUL byte" if char == "\0" else f"control character U+{ord(char):04X}"
        raise fail(
            "E-ENCODING",
            f"spec contains {what}, which YAML text cannot hold",
            _text_pos(text, bad.start(), file),
            hint="is this a binary file? a spec must be plain UTF-8 text",
        )


def _text_pos(text: str, index: int, file: str) -> Pos:
    line_start = text.rfind("\n", 0, index) + 1
    return Pos(file, text.count("\n", 0, index) + 1, index - line_start + 1)


# --- phase 1: events to nodes ------------------------------------------------------------------


class _Scalar(NamedTuple):
    value: str
    plain: bool  # unquoted and untagged: the only kind typed by the resolver
    pos: Pos


class _Seq(NamedTuple):
    items: list
    pos: Pos


class _Map(NamedTuple):
    pairs: list  # of (key node, value node), in source order
    pos: Pos


class _Events(Reader, Scanner, Parser):
    """PyYAML's pure-Python parser alone: no resolver or constructor is attached."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)


class _Unsure(Exception):
    """libyaml read something the two parsers are known to place or accept differently."""


_BLOCK_STYLES = ("|", ">")


class _Composer:
    """Events to nodes. `events` is a pure `_Events` or a libyaml `CParser`; with `unsure` set,
    an empty plain scalar or a block scalar raises `_Unsure` (see `_compose`)."""

    def __init__(self, events: Any, file: str, unsure: bool = False) -> None:
        self.events = events
        self.file = file
        self.count = 0
        self.unsure = unsure

    def _pos(self, event: yaml.Event) -> Pos:
        return Pos(self.file, event.start_mark.line + 1, event.start_mark.column + 1)

    def document(self) -> _Scalar | _Seq | _Map | None:
        """The single document's root, or None for a stream with no document at all."""
        self.events.get_event()  # StreamStart
        if self.events.check_event(yaml.StreamEndEvent):
            return None
        self.events.get_event()  # DocumentStart
        root = self.node(depth=1)
        self.events.get_event()  # DocumentEnd
        if not self.events.check_event(yaml.StreamEndEvent):
            raise fail(
                "E-YAML",
                "a spec must be exactly one YAML document",
                self._pos(self.events.peek_event()),
                hint="remove the '---' separator and merge the documents, or split the files",
            )
        return root

    def node(self, depth: int) -> _Scalar | _Seq | _Map:
        event = self.events.get_event()
        pos = self._refuse(event, depth)
        kind = type(event)
        if kind is yaml.ScalarEvent:
            plain = event.implicit[0]
            if self.unsure and ((plain and not event.value) or event.style in _BLOCK_STYLES):
                raise _Unsure
            return _Scalar(event.value, plain, pos)
        if kind is yaml.MappingStartEvent:
            return _Map(self._pairs(depth), pos)
        items = []
        peek, end, node = self.events.peek_event, yaml.SequenceEndEvent, self.node
        while type(peek()) is not end:
            items.append(node(depth + 1))
        self.events.get_event()
        return _Seq(items, pos)

    def _pairs(self, depth: int) -> list:
        pairs = []
        peek, end, node = self.events.peek_event, yaml.MappingEndEvent, self.node
        while type(peek()) is not end:
            key = node(depth + 1)
            if type(key) is _Scalar and key.plain and key.value == "<<":
                raise fail(
                    "E-ALIAS", "merge keys ('<<') are not allowed", key.pos, hint=_NO_ANCHORS
                )
            pairs.append((key, node(depth + 1)))
        self.events.get_event()
        return pairs

    def _refuse(self, event: yaml.Event, depth: int) -> Pos:
        """Stop at anything that would make later phases run code or do unbounded work."""
        mark = event.start_mark
        pos = Pos(self.file, mark.line + 1, mark.column + 1)
        if event.anchor is not None:  # set on both anchored nodes and aliases
            sigil = "alias '*" if isinstance(event, yaml.AliasEvent) else "anchor '&"
            raise fail("E-ALIAS", f"{sigil}{event.anchor}' is not allowed", pos, hint=_NO_ANCHORS)
        if event.tag is not None:  # None unless the source spells a tag, even for '!'
            message = f"explicit tag '{_short_tag(event.tag)}' is not allowed"
            raise fail("E-TAG", message, pos, hint=_NO_TAGS)
        self.count += 1
        if self.count > MAX_NODES:
            raise fail("E-LIMIT", f"spec has more than {MAX_NODES:,} YAML nodes", pos)
        if depth > MAX_DEPTH and isinstance(event, yaml.CollectionStartEvent):
            raise fail("E-LIMIT", f"spec is nested more than {MAX_DEPTH} levels deep", pos)
        return pos


_NO_ANCHORS = "graphspec does not expand anchors or aliases; write the values out in full"
_NO_TAGS = "a spec is plain data; remove the tag (quote the value to make it a string)"


def _short_tag(tag: str) -> str:
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix) :] if tag.startswith(prefix) else tag


# Text the two parsers are known to read differently, found by comparing their events on 80,000
# randomly mutated specs: tabs and BOMs (libyaml accepts some the pure parser refuses, or counts
# columns around them differently) and '?' (libyaml allows it inside flow collections). With
# these and _compose's other fallbacks, 90,000 more gave identical documents and errors.
_PURE_ONLY = re.compile("[\t\ufeff?]")


def _compose(text: str, file: str) -> _Scalar | _Seq | _Map | None:
    """The root node. Whatever parser produced it, the answer is the pure parser's.

    libyaml reads the text first unless it holds `_PURE_ONLY` characters. If it raises anything,
    or meets an empty value (placed a column apart in flow collections) or a block scalar
    (header differences), the pure parser reads the text again: every message and position
    stays the pure parser's. The one exception is E-LIMIT: refusing a huge text twice would
    cost the pure parser's full time, and where libyaml's events agree so do the limits.
    """
    if _CParser is not None and not _PURE_ONLY.search(text):
        try:
            return _parse(_CParser(text), text, file, unsure=True)
        except SpecError as err:
            if err.problems[0].code == "E-LIMIT":
                raise
        except _Unsure:
            pass
    return _parse(_Events(text), text, file)


def _parse(events: Any, text: str, file: str, unsure: bool = False) -> Any:
    try:
        return _Composer(events, file, unsure).document()
    except yaml.MarkedYAMLError as e:
        if unsure:
            raise _Unsure from None
        raise _yaml_error(e, text, file) from None
    except yaml.YAMLError as e:  # a ReaderError, which _check_printable should have prevented
        if unsure:
            raise _Unsure from None
        raise fail("E-ENCODING", str(e), Pos(file, 1, 1)) from None


def _yaml_error(e: yaml.MarkedYAMLError, text: str, file: str) -> SpecError:
    mark = e.problem_mark or e.context_mark
    line, col = (mark.line, mark.column) if mark else (0, 0)
    message = e.problem or e.context or "invalid YAML"
    context = e.context if e.problem and e.context_mark else None
    if message.startswith("expected '<document start>'"):  # content after a '...' end marker
        message, context = "a spec must be exactly one YAML document", None
    if context:
        cm = e.context_mark
        message += f" ({context} started at line {cm.line + 1}, column {cm.column + 1})"
    hint = _tab_hint(text, line, col)
    if hint is None:
        line, col, hint = _indent_hint(text, line, col, message)
    return fail("E-YAML", message, Pos(file, line + 1, col + 1), hint=hint)


_INDENT_MESSAGES = ("mapping values are not allowed", "expected <block end>",
                    "did not find expected key", "could not find expected ':'",
                    "expected ',' or '}'", "expected ',' or ']'")  # fmt: skip


def _indent_hint(text: str, line: int, col: int, message: str) -> tuple[int, int, str | None]:
    """PyYAML reports an indentation mistake where parsing failed, often the line after it;
    name the line of the mistake and say what is wrong with its indentation."""
    if not message.startswith(_INDENT_MESSAGES):
        return line, col, None
    lines = text.splitlines()
    here = min(line, len(lines) - 1)
    if here < 0:
        return line, col, None
    if not lines[here].strip() or lines[here].lstrip().startswith("#"):
        here = _previous(lines, here + 1) or here
    prev = _previous(lines, here)
    if prev is None:
        return line, col, None
    indent, before = _indent(lines[here]), _indent(lines[prev])
    word = lines[prev].strip()
    if ":" not in word and not word.startswith(("-", "{", "[", "#")):
        return prev, before, f"line {prev + 1} ('{word[:40]}') has no ':' after its key"
    key, _, value = word.partition(":")
    if indent > before and value.strip() and not value.strip().startswith(("{", "[", "|", ">")):
        return (
            here,
            indent,
            (
                f"indentation? line {here + 1} is indented deeper than line {prev + 1}, whose "
                f"key '{key.strip('- ')}' already has a value; line it up with the keys above"
            ),
        )
    columns = {_indent(x) for x in lines[:here] if x.strip() and not x.lstrip().startswith("#")}
    if indent not in columns:
        return (
            here,
            indent,
            (
                f"indentation? line {here + 1} starts at column {indent + 1}, where no key above "
                f"it does; the keys of one section line up (spaces, 2 per level)"
            ),
        )
    return line, col, None


def _previous(lines: list[str], i: int) -> int | None:
    """The nearest line before i with content (not blank, not a comment)."""
    for j in range(i - 1, -1, -1):
        if lines[j].strip() and not lines[j].lstrip().startswith("#"):
            return j
    return None


def _indent(source: str) -> int:
    return len(source) - len(source.lstrip(" "))


def _tab_hint(text: str, line: int, col: int) -> str | None:
    """PyYAML's message for a tab is cryptic ("cannot start any token"); name the tab instead."""
    lines = text.splitlines()
    source = lines[line] if line < len(lines) else ""
    if "\t" in source[: len(source) - len(source.lstrip(" \t"))]:
        return "tabs are not allowed in YAML indentation; use spaces"
    if source[col : col + 1] == "\t":
        return "YAML does not allow a tab here; use spaces"
    return None


# --- phase 2: nodes to data ------------------------------------------------------------------


def _build(node: _Scalar | _Seq | _Map, path: tuple, positions: dict, key_positions: dict) -> Any:
    positions[path] = node.pos
    kind = type(node)
    if kind is _Scalar:
        return _resolve(node)
    if kind is _Seq:
        return [_build(n, (*path, i), positions, key_positions) for i, n in enumerate(node.items)]
    data: dict[str, Any] = {}
    numbered = bool(path) and path[-1] in ("layers", "inputs", "params")
    for key_node, value_node in node.pairs:
        key = _key(key_node, numbered)
        child = (*path, key)
        if key in data:
            first = key_positions[child].line
            raise fail(
                "E-DUPKEY",
                f"duplicate key '{key}' (first defined at line {first})",
                key_node.pos,
                hint="YAML would silently keep only the last value; remove one of them",
            )
        key_positions[child] = key_node.pos
        data[key] = _build(value_node, child, positions, key_positions)
    return data


def _resolve(node: _Scalar) -> Any:
    return yaml_core.resolve(node.value, node.pos) if node.plain else node.value


def _key(node: _Scalar | _Seq | _Map, numbered: bool = False) -> str:
    """A mapping key; `numbered`: a node name, which may be a plain number (`0:` is the node
    `0`, as nn.Sequential and nn.ModuleList name their children)."""
    if isinstance(node, _Scalar):
        value = _resolve(node)
        if isinstance(value, str):
            return value
        if numbered and node.plain and node.value.isdigit() and isinstance(value, int):
            return node.value
        what = f"{yaml_core.type_name(value)} {node.value!r}" if node.value else "empty (null)"
        hint = f"quote it: '{node.value}'" if node.value else "give the entry a name"
    else:
        what, hint = (
            f"a {'mapping' if isinstance(node, _Map) else 'list'}",
            "use a plain name",
        )
    raise fail("E-KEY", f"mapping keys must be strings, got {what}", node.pos, hint=hint)
