"""Tests for `graphspec render`: the DOT text, clusters and ×N, real graphviz output, a missing
`dot`, specs that fail shape inference, and that drawing DOT never imports torch.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from graphspec.cli import main
from graphspec.compiler.pipeline import compile_file
from graphspec.render import diagram as render
from graphspec.render.dot import Cluster, DEdge, Diagram, DNode, cluster_params, node_label, to_dot

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="graphviz `dot` not installed (.ci/run has it)")

STACK = """\
name: stack
blocks:
  FF:
    inputs: {x: [N, L, 16]}
    layers:
      up: {op: Linear, out_features: 64}
      act: relu
      down: {op: Linear, out_features: 16}
  Layer:
    inputs: {x: [N, L, 16]}
    layers:
      norm: {op: Linear, out_features: 16}
      ff: {block: FF}
      res: {op: add, in: [x, ff]}
model:
  inputs:
    x: [N, L, 16]
  layers:
    enc: {block: Layer, repeat: 12}
    head: {op: Linear, out_features: 4}
"""


def dot_of(spec: Path | str, *args: str, capsys: pytest.CaptureFixture) -> str:
    assert main(["render", str(spec), *args]) == 0
    return capsys.readouterr().out


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    path = tmp_path / "stack.yaml"
    path.write_text(STACK)
    return path


# -- the DOT text ---------------------------------------------------------------------------------


def test_lenet_dot_shows_shapes_arguments_and_counts(capsys):
    text = dot_of(ROOT / "specs/lenet.yaml", capsys=capsys)
    assert text.startswith('digraph "lenet: class Net · 61,706 params"')
    for shape in ("N×1×32×32", "N×6×28×28", "N×6×14×14", "N×16×5×5", "N×400", "N×10"):
        assert f'label=" {shape} "' in text
    assert "1→6 ch · kernel 5" in text
    assert "400→120 features" in text and "48,120 params" in text
    assert '"x" [shape=oval' in text  # the input looks like an input
    assert '"fc3" -> "output:fc3"' in text


def test_shared_module_is_dashed_and_points_at_its_owner(capsys):
    text = dot_of(ROOT / "specs/cifar.yaml", capsys=capsys)
    pool2 = next(line for line in text.splitlines() if line.strip().startswith('"pool2" ['))
    assert "dashed" in pool2 and "shares pool" in pool2
    assert '"pool2" -> "pool" [style=dashed' in text and "same module" in text


def test_params_are_drawn_as_tensors(capsys):
    text = dot_of(ROOT / "specs/fit_sin.yaml", capsys=capsys)
    line = next(x for x in text.splitlines() if x.strip().startswith('"a" ['))
    assert "shape=cylinder" in line and "scalar · init randn" in line and "1 param<" in line
    assert "a*x + b*x**3" in text


def test_a_repeated_block_is_one_cluster_marked_times_n(stack, capsys):
    text = dot_of(stack, capsys=capsys)
    assert text.count('subgraph "cluster_enc"') == 1
    assert 'subgraph "cluster_enc.ff"' in text  # the nested call, inside it
    assert "<b>×12</b>" in text and "28,800 params" in text  # 12 × (272 + 1,088 + 1,040)
    assert '"enc.res" -> "enc.x" [style=dashed' in text  # one copy feeds the next
    assert '"x" -> "enc.x" [label=" N×L×16 "]' in text
    assert '"enc.res" -> "head"' in text
    assert len(re.findall(r'(?m)^ *"enc.norm" \[', text)) == 1  # one copy drawn


def test_expand_draws_every_copy_chained(stack, capsys):
    text = dot_of(stack, "--expand", capsys=capsys)
    assert text.count('subgraph "cluster_enc.') == 12 + 12  # each copy, and its ff call
    assert '"enc.0.res" -> "enc.1.x"' in text and '"enc.11.res" -> "head"' in text
    assert "×12" not in text


def test_depth_collapses_blocks_into_nodes(stack, capsys):
    top = dot_of(stack, "--depth", "0", capsys=capsys)
    assert "subgraph" not in top and "enc.norm" not in top
    assert '"block:enc" [shape=box3d' in top and "×12" in top and "28,800 params" in top
    assert '"x" -> "block:enc"' in top and '"block:enc" -> "head"' in top
    one = dot_of(stack, "--depth", "1", capsys=capsys)
    assert 'subgraph "cluster_enc"' in one and '"block:enc.ff"' in one and "2,128 params" in one


def test_left_to_right(capsys):
    assert "rankdir=LR" in dot_of(ROOT / "specs/regression.yaml", "--rankdir", "LR", capsys=capsys)


def test_block_outputs_leave_from_the_node_that_makes_them(tmp_path, capsys):
    spec = tmp_path / "two.yaml"
    spec.write_text(
        "name: two\nblocks:\n  Two:\n    inputs: {x: [N, 8]}\n    layers:\n"
        "      p: {op: Linear, out_features: 8}\n      q: {op: relu, in: x}\n"
        "    outputs: [p, q]\nmodel:\n  inputs: {x: [N, 8]}\n  layers:\n"
        "    t: {block: Two}\n    u: {op: add, in: [t.p, t.q]}\n"
    )
    text = dot_of(spec, capsys=capsys)
    assert '"t.p" -> "u" [label=" N×8 "]' in text and '"t.q" -> "u"' in text


# -- the picture model, on synthetic diagrams -----------------------------------------------------


def synthetic() -> Diagram:
    """outer ×2 holds a node (5 params) and inner ×3, which holds a node (10 params)."""
    d = Diagram(
        "t", clusters={("o",): Cluster("outer", "B", 2), ("o", "i"): Cluster("inner", "C", 3)}
    )
    d.nodes = {
        "x": DNode("x", "x", (), "input"),
        "a": DNode("a", "a", ("o",), "module", "Linear", params=5),
        "b": DNode("b", "b", ("o", "i"), "module", "Linear", params=10),
        "y": DNode("y", "y", (), "output"),
    }
    d.edges = [DEdge("x", "a", "N×4"), DEdge("a", "b"), DEdge("b", "y", "N×2")]
    return d


def test_cluster_params_multiply_nested_repeats():
    d = synthetic()
    assert cluster_params(d, ("o", "i")) == 30
    assert cluster_params(d, ("o",)) == 2 * (5 + 30)


def test_collapse_keeps_outside_edges_and_drops_inner_ones():
    d = render.collapse(synthetic(), 1)
    assert set(d.nodes) == {"x", "a", "block:i", "y"}
    assert d.nodes["block:i"].params == 30 and d.nodes["block:i"].details == "×3"
    assert [(e.src, e.dst) for e in d.edges] == [("x", "a"), ("a", "block:i"), ("block:i", "y")]
    top = render.collapse(synthetic(), 0)
    assert set(top.nodes) == {"x", "block:o", "y"} and top.nodes["block:o"].params == 70
    assert [(e.src, e.dst) for e in top.edges] == [("x", "block:o"), ("block:o", "y")]


def test_labels_escape_html_and_ids_escape_quotes():
    label = node_label(DNode("n", "n", kind="error", note='a < b & "c"'))
    assert "a &lt; b &amp; &quot;c&quot;" in label
    d = Diagram('say "hi"', {'q"': DNode('q"', "q")})
    assert 'digraph "say \\"hi\\""' in to_dot(d) and '"q\\""' in to_dot(d)
    with pytest.raises(ValueError):
        to_dot(d, "sideways")


# -- real graphviz ------------------------------------------------------------------------------


@needs_dot
@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_shipped_spec_draws_as_svg_and_png(spec, tmp_path):
    compiled = compile_file(str(spec))
    svg = render.render_to_file(compiled, tmp_path / "g.svg")
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    text = svg.read_text()
    assert compiled.graph.class_name in text
    assert f"> {render.shape_label(compiled.graph.outputs[0].out)} </text>" in text
    png = render.render_to_file(compiled, tmp_path / "g.png", rankdir="LR")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_dot
def test_stack_and_pdf_through_the_cli(stack, tmp_path):
    assert main(["render", str(stack), "-o", str(tmp_path / "s.pdf")]) == 0
    assert (tmp_path / "s.pdf").read_bytes()[:5] == b"%PDF-"
    assert main(["render", str(stack), "--format", "svg", "-o", str(tmp_path / "s.svg")]) == 0
    ET.parse(tmp_path / "s.svg")


def test_render_to_file_writes_dot_and_refuses_unknown_suffix(tmp_path):
    compiled = compile_file(str(ROOT / "specs/lenet.yaml"))
    out = render.render_to_file(compiled, tmp_path / "g.dot")
    assert out.read_text().startswith("digraph")
    with pytest.raises(ValueError, match="unknown drawing format"):
        render.render_to_file(compiled, tmp_path / "g.jpeg")


# -- errors ---------------------------------------------------------------------------------------


def test_a_failing_spec_is_drawn_up_to_the_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "specs/cifar.yaml").read_text().replace("16 * 5 * 5", "16 * 6 * 6"))
    assert main(["render", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert "error[E-SHAPE]: in_features is 576 but the input has 400" in err
    assert "(node 'fc1')" in err and "Traceback" not in err
    fc1 = next(line for line in out.splitlines() if line.strip().startswith('"fc1" ['))
    assert "#dc2626" in fc1 and "in_features is 576 but the input has 400" in fc1
    fc2 = next(line for line in out.splitlines() if line.strip().startswith('"fc2" ['))
    assert "not checked" in fc2
    assert '"flat" -> "fc1" [label=" N×400 "]' in out and "check failed at fc1" in out


def test_an_error_inside_a_block_marks_the_block_node(stack, capsys):
    stack.write_text(STACK.replace("down: {op: Linear,", "down: {op: Linear, in_features: 32,"))
    assert main(["render", str(stack)]) == 2
    out, err = capsys.readouterr()
    assert "(node 'FF.down')" in err
    down = next(line for line in out.splitlines() if line.strip().startswith('"down" ['))
    assert "#dc2626" in down and "in_features is 32" in down


def test_wiring_errors_draw_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (ROOT / "specs/lenet.yaml").read_text().replace("act4: relu", "act4: {op: relu, in: nope}")
    )
    assert main(["render", str(bad), "-o", str(tmp_path / "g.dot")]) == 2
    assert "error[E-REF]" in capsys.readouterr().err
    assert not (tmp_path / "g.dot").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "g.svg", "--format", "png"], "--format png does not match"),
        (["-o", "graph"], "cannot tell the format of graph"),
    ],
)
def test_format_mistakes_are_errors(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["render", str(ROOT / "specs/lenet.yaml"), *args]) == 2
    err = capsys.readouterr().err
    assert "error[E-RENDER]" in err and message in err
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_and_bad_depth_are_user_errors(tmp_path, capsys):
    spec = str(ROOT / "specs/lenet.yaml")
    assert main(["render", spec, "-o", str(tmp_path / "missing/g.dot")]) == 2
    assert "error[E-IO]: cannot write" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["render", spec, "--depth", "-1"])
    assert info.value.code == 2


@needs_dot
def test_svg_to_stdout(capsys):
    assert main(["render", str(ROOT / "specs/regression.yaml"), "--format", "svg"]) == 0
    assert ET.fromstring(capsys.readouterr().out.encode()).tag.endswith("svg")


# -- in a fresh interpreter: no torch, no `dot` ---------------------------------------------------

PROBE = r"""
import contextlib, io, json, sys
from graphspec.cli import main
err = io.StringIO()
with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
    codes = [main(["render", "specs/lenet.yaml", "--format", "dot", "-o", sys.argv[1]]),
             main(["render", "specs/cifar.yaml", "-o", sys.argv[2]]),
             main(["render", "specs/fit_sin.yaml"])]
