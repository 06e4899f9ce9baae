"""`graphspec lsp` end to end: pytest-lsp starts `python -m graphspec lsp` and talks to it over
stdio as an editor does; every answer is compared with what the compiler itself says."""

from __future__ import annotations

import pytest
import pytest_lsp
from helpers.lsp_client import (
    CONFIG,
    MARKER,
    ROOT,
    change_doc,
    diagnostics_for,
    open_doc,
    start,
)
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from graphspec.compiler.pipeline import compile_file
from graphspec.core.errors import SpecError

pytestmark = pytest.mark.asyncio(loop_scope="module")

LENET = (ROOT / "specs" / "lenet.yaml").read_text()
RESNET = ROOT / "specs" / "zoo" / "resnet18.yaml"
BAD_FC1 = LENET.replace("in_features: 16 * 5 * 5", "in_features: 300")


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient):
    await start(lsp_client)
    yield
    await lsp_client.shutdown_session()


def validate_problems(path) -> list:
    try:
        compile_file(path)
    except SpecError as err:
        return err.problems
    return []


def where(text: str, needle: str, occurrence: int = 0) -> lsp.Position:
    """The position of `needle` in `text`, in UTF-16 units (ASCII text here)."""
    lines = text.splitlines()
    seen = 0
    for n, line in enumerate(lines):
        col = line.find(needle)
        if col >= 0:
            if seen == occurrence:
                return lsp.Position(n, col)
            seen += 1
    raise AssertionError(needle)


async def test_shape_error_is_where_validate_puts_it_and_a_fix_clears_it(client, tmp_path):
    spec = tmp_path / "bad_fc1.yaml"
    spec.write_text(BAD_FC1)
    expected = validate_problems(spec)
    assert [p.code for p in expected] == ["E-SHAPE"]
    uri = open_doc(client, spec, BAD_FC1)
    diags = await diagnostics_for(client, uri, 1)
    assert len(diags) == 1
    d, p = diags[0], expected[0]
    assert (d.range.start.line + 1, d.range.start.character + 1) == (p.pos.line, p.pos.col)
    assert d.code == p.code and d.message.startswith(p.message)
    assert f"hint: {p.hint}" in d.message
    line = BAD_FC1.splitlines()[d.range.start.line]
    assert line[d.range.start.character : d.range.end.character] == "300"

    change_doc(client, uri, LENET, 2)
    assert await diagnostics_for(client, uri, 2) == []


async def test_code_action_writes_the_inferred_in_features(client, tmp_path):
    spec = tmp_path / "fix_me.yaml"
    uri = open_doc(client, spec, BAD_FC1)
    (diag,) = await diagnostics_for(client, uri, 1)
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=diag.range,
            context=lsp.CodeActionContext(diagnostics=[diag]),
        )
    )
    (action,) = actions
    assert action.title.startswith("write in_features: 400")
    (edit,) = action.edit.changes[uri]
    lines = BAD_FC1.splitlines()
    n = edit.range.start.line
    lines[n] = (
        lines[n][: edit.range.start.character]
        + edit.new_text
        + lines[n][edit.range.end.character :]
    )
    fixed = "\n".join(lines) + "\n"
    assert "in_features: 400, out_features: 120" in fixed
    change_doc(client, uri, fixed, 2)
    assert await diagnostics_for(client, uri, 2) == []


async def test_did_you_mean_action_renames_the_op(client, tmp_path):
    text = LENET.replace("{op: Conv2d, out_channels: 16", "{op: Conv2D, out_channels: 16")
    uri = open_doc(client, tmp_path / "typo.yaml", text)
    (diag,) = await diagnostics_for(client, uri, 1)
    assert diag.code == "E-OP"
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=diag.range,
            context=lsp.CodeActionContext(diagnostics=[diag]),
        )
    )
    (action,) = actions
    (edit,) = action.edit.changes[uri]
    assert edit.new_text == "Conv2d" and edit.range == diag.range


async def test_hover_on_a_conv_layer_shows_its_shape_and_parameters(client):
    path = ROOT / "specs" / "lenet.yaml"
    uri = open_doc(client, path, LENET)
    await diagnostics_for(client, uri, 1)
    result = await client.text_document_hover_async(
        lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=where(LENET, "conv1:")
        )
    )
    typed = compile_file(path).graph.nodes["conv1"]
    text = result.contents.value
    assert str(typed.out) == "(N, 6, 28, 28)"
    assert "(N, 6, 28, 28)" in text and f"parameters: {typed.params:,}" in text
    assert "nn.Conv2d" in text and "MACs" in text
    # on a name in `in:`-free shorthand: the op itself
    result = await client.text_document_hover_async(
        lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=where(LENET, "Linear")
        )
    )
    assert "nn.Linear" in result.contents.value


