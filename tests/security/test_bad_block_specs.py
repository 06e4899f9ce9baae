"""Bad inputs specific to blocks, params, `expr` and the BERT ops (issue 4), through the CLI.

Each case gives exit 2, one located `FILE:LINE:COL: error[CODE]: ...` line per error, a hint, no
traceback, and writes nothing. Expected lines and columns are computed from the spec text (the
first line holding a marker, the column of a needle on it), so a case states where, not numbers.
Several cases are one-line edits of specs/bert_attention.yaml, the mistakes a user of it makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers.badinput import column, validate_all_in_a_subprocess, validate_case

from graphspec import cli

ROOT = Path(__file__).resolve().parents[2]
BERT = (ROOT / "specs" / "bert_attention.yaml").read_text()

Col = int | str | tuple[str, int]
"""A column number, or the text the column points at (first occurrence on the line), + offset."""


@dataclass
class Case:
    id: str
    text: str
    errors: list[tuple[str, str, Col]]
    """(code, text that first occurs on the error's line, column)."""
    hint: str
    says: list[str] = field(default_factory=list)


def mix(*layers: str, block_layer: str = "fc: {op: Linear, out_features: 8, in: x}") -> str:
    """A block `Mix(x, mask)` and a model calling it with `layers`."""
    body = "\n".join(f"    {layer}" for layer in layers)
    return f"""name: t
blocks:
  Mix:
    inputs:
      x: [N, 8]
      mask: {{shape: [N, 8], dtype: bool}}
    layers:
      {block_layer}
      filled: {{op: masked_fill, value: 0.0, in: [fc, mask]}}
      gate: {{op: sigmoid, in: fc}}
    outputs: [filled, gate]
model:
  inputs:
    a: [N, 8]
  layers:
    m: {{op: eq, other: 0, in: a}}
{body}
"""


def model(inputs: str, *layers: str, params: str = "") -> str:
    body = "\n".join(f"    {layer}" for layer in layers)
    extra = f"  params:\n{params}" if params else ""
    return f"name: t\nmodel:\n  inputs:\n{inputs}\n{extra}  layers:\n{body}\n"


def bert(old: str, new: str) -> str:
    """specs/bert_attention.yaml with one edit (which must apply)."""
    assert BERT.count(old) == 1, old
    return BERT.replace(old, new)


RECURSIVE = """name: t
blocks:
  A:
    inputs: {x: [N, 8]}
    layers:
      b: {block: B, in: {x: x}}
  B:
    inputs: {x: [N, 8]}
    layers:
      a: {block: A, in: {x: x}}
model:
  inputs: {x: [N, 8]}
  layers:
    y: {block: A, in: {x: x}}
"""
NESTED = """name: t
blocks:
  Inner:
    inputs: {x: [N, 8]}
    layers:
      fc: {op: Linear, in_features: 9, out_features: 8}
  Outer:
    inputs: {x: [N, 8]}
    layers:
      inner: {block: Inner, in: {x: x}}
model:
  inputs: {a: [N, 8]}
  layers:
    o1: {block: Outer, in: {x: a}}
"""
DOWN = """name: t
blocks:
  Down:
    inputs: {x: [N, 8]}
    layers:
      fc: {op: Linear, out_features: 4}
model:
  inputs: {a: [N, 8]}
  layers:
    stack: {block: Down, in: {x: a}, repeat: 3}
"""
SCALARS = "    alpha: {shape: [], init: randn}\n"
CALL = "call: {block: Mix, in: {x: a, mask: m}}"
MHA_CALL = "attention: {block: MultiHeadAttention, in: {Q: embed, K: embed, V: embed"

# fmt: off
CASES = [
    # blocks: how they are called
    Case("block-input-unconnected", mix("call: {block: Mix, in: {x: a}}"),
         [("E-GRAPH", "call:", "call")], "connect every block input", ["'mask'", "not connected"]),
    Case("bert-mask-unconnected", bert(", attn_mask: attn_mask}}", "}}"),
         [("E-GRAPH", "attention:", "attention")], "connect every block input", ["'attn_mask'"]),
    # the seed's own typo: K projected from Q leaves the block's K input unread
    Case("bert-seed-typo-wk-reads-q",
         bert("wk: {op: Linear, out_features: d_k * n_heads, in: K}",
              "wk: {op: Linear, out_features: d_k * n_heads, in: Q}"),
         [("E-UNUSED", "      K: [N, L, d_model]", "K")], "read it with `in:`",
         ["input is never used", "MultiHeadAttention.K"]),
    Case("block-input-unknown-key", mix("call: {block: Mix, in: {x: a, msk: m}}"),
         [("E-REF", "call:", "call"), ("E-GRAPH", "call:", "call")], "did you mean 'mask'?",
         ["has no input 'msk'"]),
    Case("block-unknown-name", mix("call: {block: Mx, in: {x: a, mask: m}}"),
         [("E-REF", "call:", "Mx")], "did you mean 'Mix'?", ["unknown block 'Mx'"]),
    Case("blocks-recursive", RECURSIVE, [("E-CYCLE", "  A:", "A")], "repeat: N",
         ["A -> B -> A"]),
    Case("block-calls-itself", RECURSIVE.replace("{block: B,", "{block: A,"),
         [("E-CYCLE", "  A:", "A")], "cannot call itself", ["A -> A"]),
    Case("repeat-changes-type", DOWN, [("E-SHAPE", "stack:", ("repeat: 3", 8))],
         "drop `repeat:`", ["first output (N, 4)", "first input (N, 8)"]),
    Case("missing-port-in-outputs", mix(CALL) + "  outputs: [call.nope]\n",
         [("E-REF", "outputs: [call", "[")], "refer to one of: filled, gate",
         ["'call' has no output 'nope'"]),
    Case("bert-port-typo", bert("outputs: [attention, attention.attn]",
                                "outputs: [attention, attention.atn]"),
         [("E-REF", "outputs: [attention", "[")], "did you mean 'attn'?", ["no output 'atn'"]),
    Case("missing-port-in-input", mix(CALL, "r: {op: relu, in: call.nope}"),
         [("E-REF", "r: {op", "call.nope")], "refer to one of: filled, gate", ["(node 'r')"]),
    Case("float-ids-into-block", bert("input_ids: {shape: [N, L], dtype: int64}",
                                      "input_ids: [N, L]"),
         [("E-DTYPE", "embed: {block", "{x: input_ids")], "int64",
         ["input 'x' is declared (N, L) int64, got (N, L) float32"]),
    # errors inside a block: at the block's line, naming the block's node and its caller
    Case("inside-block-linear", mix(CALL, block_layer="fc: {op: Linear, in_features: 9, "
                                    "out_features: 8, in: x}"),
         [("E-SHAPE", "fc: {op: Linear", "9")], "in_features: 8",
         ["(node 'Mix.fc')", "in block 'Mix', called by 'call' (line 17)"]),
    Case("inside-nested-block", NESTED, [("E-SHAPE", "fc: {op", "9")], "in_features: 8",
         ["(node 'Inner.fc')", "called by 'Outer.inner' (line 10)"]),
    Case("bert-seed-mask-not-broadcast",
         bert("scores: {op: masked_fill, value: -1.0e9, in: [scaled, head_mask]",
              "scores: {op: masked_fill, value: -1.0e9, in: [scaled, attn_mask]")
         .replace("      head_mask: {op: unsqueeze, dim: 1, in: attn_mask}"
                  "     # broadcast over the heads\n", ""),
         [("E-SHAPE", "scores:", "scores")], "unsqueeze the mask",
         ["(N, L, L) (rank 3)", "(N, 12, L, L) (rank 4)", "(node 'MultiHeadAttention.scores')",
          "called by 'attention' (line 68)"]),
    # views whose sizes do not divide
    Case("view-does-not-divide",
         model("    x: [N, L, 768]", "v: {op: view, size: [N, -1, 12, 63]}"),
         [("E-SHAPE", "v: {op", "[N, -1")], "multiply",
         ["(N, L, 768)", "(N, -1, 12, 63)"]),
    Case("bert-view-head-size", bert("q_split: {op: view, size: [N, -1, n_heads, d_k]}",
                                     "q_split: {op: view, size: [N, -1, n_heads, 100]}"),
         [("E-SHAPE", "q_split:", "[N, -1")], "multiply",
         ["(N, -1, 12, 100)", "(node 'MultiHeadAttention.q_split')"]),
    # expr: the column lands inside the string
    Case("expr-unknown-name", model("    x: [N]", 'y: {op: expr, expr: "alpah*x + 1"}',
                                    params=SCALARS),
         [("E-REF", "y: {op", "alpah")], "did you mean 'alpha'?", ["unknown name 'alpah'"]),
    Case("expr-unknown-name-plain", model("    x: [N]", "y: {op: expr, expr: x + sni(x)}"),
         [("E-EXPR", "y: {op", "sni")], "did you mean 'sin'?", ["'sni' is not allowed"]),
    Case("expr-open", model("    x: [N]", 'y: {op: expr, expr: "open(x)"}'),
         [("E-EXPR", "y: {op", "open")], "calling only sin, cos",
         ["function 'open' is not allowed"]),
    Case("expr-attribute", model("    x: [N]", "y: {op: expr, expr: x.__class__}"),
         [("E-EXPR", "y: {op", "__class__")], "arithmetic", ["attribute access is not allowed"]),
    Case("expr-dunder-import", model("    x: [N]",
                                     "y: {op: expr, expr: \"__import__('os').getcwd()\"}"),
         [("E-EXPR", "y: {op", "getcwd")], "arithmetic", ["attribute access is not allowed"]),
    # dtypes and ranks
    Case("embedding-float", model("    x: [N, L]",
                                  "e: {op: Embedding, num_embeddings: 10, embedding_dim: 4}"),
         [("E-DTYPE", "e: {op", "e")], "dtype: int64", ["float32"]),
    Case("mask-wrong-rank", model("    x: [N, 8]\n    m: {shape: [N, 8, 8], dtype: bool}",
                                  "y: {op: masked_fill, value: 0.0, in: [x, m]}"),
         [("E-SHAPE", "y: {op", "y")], "unsqueeze", ["(N, 8, 8) (rank 3)", "(N, 8) (rank 2)"]),
]
# fmt: on


def expected(case: Case, file: str) -> list[tuple[str, str, int, int]]:
    lines = case.text.splitlines()
    out = []
    for code, marker, col in case.errors:
        line = next(i for i, text in enumerate(lines, 1) if marker in text)
        out.append((file, code, line, column(lines, line, col)))
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input(case, tmp_path, monkeypatch, capsys):
    err = validate_case(case, expected, tmp_path, monkeypatch, capsys)
    assert all("; hint: " in line for line in err.splitlines()), err
    assert case.hint in err.split("; hint: ", 1)[1], err


def test_the_unedited_specs_validate(tmp_path, monkeypatch, capsys):
    """The cases above are edits of specs that are themselves valid."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bert.yaml").write_text(BERT)
    (tmp_path / "mix.yaml").write_text(mix(CALL))
    (tmp_path / "recursive.yaml").write_text(
        RECURSIVE.replace("b: {block: B, in: {x: x}}", "b: {op: relu, in: x}")
    )
    assert cli.main(["validate", "bert.yaml", "mix.yaml", "recursive.yaml"]) == 0, (
        capsys.readouterr()
    )


def test_all_cases_through_a_real_subprocess(tmp_path):
    validate_all_in_a_subprocess(tmp_path, CASES, expected)