torch = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
print(json.dumps({"codes": codes, "torch": torch, "stderr": err.getvalue()}))
"""


def no_dot_env(tmp_path: Path) -> dict[str, str]:
    empty = tmp_path / "bin"
    empty.mkdir()
    return {"PATH": str(empty), "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}


def test_dot_format_needs_neither_torch_nor_graphviz(tmp_path):
    a, b = tmp_path / "a.gv", tmp_path / "b.dot"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(a), str(b)],
        cwd=ROOT,
        env=no_dot_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["codes"] == [0, 0, 0], result["stderr"]
    assert result["torch"] == []
    assert a.read_text().startswith("digraph") and b.read_text().startswith("digraph")


def test_missing_dot_is_one_clear_error_and_the_dot_file_is_written(tmp_path):
    out = tmp_path / "lenet.png"
    proc = subprocess.run(
        [sys.executable, "-m", "graphspec", "render", "specs/lenet.yaml", "-o", str(out)],
        cwd=ROOT,
        env=no_dot_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "error[E-RENDER]" in lines[0] and "apt-get install graphviz" in lines[0]
    assert "brew install graphviz" in lines[0] and str(tmp_path / "lenet.dot") in lines[0]
    assert not out.exists()
    assert (tmp_path / "lenet.dot").read_text().startswith('digraph "lenet')


def test_missing_dot_with_a_failing_spec_reports_both(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "specs/cifar.yaml").read_text().replace("16 * 5 * 5", "16 * 6 * 6"))
    proc = subprocess.run(
        [sys.executable, "-m", "graphspec", "render", str(bad), "-o", str(tmp_path / "bad.svg")],
        cwd=ROOT,
        env=no_dot_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    codes = [line.split("error[")[1].split("]")[0] for line in proc.stderr.splitlines()]
    assert codes == ["E-SHAPE", "E-RENDER"]
    assert "#dc2626" in (tmp_path / "bad.dot").read_text()