async def test_inlay_hints_give_every_layer_its_shape(client):
    path = ROOT / "specs" / "lenet.yaml"
    uri = open_doc(client, path, LENET)
    await diagnostics_for(client, uri, 1)
    hints = await client.text_document_inlay_hint_async(
        lsp.InlayHintParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=lsp.Range(lsp.Position(0, 0), lsp.Position(len(LENET.splitlines()), 0)),
        )
    )
    graph = compile_file(path).graph
    layers = [t for t in graph.nodes.values() if not t.node.is_input]
    assert len(hints) == len(layers) == 12
    lines = LENET.splitlines()
    for hint, t in zip(hints, layers, strict=True):
        assert hint.label == f"→ {t.out}"
        assert lines[hint.position.line].lstrip().startswith(f"{t.name}:")


async def test_go_to_definition_on_a_block_call_lands_on_the_block(client):
    text = RESNET.read_text()
    uri = open_doc(client, RESNET, text)
    await diagnostics_for(client, uri, 1)
    call = where(text, "block: BasicBlock")
    call.character += len("block: ")
    result = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=call)
    )
    location = result[0] if isinstance(result, list) else result
    assert location.uri == uri
    assert location.range.start == where(text, "BasicBlock:")
    # a node name in `in:` goes to its layer; references find every use of the block
    refs = await client.text_document_references_async(
        lsp.ReferenceParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=where(text, "BasicBlock:"),
            context=lsp.ReferenceContext(include_declaration=False),
        )
    )
    assert len(refs) == 4
    add = where(text, "in: [bn2, downsample]")
    add.character += len("in: [")
    result = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=add)
    )
    location = result[0] if isinstance(result, list) else result
    assert location.range.start == where(text, "bn2:")


async def test_completion_after_op_offers_conv2d(client, tmp_path):
    text = LENET.replace("act1: relu", "act1: {op: }")
    uri = open_doc(client, tmp_path / "complete.yaml", text)
    await diagnostics_for(client, uri, 1)
    at = where(text, "act1: {op: ")
    at.character += len("act1: {op: ")
    result = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=at)
    )
    labels = {i.label for i in result.items}
    assert {"Conv2d", "relu", "Linear"} <= labels
    assert "MSELoss" not in labels


async def test_non_ascii_before_the_error_keeps_utf16_ranges(client, tmp_path):
    """An astral character is 2 UTF-16 units but 1 code point: columns after it move by one."""
    text = "# modèle 🙂 with a comment\n" + LENET.replace(
        "name: lenet", 'name: lenet\nconstants: {"🙂x": 1}'
    )
    spec = tmp_path / "unicode.yaml"
    spec.write_text(text, encoding="utf-8")
    (p,) = validate_problems(spec)
    uri = open_doc(client, spec, text)
    (d,) = await diagnostics_for(client, uri, 1)
    line = text.splitlines()[p.pos.line - 1]
    assert d.range.start.line == p.pos.line - 1
    start = len(line[: p.pos.col - 1].encode("utf-16-le")) // 2
    assert line[p.pos.col - 1 : p.pos.col + 3] == '"🙂x"'
    assert (d.range.start.character, d.range.end.character) == (start, start + 5)

    broken = 'name: "lenet🙂" oops\nmodel: {}\n'
    change_doc(client, uri, broken, 2)
    (d,) = await diagnostics_for(client, uri, 2)
    assert d.code == "E-YAML"
    assert d.range.start.character == broken.index("oops") + 1  # the emoji counts twice


async def test_yaml_that_is_not_a_spec_gets_no_diagnostics(client, tmp_path):
    """Editors hand the server every YAML file; only those with a top-level `model:` are specs."""
    uri = open_doc(client, tmp_path / "compose.yaml", "services: {web: {image: nginx}}\n")
    assert await diagnostics_for(client, uri, 1) == []
    change_doc(client, uri, "services: {web: {image: nginx}}\nmodel: 3\n", 2)
    assert "E-TYPE" in {d.code for d in await diagnostics_for(client, uri, 2)}


