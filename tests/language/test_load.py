"""graphspec.language.load, the safe, position-keeping YAML loader, and every way a file can fail
to be a spec's YAML (missing, not UTF-8, empty, not YAML, tags, aliases, too deep or too large).

Every test runs twice: with libyaml reading first (the default where PyYAML has it) and with the
pure-Python parser alone, so each expected message and position holds for both. Cases the two
parsers read differently, and random specs, are in test_load_libyaml.py.
"""

from __future__ import annotations

import gc
import math
import os
import subprocess
import sys
import threading

import pytest
import yaml

from graphspec.compiler import pipeline as compile
from graphspec.core.errors import Pos, Problem, SpecError
from graphspec.language import load, yaml_core
from graphspec.language.load import MAX_BYTES, MAX_DEPTH, Document, load_file, load_text

FILE = "spec.yaml"


@pytest.fixture(autouse=True, params=["libyaml", "pure"])
def parser(request, monkeypatch):
    """Which parser reads first; "pure" hides libyaml the way a PyYAML built without it would."""
    if request.param == "pure":
        monkeypatch.setattr(load, "_CParser", None)
    elif load._CParser is None:
        pytest.skip("PyYAML was built without libyaml")
    return request.param


def problem_of(text: str) -> Problem:
    """The single problem that loading `text` must raise."""
    with pytest.raises(SpecError) as info:
        load_text(text, FILE)
    assert len(info.value.problems) == 1
    return info.value.problems[0]


def file_problem(path: os.PathLike | str) -> Problem:
    with pytest.raises(SpecError) as info:
        load_file(path)
    assert len(info.value.problems) == 1
    return info.value.problems[0]


def where(p: Problem) -> tuple[str, int, int]:
    assert p.pos is not None, p
    return p.code, p.pos.line, p.pos.col


# --- E-IO: missing, a directory, not a regular file -----------------------------------------------


def test_missing_file(tmp_path):
    p = file_problem(tmp_path / "nope.yaml")
    assert p.pos == Pos(str(tmp_path / "nope.yaml"), 1, 1)
    assert p.code == "E-IO" and "does not exist" in p.message


def test_file_keeps_the_path_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert str(file_problem("nope.yaml").pos) == "nope.yaml:1:1"
    (tmp_path / "ok.yaml").write_text("a: 1\n")
    doc = load_file("ok.yaml")
    assert doc.file == "ok.yaml" and doc.pos(("a",)) == Pos("ok.yaml", 1, 4)


def test_directory(tmp_path):
    p = file_problem(tmp_path)
    assert where(p) == ("E-IO", 1, 1) and "is a directory" in p.message


def test_unreadable_file(tmp_path, monkeypatch):
    spec = tmp_path / "locked.yaml"
    spec.write_text("a: 1\n")
    spec.chmod(0)
    if os.access(spec, os.R_OK):  # running as root: make open() refuse the way the kernel would

        def deny(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(load, "open", deny, raising=False)
    p = file_problem(spec)
    assert where(p) == ("E-IO", 1, 1) and "permission denied" in p.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)  # opening this for reading blocks until a writer comes
    problems = []

    def attempt():
        with pytest.raises(SpecError) as info:
            load_file(fifo)
        problems.extend(info.value.problems)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # unblock the reader so the thread can end, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("load_file blocked opening a FIFO")
    assert [where(p) for p in problems] == [("E-IO", 1, 1)]
    assert "not a regular file" in problems[0].message


# --- E-LIMIT: too deep, too large -----------------------------------------------------------------


def test_oversized_file_is_refused_before_reading(tmp_path, monkeypatch):
    spec = tmp_path / "big.yaml"
    with open(spec, "wb") as f:
        f.truncate(50 * MAX_BYTES)  # sparse: 50 MiB of NULs, which would be E-ENCODING if read

    def no_open(*args, **kwargs):
        raise AssertionError("the file was opened before its size was checked")

    monkeypatch.setattr(load, "open", no_open, raising=False)
    p = file_problem(spec)
    assert where(p) == ("E-LIMIT", 1, 1) and "50.0 MiB" in p.message and "1 MiB" in p.message


