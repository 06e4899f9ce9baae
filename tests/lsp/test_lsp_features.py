"""The language server's features in-process, without the protocol: completion by context, the
quick fixes read from hints, token extents, names under the cursor, hover texts, folding."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphspec.core.errors import Pos, Problem
from graphspec.lsp import actions, complete, hover, navigate
from graphspec.lsp import text as tx
from graphspec.lsp.analysis import analyze
from graphspec.lsp.index import Index

ROOT = Path(__file__).resolve().parents[2]
RESNET = ROOT / "specs" / "zoo" / "resnet18.yaml"


def cursor(lines: list[str], needle: str, after: str) -> tuple[int, int]:
    for n, line in enumerate(lines):
        col = line.find(needle)
        if col >= 0:
            return n, col + len(after)
    raise AssertionError(needle)


@pytest.fixture(scope="module")
def resnet():
    return analyze(RESNET.read_text(), str(RESNET))


def labels(a, needle: str, after: str) -> list[str]:
    line, col = cursor(a.lines, needle, after)
    return [i.label for i in complete.complete(a.lines, line, col, a.data)]


def test_completion_offers_what_fits_the_place(resnet):
    # `in:` of a block layer: the names declared before it in that block, not after
    got = labels(resnet, "add: {op: add, in: [bn2, downsample]}", "add: {op: add, in: [bn2, ")
    assert got == ["x", "conv1", "bn1", "relu", "conv2", "bn2", "downsample"]
    # a layer's own fields, without the ones already written
    got = labels(resnet, "conv1: {op: Conv2d, out_channels: 64", "conv1: {op: Conv2d, ")
    assert {"out_channels", "kernel_size", "padding", "in"} <= set(got) and "op" not in got
    # a block call's arguments
    got = labels(
        resnet, "layer2: {block: BasicBlock", "layer2: {block: BasicBlock, repeat: 2, args: {"
    )
    assert got == ["planes", "stride"]
    # inside `group:` only module ops (nn.Sequential holds modules)
    got = labels(resnet, "- BatchNorm2d", "- ")
    assert "Conv2d" in got and "BatchNorm2d" in got and "relu" not in got and "add" not in got
    # the shorthand `bn1: ...` takes any op
    got = labels(resnet, "bn1: BatchNorm2d", "bn1: ")
    assert "relu" in got and "Conv2d" in got


@pytest.mark.parametrize(
    ("text", "expected", "absent"),
    [
        ("name: a\nloss: ", "CrossEntropyLoss", "Conv2d"),
        ("name: a\ndata: {source: ", "random", "MSELoss"),
        ("data:\n  source: ra", "random", "npy"),
        ("optimizer: {op: Ad", "AdamW", "SGD"),
    ],
)
def test_completion_of_sources_losses_optimizers(text, expected, absent):
    lines = text.splitlines()
    line = len(lines) - 1
    got = [i.label for i in complete.complete(lines, line, len(lines[line]), None)]
    assert expected in got and absent not in got


def test_tokens_end_where_yaml_says():
    lines = [
        "    fc1: {op: Linear, in_features: 16 * 5 * 5, out_features: 120}  # comment",
        "    shape: [N, 16, 5, 5]   # a flow list is one token",
        "    name: 'quoted, with comma'",
    ]
    span = tx.token_at(lines, Pos("f", 1, lines[0].index("16") + 1))
    assert lines[0][span.start : span.end] == "16 * 5 * 5"
    span = tx.token_at(lines, Pos("f", 2, lines[1].index("[") + 1))
    assert lines[1][span.start : span.end] == "[N, 16, 5, 5]"
    span = tx.token_at(lines, Pos("f", 3, lines[2].index("'") + 1))
    assert lines[2][span.start : span.end] == "'quoted, with comma'"
    span = tx.token_at(lines, Pos("f", 1, 5))
    assert lines[0][span.start : span.end] == "fc1"


def test_fixes_only_where_a_hint_says_what_to_write():
    lines = ["    fc1: {op: Linear, in_features: 300, out_features: 120}"]
    col = lines[0].index("300") + 1
    hint = "write in_features: 400, or leave it out to infer it"
    fix = actions.fix_for(Problem("E-SHAPE", "m", Pos("f", 1, col), hint=hint), lines)
    assert fix is not None and fix.new_text == "400"
    assert lines[0][fix.span.start : fix.span.end] == "300"
    advice = Problem("E-SHAPE", "m", Pos("f", 1, col), hint="give a larger input")
    assert actions.fix_for(advice, lines) is None
    # a hint naming another field than the one pointed at is not applied there
    elsewhere = Problem("E-SHAPE", "m", Pos("f", 1, 5), hint=hint)
    assert actions.fix_for(elsewhere, lines) is None


def test_names_resolve_to_their_definitions(resnet):
    index = Index(resnet)
    line, col = cursor(resnet.lines, "layer1: {block: BasicBlock", "layer1: {block: ")
    file, span = navigate.definition(index, line, col)
    assert resnet.lines[span.line][span.start : span.end] == "BasicBlock"
    assert resnet.lines[span.line].strip().startswith("BasicBlock:")
    # `stride` inside the block body is the block's argument
    line, col = cursor(resnet.lines, "stride: stride", "stride: ")
    _, span = navigate.definition(index, line, col)
    assert resnet.lines[span.line][span.start : span.end] == "stride"
    assert "args:" in resnet.lines[span.line]
    # every use of the argument `planes` in the block, and the declaration
    line, col = cursor(resnet.lines, "args: {planes: int", "args: {")
    found = navigate.references(index, line, col, declaration=True)
    assert len(found) == 1 + 4  # conv1, conv2, the `if:` and the conv of downsample


def test_hover_texts(resnet):
    index = Index(resnet)
    line, col = cursor(resnet.lines, "layer2: {block", "layer2: {block: ")
    text, _ = hover.hover(resnet, index, line, col)
    assert text.startswith("block **BasicBlock**(planes: int, stride: 1)")
    line, col = cursor(resnet.lines, "    fc: {op: Linear", "    ")
    text, _ = hover.hover(resnet, index, line, col)
    typed = resnet.compiled.graph.nodes["fc"]
    assert f"`{typed.out}`" in text and f"{typed.params:,}" in text
    # on a field: its type, default and what it means
    line, col = cursor(resnet.lines, "padding: 3, bias", "padding: 3, b")
    text, _ = hover.hover(resnet, index, line, col)
    assert text.startswith("`bias`: bool = True")


def test_constants_hover_with_their_value(tmp_path):
    text = "name: c\nconstants: {width: 4, wide: width * 2}\nmodel:\n  inputs: {x: [N, wide]}\n"
    text += "  layers:\n    fc: {op: Linear, out_features: wide}\n"
    a = analyze(text, str(tmp_path / "c.yaml"))
    assert a.problems == []
    line, col = cursor(a.lines, "out_features: wide", "out_features: ")
    text, _ = hover.hover(a, Index(a), line, col)
    assert text == "constant **wide** = `width * 2` = `8`"


def test_folding_follows_indentation(resnet):
    folds = dict(navigate.folding(resnet.lines))
    blocks = next(n for n, line in enumerate(resnet.lines) if line.startswith("blocks:"))
    model = next(n for n, line in enumerate(resnet.lines) if line.startswith("model:"))
    assert folds[blocks] == model - 1
    group = next(n for n, line in enumerate(resnet.lines) if line.strip() == "group:")
    assert folds[group] == group + 2


def test_from_goes_to_the_model_file(tmp_path):
    (tmp_path / "zoo.yaml").write_text((ROOT / "specs" / "lenet.yaml").read_text())
    text = "name: t\nmodel:\n  from: zoo.yaml\n"
    a = analyze(text, str(tmp_path / "main.yaml"))
    assert a.problems == []
    line, col = cursor(a.lines, "from: zoo.yaml", "from: z")
    file, span = navigate.definition(Index(a), line, col)
    assert file == str(tmp_path / "zoo.yaml") and span == tx.Span(0, 0, 0)
    # the model's layers come from there: no shape hint lands in this file
    assert hover.inlay_hints(a, 0, 10) == []


def test_the_server_stage_does_not_import_torch():
    """The language server checks specs as validate does: without torch (a fresh process)."""
    import subprocess
    import sys

    script = (
        "import sys; from graphspec.lsp import server, hover;"
        "from graphspec.lsp.analysis import analyze;"
        "a = analyze(open('specs/zoo/resnet18.yaml').read(), 'specs/zoo/resnet18.yaml');"
        "assert a.compiled is not None; hover.inlay_hints(a, 0, 99); hover.node_costs(a);"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_without_pygls_the_command_says_what_to_install(monkeypatch, capsys):
    import sys

    from graphspec import cli

    monkeypatch.setitem(sys.modules, "pygls", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "pygls.lsp.server", None)
    monkeypatch.delitem(sys.modules, "graphspec.lsp.server", raising=False)
    assert cli.main(["lsp"]) == 2
    err = capsys.readouterr().err
    assert "E-USAGE" in err and "pip install 'graphspec[lsp]'" in err