async def test_a_crash_in_one_stage_leaves_the_server_serving(client, tmp_path):
    crashing = LENET + f"# {MARKER}\n"
    uri = open_doc(client, tmp_path / "crash.yaml", crashing)
    (d,) = await diagnostics_for(client, uri, 1)
    assert d.code == "crash" and "a bug" in d.message
    with pytest.raises(JsonRpcException):
        await client.text_document_hover_async(
            lsp.HoverParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                position=where(crashing, "conv1:"),
            )
        )
    # the same server still checks and answers
    other = open_doc(client, tmp_path / "after.yaml", BAD_FC1)
    assert [x.code for x in await diagnostics_for(client, other, 1)] == ["E-SHAPE"]
    change_doc(client, uri, LENET, 2)
    assert await diagnostics_for(client, uri, 2) == []
    result = await client.text_document_hover_async(
        lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=where(LENET, "conv1:")
        )
    )
    assert "(N, 6, 28, 28)" in result.contents.value


async def test_errors_in_a_from_file_show_there_and_at_the_from_line(client, tmp_path):
    model = tmp_path / "zoo.yaml"
    model.write_text(
        LENET.replace("{op: Conv2d, out_channels: 16", "{op: Conv2D, out_channels: 16")
    )
    spec = tmp_path / "main.yaml"
    text = "name: t\nmodel: {from: zoo.yaml}\n"
    spec.write_text(text)
    (p,) = validate_problems(spec)
    uri = open_doc(client, spec, text)
    (summary,) = await diagnostics_for(client, uri, 1)
    assert summary.range.start == lsp.Position(1, text.splitlines()[1].index("zoo.yaml"))
    assert str(p.pos) in summary.message and p.message in summary.message
    (inside,) = client.diagnostics[model.as_uri()]
    assert (inside.range.start.line + 1, inside.range.start.character + 1) == (
        p.pos.line,
        p.pos.col,
    )
    # the model file fixed and saved: the spec that takes its model from it is checked again
    model.write_text(LENET)
    client.text_document_did_save(
        lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=model.as_uri()))
    )
    assert await diagnostics_for(client, uri, 1, after=len(client.published[uri])) == []
    assert list(client.diagnostics[model.as_uri()]) == []


def chain(layers: int, width: int = 8) -> str:
    lines = ["name: chain", "model:", f"  inputs: {{x: [N, {width}]}}", "  layers:"]
    for i in range(layers // 2):
        lines += [f"    l{i}: {{op: Linear, out_features: {width}}}", f"    r{i}: relu"]
    return "\n".join(lines) + "\n"


async def test_edits_during_a_check_are_coalesced_and_stale_results_dropped(client, tmp_path):
    """Version 2 is checked at once; 3-6 arrive while that check runs (1,000 layers): they wait,
    each cancelling the one before, and the result for 2, stale when it lands, is dropped. Only
    the last version is published."""
    text = chain(1000)
    uri = open_doc(client, tmp_path / "burst.yaml", text)
    await diagnostics_for(client, uri, 1)
    for version in range(2, 7):
        change_doc(client, uri, text + f"# edit {version}\n", version)
    assert await diagnostics_for(client, uri, 6) == []
    assert [p.version for p in client.published[uri]] == [1, 6]


async def test_hover_after_lines_moved_answers_for_the_present_text(client, tmp_path):
    """Two lines inserted above, then a hover at once, while their check (1,000 layers) runs:
    the last finished check has another layer on that line, so the hover waits for the present
    text's check and names the layer under the cursor."""
    text = chain(1000)
    uri = open_doc(client, tmp_path / "moved.yaml", text)
    await diagnostics_for(client, uri, 1)
    moved = "# one\n# two\n" + text
    change_doc(client, uri, moved, 2)
    at = where(moved, "l100:")
    result = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=at)
    )
    assert result.contents.value.startswith("**l100**")
    # an unchanged line is answered from the last check without waiting
    change_doc(client, uri, moved + "# three\n", 3)
    result = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=at)
    )
    assert result.contents.value.startswith("**l100**")


async def test_outline_and_folding(client):
    text = RESNET.read_text()
    uri = open_doc(client, RESNET, text)
    await diagnostics_for(client, uri, 1)
    symbols = await client.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )
    top = {s.name: s for s in symbols}
    assert {"blocks", "model"} <= top.keys()
    (block,) = top["blocks"].children
    assert block.name == "BasicBlock"
    layers = {c.name: c for c in top["model"].children}["layers"]
    assert [c.name for c in layers.children][:3] == ["conv1", "bn1", "relu"]
    folds = await client.text_document_folding_range_async(
        lsp.FoldingRangeParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )
    model = where(text, "model:").line
    assert any(f.start_line == model and f.end_line >= where(text, "fc:").line for f in folds)