def test_size_limit_boundary(tmp_path):
    body = "a: " + "x" * (MAX_BYTES - 4) + "\n"  # exactly MAX_BYTES
    (tmp_path / "edge.yaml").write_text(body)
    assert len(load_file(tmp_path / "edge.yaml").data["a"]) == MAX_BYTES - 4
    (tmp_path / "over.yaml").write_text(body + "#")
    assert where(file_problem(tmp_path / "over.yaml")) == ("E-LIMIT", 1, 1)


def test_oversized_text():
    p = problem_of("a: 1\n" + "#" * MAX_BYTES)
    assert where(p) == ("E-LIMIT", 1, 1) and "limit" in p.message


def _nested(levels: int) -> str:
    """`levels` mappings nested in block style: a0: / a1: / ... with a scalar at the bottom."""
    return "".join(f"{'  ' * i}a{i}:\n" for i in range(levels - 1)) + "  " * (levels - 1) + "z: 1\n"


def test_depth_at_limit_loads():
    data = load_text(_nested(MAX_DEPTH), FILE).data
    for i in range(MAX_DEPTH - 1):
        data = data[f"a{i}"]
    assert data == {"z": 1}


def test_depth_over_limit():
    p = problem_of(_nested(MAX_DEPTH + 1))
    # the 33rd mapping starts at its first key, on line 33
    assert where(p) == ("E-LIMIT", MAX_DEPTH + 1, 2 * MAX_DEPTH + 1)
    assert f"{MAX_DEPTH} levels" in p.message


def test_ten_thousand_brackets_fail_cleanly():
    p = problem_of("a: " + "[" * 10_000)  # no RecursionError, no YAML syntax error about ']'
    assert where(p) == ("E-LIMIT", 1, 4 + MAX_DEPTH - 1)


def _flow_list(items: int) -> str:
    return "a: [" + ",".join(["1"] * items) + "]\n"


@pytest.fixture
def small_cap(monkeypatch):
    """The node cap lowered, so the pure parser reaches it quickly too."""
    monkeypatch.setattr(load, "MAX_NODES", 1_000)
    return 1_000


def _layers(count: int, blocks: str = "") -> str:
    """A model of one input and `count` relu layers (the barest spec: two YAML nodes a layer)."""
    lines = ["name: big", "model:", "  class: Big", "  inputs:", "    x: [N, 8]", "  layers:"]
    lines += [f"    r{i}: relu" for i in range(count)]
    return "\n".join(lines) + "\n" + blocks


def test_node_count_at_limit_loads(small_cap):
    # root mapping + key + list = 3 nodes
    assert len(load_text(_flow_list(small_cap - 3), FILE).data["a"]) == small_cap - 3


def test_node_count_over_limit(small_cap):
    p = problem_of(_flow_list(small_cap - 2))
    last = small_cap - 3  # index of the item that is node number cap + 1
    assert where(p) == ("E-LIMIT", 1, 5 + 2 * last)
    assert p.message == "spec has more than 1,000 YAML nodes"


def test_graph_node_cap_counts_blocks(monkeypatch):
    block = "blocks:\n  b:\n    inputs: {h: [N, 8]}\n    layers: {u: relu, v: relu}\n"
    doc = load_text(_layers(3, block), FILE)  # 1 + 3 in the model, 1 + 2 in the block
    monkeypatch.setattr(compile, "MAX_GRAPH_NODES", 7)
    compile.compile_document(doc)
    monkeypatch.setattr(compile, "MAX_GRAPH_NODES", 6)
    with pytest.raises(SpecError) as info:
        compile.compile_document(doc)
    assert [where(p) for p in info.value.problems] == [("E-LIMIT", 13, 23)]  # the block's 'v'


