"""libyaml reads first and the pure-Python parser has the last word (language.load._compose).

libyaml parses about 8x faster, but on some text it accepts what the pure parser refuses or
places a value a column apart. These tests pin each known case to the pure parser's answer (with
a control showing libyaml alone would differ), check that ordinary specs never touch the pure
parser, and compare the two on a few hundred randomly mutated specs. test_load.py runs all its
cases with both parsers as well.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from graphspec.compiler import pipeline as compile
from graphspec.core.errors import SpecError
from graphspec.language import load
from graphspec.language.load import load_text

pytestmark = pytest.mark.skipif(load._CParser is None, reason="PyYAML built without libyaml")

FILE = "spec.yaml"
SPECS = sorted((Path(__file__).resolve().parents[2] / "specs").glob("*.yaml"))


def outcome(text: str) -> object:
    """Everything a caller can see: the error lines, or the data with every position."""
    try:
        doc = load_text(text, FILE)
    except SpecError as err:
        return [p.format() for p in err.problems]
    return repr(doc.data), doc.positions, doc.key_positions


def pure_outcome(text: str, monkeypatch: pytest.MonkeyPatch) -> object:
    with monkeypatch.context() as m:
        m.setattr(load, "_CParser", None)
        return outcome(text)


def libyaml_alone(text: str) -> object:
    """What the loader would give if it trusted libyaml on this text (the control)."""
    try:
        root = load._Composer(load._CParser(text), FILE).document()
        doc = load.Document(None, FILE)
        doc.data = load._build(root, (), doc.positions, doc.key_positions)
    except Exception as err:  # noqa: BLE001 - any failure differs from a successful load
        return type(err).__name__
    return repr(doc.data), doc.positions, doc.key_positions


# Found by comparing both parsers on 80,000 mutated specs; (text, what the pure parser says).
DIFFERENT = [
    ("a: [x?y]\n", "1:6: error[E-YAML]: expected ',' or ']', but got '?'"),
    ("b: {op: Linear, out?_features: 8}\n", "1:20: error[E-YAML]: expected ',' or '}'"),
    ("a: f\tlse\n", "1:5: error[E-YAML]: found character '\\t' that cannot start any token"),
    ("x\t: 1\n", "1:2: error[E-YAML]: found character '\\t'"),
    ("w:\t>-\n  x\n", "1:3: error[E-YAML]: found character '\\t'"),
    ("v: |#\n  1\n", "1:5: error[E-YAML]: expected chomping or indentation indicators"),
    ("a: {x: 1, y: }\n", None),  # loads; libyaml puts the empty value one column later
    ("a:\n  \ufeffnum: 2\n", None),  # loads; libyaml counts the BOM's column differently
]


@pytest.mark.parametrize(("text", "pure_says"), DIFFERENT)
def test_known_differences_get_the_pure_answer(text, pure_says, monkeypatch):
    expected = pure_outcome(text, monkeypatch)
    assert outcome(text) == expected
    assert libyaml_alone(text) != expected  # control: the fallback is what makes them agree
    if pure_says:
        assert expected[0].startswith(f"{FILE}:{pure_says}")


def test_empty_flow_value_at_the_pure_column():
    doc = load_text("a: {x: 1, y: }\n", FILE)
    assert (doc.positions[("a", "y")].line, doc.positions[("a", "y")].col) == (1, 13)


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_shipped_specs_never_reach_the_pure_parser(path, monkeypatch):
    text = path.read_text()
    expected = pure_outcome(text, monkeypatch)

    def no_pure(text):
        raise AssertionError("the pure parser read the text")

    monkeypatch.setattr(load, "_Events", no_pure)
    assert outcome(text) == expected


def test_syntax_errors_come_from_the_pure_parser(monkeypatch):
    read = []
    real = load._Events
    monkeypatch.setattr(load, "_Events", lambda text: read.append(text) or real(text))
    text = "a: [1, 2\n"
    assert outcome(text) == [
        f"{FILE}:2:1: error[E-YAML]: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence started at line 1, column 4)"
    ]
    assert read == [text]


SEEDS = [path.read_text() for path in SPECS if path.name in ("lenet.yaml", "regression.yaml")] + [
    "a: [1e-3, no, 010, 0x10]\nb:\n  - yes\n  - 2.5\nc: {x: 'q', y: \"r\\ts\"}\n",
    "v: |\n  42\nw: >-\n  .inf\nx: 'a\n\n  b'\ny: plain\n  folded\n",
]
# YAML's structural characters and the ones the parsers are known to disagree about.
PIECES = list(" \t\n:-?[]{},#&*!|>'\"%@`~.09az\r") + [
    "\x85",
    "\u2028",
    "\ufeff",
    "é",
    "\n  ",
    "- ",
    ": ",
    "\\",
    "---\n",
    "...\n",
    "%YAML 1.2\n---\n",
    "\\u00e9",
]


def _mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(text) + 1)
        op = rng.random()
        if op < 0.4:
            text = text[:i] + rng.choice(PIECES) + text[i:]
        elif op < 0.7:
            text = text[:i] + text[i + 1 :]
        else:
            text = text[:i] + rng.choice(PIECES) + text[i + 1 :]
    return text


def test_random_mutations_agree_with_the_pure_parser(monkeypatch):
    rng = random.Random(20261127)
    pure_reads = []
    real = load._Events
    monkeypatch.setattr(load, "_Events", lambda text: pure_reads.append(text) or real(text))
    fast = 0
    for _ in range(400):
        text = _mutate(rng, rng.choice(SEEDS))
        got = outcome(text)
        fast += not pure_reads
        assert got == pure_outcome(text, monkeypatch), text
        pure_reads.clear()
    assert fast > 50  # libyaml's answer stood often enough for the comparison to mean something


# Big inputs: with the pure parser alone these take seconds, so they run where libyaml reads first.


def _layers(count: int, blocks: str = "") -> str:
    """A model of one input and `count` relu layers (the barest spec: two YAML nodes a layer)."""
    lines = ["name: big", "model:", "  class: Big", "  inputs:", "    x: [N, 8]", "  layers:"]
    lines += [f"    r{i}: relu" for i in range(count)]
    return "\n".join(lines) + "\n" + blocks


def test_node_cap_over_limit_is_not_parsed_twice(monkeypatch):
    """libyaml's E-LIMIT stands: the pure parser would take ~10 s to reach a 250,000 cap."""

    def no_pure(text):
        raise AssertionError("the pure parser read the text")

    monkeypatch.setattr(load, "_Events", no_pure)
    monkeypatch.setattr(load, "MAX_NODES", 1_000)
    with pytest.raises(SpecError) as info:
        load_text("a: [" + ",".join(["1"] * 1_000) + "]\n", FILE)
    assert [p.code for p in info.value.problems] == ["E-LIMIT"]


def test_the_yaml_cap_admits_ten_thousand_layers():
    """The 10,000-layer bench shape (bench/scale.py) needs 60,015 YAML nodes."""
    group = (
        "    l{0}: {{op: Linear, out_features: 8}}\n"
        "    r{0}: relu\n"
        "    b{0}: {{op: Linear, out_features: 8, in: l{0}}}\n"
        "    j{0}: {{op: add, in: [r{0}, b{0}]}}\n"
    )
    text = _layers(0) + "".join(group.format(i) for i in range(2_500))
    assert len(load_text(text, FILE).data["model"]["layers"]) == 10_000
    assert load.MAX_NODES == 250_000


def test_graph_node_cap():
    """Too many graph nodes: refused at the first node past the cap, before pydantic runs."""
    doc = load_text(_layers(compile.MAX_GRAPH_NODES), FILE)  # 1 input + 20,000 layers
    with pytest.raises(SpecError) as info:
        compile.compile_document(doc)
    [p] = info.value.problems
    assert (p.code, p.pos.line, p.pos.col) == ("E-LIMIT", 7 + compile.MAX_GRAPH_NODES - 1, 5)
    assert "more than 20,000 graph nodes" in p.message and p.hint
