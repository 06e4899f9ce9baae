"""YAML indentation mistakes are reported at the line of the mistake with a hint, and a key
indented into the wrong section is called an indentation mistake."""

from __future__ import annotations

import pytest

from graphspec.compiler.pipeline import compile_text
from graphspec.core.errors import SpecError
from graphspec.language.load import load_text

MODEL = (
    "model:\n  class: Net\n  inputs: {x: [N, 2]}\n  layers:\n"
    "    out: {op: Linear, out_features: 1}\n"
)
DATA = "data:\n  source: random\n  inputs: {x: [8, 2]}\n  target: [8, 1]\n"


def _problem(text: str, compile_it: bool = False):
    with pytest.raises(SpecError) as err:
        compile_text(text, "spec.yaml") if compile_it else load_text(text, "spec.yaml")
    return err.value.problems[0]


@pytest.mark.parametrize(
    ("text", "line", "hint"),
    [
        # a key without its colon: PyYAML fails on the line after
        ("name: t\nmodel:\n  layers\n    out: {op: Linear}\n", 3, "line 3 ('layers') has no ':'"),
        # a line indented under a key that already has a value
        ("data:\n  path: a.csv\n    target: y\nloss: MSELoss\n", 3,
         "line 3 is indented deeper than line 2, whose key 'path' already has a value"),
        # a key indented to a column no section uses
        ("name: t\noptimizer:\n  op: SGD\n lr: 0.1\n", 4, "line 4 starts at column 2"),
    ],
)  # fmt: skip
def test_yaml_indentation_mistakes_name_their_line(text, line, hint):
    problem = _problem(text)
    assert problem.code == "E-YAML"
    assert problem.pos.line == line
    assert hint in problem.hint


def test_a_top_level_key_indented_into_a_section_says_indentation():
    text = "name: t\n" + MODEL + DATA + "  loss: MSELoss\noptimizer: {op: SGD, lr: 0.1}\n"
    problem = _problem(text, compile_it=True)
    assert problem.code == "E-UNKNOWN" and "'loss'" in problem.message
    assert problem.hint.startswith("indentation?") and "the top level" in problem.hint


def test_a_key_of_a_sibling_section_says_indentation():
    text = "name: t\n" + MODEL + DATA + "loss:\n  op: MSELoss\n  lr: 0.1\noptimizer: {op: SGD}\n"
    problem = _problem(text, compile_it=True)
    assert "'lr'" in problem.message and "'optimizer'" in problem.hint
    assert "indentation?" in problem.hint


def test_a_typo_still_gets_did_you_mean():
    text = "name: t\n" + MODEL + DATA + "loss: MSELoss\noptimizer: {op: SGD, lr: 0.1}\n"
    text = text.replace("  target:", "  targt:")
    problem = _problem(text, compile_it=True)
    assert "did you mean 'target'" in problem.hint