# --- E-ENCODING -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "line", "col", "words"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", 1, 1, "0x89"),
        (b"a: 1\nb: caf\xe9\n", 2, 7, "offset 11"),
        (b"a: \xc3\xa9\xff\n", 1, 5, "0xff"),  # column counts the two-byte '\xe9' as one
        (b"a: 1\nb: \x00\n", 2, 4, "NUL"),
        (b"a: 1\n  \x07\n", 2, 3, "U+0007"),
    ],
)
def test_bad_encoding(tmp_path, raw, line, col, words):
    (tmp_path / "bad.yaml").write_bytes(raw)
    p = file_problem(tmp_path / "bad.yaml")
    assert where(p) == ("E-ENCODING", line, col)
    assert words in p.message and p.hint


def test_nul_in_text():
    assert where(problem_of("a: 1\nbb: x\x00")) == ("E-ENCODING", 2, 6)


def test_utf8_bom_and_non_ascii_load(tmp_path):
    (tmp_path / "bom.yaml").write_bytes("\ufeffname: café\n".encode())
    assert load_file(tmp_path / "bom.yaml").data == {"name": "café"}


# --- E-EMPTY --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["", "   \n\n", "# note\n", "# a\n\n  # b\n", "---\n", "--- # c\n"]
)
def test_empty(text):
    p = problem_of(text)
    assert where(p) == ("E-EMPTY", 1, 1) and p.message == "spec is empty"


def test_empty_file(tmp_path):
    (tmp_path / "empty.yaml").write_bytes(b"")
    assert where(file_problem(tmp_path / "empty.yaml")) == ("E-EMPTY", 1, 1)


# --- E-YAML: syntax, tabs, several documents ------------------------------------------------------


def test_syntax_error_at_pyyaml_mark():
    p = problem_of("a: [1, 2")
    assert where(p) == ("E-YAML", 1, 9)
    assert "expected ',' or ']'" in p.message and "line 1, column 4" in p.message
    assert p.hint is None


def test_syntax_error_on_later_line():
    p = problem_of("a: 1\nb: 'open\n")
    assert p.code == "E-YAML" and p.pos.line == 3 and "quoted scalar" in p.message


def test_tab_indentation():
    p = problem_of("a:\n\tb: 1")
    assert where(p) == ("E-YAML", 2, 1)
    assert p.hint == "tabs are not allowed in YAML indentation; use spaces"


def test_multiple_documents():
    p = problem_of("a: 1\n---\nb: 2\n")
    assert where(p) == ("E-YAML", 2, 1) and "exactly one YAML document" in p.message


def test_second_document_after_explicit_end():
    p = problem_of("a: 1\n...\n# more\nb: 2\n")
    assert where(p) == ("E-YAML", 4, 1) and "exactly one YAML document" in p.message


# --- E-SCHEMA -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "got"),
    [("- a\n- b\n", 1, "a list"), ("# c\njust text\n", 2, "a string"), ("~\n", 1, "null")],
)
def test_top_level_not_a_mapping(text, line, got):
    p = problem_of(text)
    assert where(p) == ("E-SCHEMA", line, 1)
    assert p.message == f"top level must be a mapping, got {got}"


# --- E-DUPKEY -------------------------------------------------------------------------------------


def test_duplicate_top_level_key():
    p = problem_of("lr: 0.1\nbatch: 8\nlr: 0.01\n")
    assert where(p) == ("E-DUPKEY", 3, 1)
    assert p.message == "duplicate key 'lr' (first defined at line 1)"


def test_duplicate_nested_key():
    p = problem_of("model:\n  fc:\n    units: 1\n    bias: true\n    units: 2\n")
    assert where(p) == ("E-DUPKEY", 5, 5) and "(first defined at line 3)" in p.message


def test_duplicate_key_in_flow_mapping():
    assert where(problem_of("a: {x: 1, y: 2, x: 3}\n")) == ("E-DUPKEY", 1, 17)


def test_duplicate_key_quoted_and_plain_are_the_same_key():
    assert where(problem_of("units: 1\n'units': 2\n")) == ("E-DUPKEY", 2, 1)


def test_same_key_in_different_mappings_is_fine():
    assert load_text("a: {x: 1}\nb: {x: 2}\n", FILE).data == {"a": {"x": 1}, "b": {"x": 2}}


# --- E-TAG ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('!!python/object/apply:os.system ["true"]', "!!python/object/apply:os.system"),
        ("!!python/name:os.system", "!!python/name:os.system"),
        ("!!binary aGVsbG8=", "!!binary"),
        ("!!set {a, b}", "!!set"),
        ("!!str 1", "!!str"),
        ("!!int '3'", "!!int"),
        ("!!map {a: 1}", "!!map"),
        ("!!seq [1]", "!!seq"),
        ("!custom x", "!custom"),
        ("! x", "!"),
        ("!<tag:example.com,2000:x> y", "tag:example.com,2000:x"),
    ],
)
def test_explicit_tags_are_refused(value, shown):
    p = problem_of(f"a: 1\nb: {value}\n")
    assert where(p) == ("E-TAG", 2, 4)
    assert f"'{shown}'" in p.message and p.hint


def test_tag_on_a_key():
    assert where(problem_of("a:\n  !!str k: 1\n")) == ("E-TAG", 2, 3)


def test_tag_is_refused_before_anything_is_built():
    # the duplicate key comes first but is only seen while building; the tag stops composing
    assert problem_of("a: 1\na: 2\nb: !!binary aGk=\n").code == "E-TAG"


def test_python_tag_does_not_run(tmp_path):
    sentinel = tmp_path / "SENTINEL"
    spec = tmp_path / "evil.yaml"
    spec.write_text(f'model: !!python/object/apply:os.system ["touch {sentinel}"]\n')
    assert where(file_problem(spec)) == ("E-TAG", 1, 8)
    assert not sentinel.exists()


def test_python_tag_payload_is_real(tmp_path):
    """Control for the test above: PyYAML's unsafe loader does run this payload."""
    sentinel = tmp_path / "SENTINEL"
    yaml.unsafe_load(f'model: !!python/object/apply:os.system ["touch {sentinel}"]\n')
    assert sentinel.exists()


# --- E-ALIAS --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "col", "words"),
    [
        ("base: &b {x: 1}\n", 1, 7, "anchor '&b'"),
        ("a: 1\nb: *nope\n", 2, 4, "alias '*nope'"),
        ("<<: {x: 1}\na: 2\n", 1, 1, "merge key"),
        ("a:\n  <<: {x: 1}\n", 2, 3, "merge key"),
        ("b: {<<: {x: 1}}\n", 1, 5, "merge key"),
    ],
)
def test_anchors_aliases_merge_keys(text, line, col, words):
    p = problem_of(text)
    assert where(p) == ("E-ALIAS", line, col) and words in p.message and p.hint


def test_billion_laughs_stops_at_the_first_anchor():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    pairs = zip("abcdefgh", "bcdefghi", strict=True)
    lines += [f"{c}: &{c} [{','.join(['*' + p] * 9)}]" for p, c in pairs]
    assert where(problem_of("\n".join(lines) + "\n")) == ("E-ALIAS", 1, 4)


def test_quoted_merge_key_is_an_ordinary_string():
    assert load_text("'<<': 1\n", FILE).data == {"<<": 1}


# --- E-NUMBER -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "literal",
    ["9" * 5000, "-" + "9" * 5000, "1" * (yaml_core.MAX_INT_DIGITS + 1), "0x" + "f" * 5000],
)
def test_huge_integer(literal):
    p = problem_of(f"a: 1\nn: {literal}\n")
    assert where(p) == ("E-NUMBER", 2, 4) and "integer literal too large" in p.message


def test_integer_at_digit_limit_loads():
    assert load_text(f"n: {'9' * yaml_core.MAX_INT_DIGITS}\n", FILE).data["n"] == 10**100 - 1


def test_huge_quoted_number_is_a_string():
    assert load_text(f"n: '{'9' * 5000}'\n", FILE).data["n"] == "9" * 5000


# --- E-KEY ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "col", "got"),
    [
        ("1: x\n", 1, 1, "an integer '1'"),
        ("~: 1\n", 1, 1, "null '~'"),
        ("null: 1\n", 1, 1, "null 'null'"),
        ("true: 1\n", 1, 1, "a boolean 'true'"),
        ("1.5: x\n", 1, 1, "a float '1.5'"),
        ("? [a]: 1\n", 1, 3, "a mapping"),
        ("? [a]\n: 1\n", 1, 3, "a list"),
        ("[a, b]: 1\n", 1, 1, "a list"),
        ("a:\n  {x: 1}: 2\n", 2, 3, "a mapping"),
        ("a:\n  - 7: x\n", 2, 5, "an integer '7'"),
        ("? \n: 1\n", 1, 2, "empty (null)"),  # the empty key sits just after the '?'
    ],
)
def test_non_string_keys(text, line, col, got):
    p = problem_of(text)
    assert where(p) == ("E-KEY", line, col)
    assert p.message == f"mapping keys must be strings, got {got}" and p.hint


def test_quoted_keys_are_strings():
    assert load_text("'1': x\n\"true\": y\n'~': z\n", FILE).data == {
        "1": "x",
        "true": "y",
        "~": "z",
    }


# --- YAML 1.2 core typing -------------------------------------------------------------------------

TYPING = [
    # floats, including the forms YAML 1.1 leaves as strings
    ("1e-3", 0.001),
    ("1.0e-3", 0.001),
    ("1e3", 1000.0),
    (".5", 0.5),
    ("-2.5E+3", -2500.0),
    ("1.", 1.0),
    ("01.5", 1.5),
    ("+0.25", 0.25),
    (".inf", math.inf),
    ("+.inf", math.inf),
    ("-.Inf", -math.inf),
    (".INF", math.inf),
    # booleans: only the six spellings
    ("true", True),
    ("True", True),
    ("TRUE", True),
    ("false", False),
    ("False", False),
    ("FALSE", False),
    # nulls
    ("null", None),
    ("Null", None),
    ("NULL", None),
    ("~", None),
    ("", None),
    # integers
    ("0", 0),
    ("42", 42),
    ("-7", -7),
    ("+5", 5),
    ("-0", 0),
    ("0x1F", 31),
    ("0o17", 15),
    # YAML 1.1 implicit types that stay strings
    ("yes", "yes"),
    ("no", "no"),
    ("on", "on"),
    ("off", "off"),
    ("y", "y"),
    ("n", "n"),
    ("Yes", "Yes"),
    ("OFF", "OFF"),
    ("1:30", "1:30"),
    ("2001-12-14", "2001-12-14"),
    ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
    ("1_000", "1_000"),
    ("1_000.5", "1_000.5"),
    ("0b101", "0b101"),
    ("0X1F", "0X1F"),
    ("0O17", "0O17"),
    ("-0x1F", "-0x1F"),
    ("010", "010"),
    ("007", "007"),
    ("-010", "-010"),
    ("00", "00"),
    ("inf", "inf"),
    ("nan", "nan"),
    ("tRUE", "tRUE"),
    ("nULL", "nULL"),
    ("1.2.3", "1.2.3"),
    (".", "."),
    ("+", "+"),
    ("1e", "1e"),
    ("٣", "٣"),  # an Arabic-Indic digit: not [0-9]
    # quoting or a block scalar always gives a string
    ("'1'", "1"),
    ('"1e-3"', "1e-3"),
    ("'true'", "true"),
    ("'null'", "null"),
    ("''", ""),
    ('"0x1F"', "0x1F"),
    ("|\n  42", "42\n"),
    (">-\n  .inf", ".inf"),
]


@pytest.mark.parametrize(("source", "expected"), TYPING, ids=[s or "<empty>" for s, _ in TYPING])
def test_yaml_1_2_core_typing(source, expected):
    value = load_text(f"v: {source}\n", FILE).data["v"]
    assert type(value) is type(expected)  # True == 1 and 1.0 == 1: compare types first
    assert value == expected


@pytest.mark.parametrize("source", [".nan", ".NaN", ".NAN"])
def test_nan(source):
    value = load_text(f"v: {source}\n", FILE).data["v"]
    assert isinstance(value, float) and math.isnan(value)


def test_typing_inside_flow_and_block_lists():
    data = load_text("a: [1e-3, no, 010, 0x10]\nb:\n  - yes\n  - 2.5\n", FILE).data
    assert data == {"a": [0.001, "no", "010", 16], "b": ["yes", 2.5]}


# --- positions ------------------------------------------------------------------------------------

NESTED = """\
# a comment line
model:
  layers:
    fc1:
      out_features: 64
      bias: false
  outputs: [fc1, {name: fc2}]
"""


def test_positions_of_nested_values():
    doc = load_text(NESTED, FILE)
    assert doc.data == {
        "model": {
            "layers": {"fc1": {"out_features": 64, "bias": False}},
            "outputs": ["fc1", {"name": "fc2"}],
        }
    }
    at = {path: (p.line, p.col) for path, p in doc.positions.items()}
    assert at[("model", "layers", "fc1", "out_features")] == (5, 21)
    assert at[("model", "layers", "fc1", "bias")] == (6, 13)
    assert at[("model", "layers", "fc1")] == (5, 7)  # a block mapping starts at its first key
    assert at[("model", "outputs")] == (7, 12)
    assert at[("model", "outputs", 0)] == (7, 13)
    assert at[("model", "outputs", 1)] == (7, 18)
    assert at[("model", "outputs", 1, "name")] == (7, 25)
    assert at[()] == (2, 1)
    assert all(p.file == FILE for p in doc.positions.values())


def test_key_positions():
    doc = load_text(NESTED, FILE)
    keys = {path: (p.line, p.col) for path, p in doc.key_positions.items()}
    assert keys[("model",)] == (2, 1)
    assert keys[("model", "layers")] == (3, 3)
    assert keys[("model", "layers", "fc1", "out_features")] == (5, 7)
    assert keys[("model", "outputs", 1, "name")] == (7, 19)
    assert ("model", "outputs", 0) not in keys  # list items have no key


def test_key_pos_falls_back_to_value_position():
    doc = load_text(NESTED, FILE)
    assert doc.key_pos(("model", "layers")) == Pos(FILE, 3, 3)
    assert doc.key_pos(("model", "outputs", 1)) == Pos(FILE, 7, 18)  # list item: its value
    assert doc.key_pos(["model", "layers"]) == Pos(FILE, 3, 3)  # any sequence of keys


def test_pos_falls_back_to_nearest_ancestor():
    doc = load_text(NESTED, FILE)
    assert doc.pos(("model", "layers", "fc1", "units")) == Pos(FILE, 5, 7)
    assert doc.pos(("model", "nope", "deeper", 3)) == Pos(FILE, 3, 3)
    assert doc.pos(("nope",)) == Pos(FILE, 2, 1)
    assert Document({}, "x.yaml").pos(("a", "b")) == Pos("x.yaml", 1, 1)


def test_misindented_value_loads_as_null_with_key_position():
    # a dedented 'layers:' leaves 'model:' null; the schema reports it at the key
    doc = load_text("model:\nlayers:\n  fc: 1\n", FILE)
    assert doc.data == {"model": None, "layers": {"fc": 1}}
    assert doc.key_pos(("model",)) == Pos(FILE, 1, 1)


def test_data_is_plain_python():
    def plain(value):
        if isinstance(value, dict):
            return type(value) is dict and all(
                type(k) is str and plain(v) for k, v in value.items()
            )
        if isinstance(value, list):
            return type(value) is list and all(plain(v) for v in value)
        return value is None or type(value) in (str, int, float, bool)

    assert plain(load_text(NESTED + "x: [1, 2.5, ~, yes, true]\n", FILE).data)


def test_collector_is_paused_only_while_loading():
    assert gc.isenabled()
    with pytest.raises(SpecError):
        load_text("a: [1, 2\n", FILE)
    assert gc.isenabled()
    gc.disable()  # a caller's choice stands
    try:
        load_text("a: 1\n", FILE)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_no_heavy_imports():
    code = (
        "import sys, graphspec.language.load; "
        "bad = {'torch', 'pydantic', 'networkx'} & set(sys.modules); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
