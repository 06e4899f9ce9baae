"""Wrapping a long generated list or call reads each item's text by its offsets in the one line,
never through `ast.get_source_segment`, which splits the whole text on every call and made a
list of thousands of class names quadratic (minutes in tests/security/test_fuzz.py)."""

import ast

import pytest

from graphspec.core import codetext


@pytest.fixture
def no_source_segment(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("get_source_segment on a one-line text")

    monkeypatch.setattr(ast, "get_source_segment", refuse)


def test_a_long_list_is_one_item_a_line_from_offsets(no_source_segment):
    names = [f"class é{i}" for i in range(5000)]  # non-ASCII: offsets are UTF-8 bytes
    lines = codetext.wrap_list("    classes = ", codetext.literal(names))
    assert lines[0] == "    classes = ["
    assert lines[1] == '        "class é0",' and lines[-2] == '        "class é4999",'
    assert lines[-1] == "    ]" and len(lines) == 5002


def test_a_long_call_is_wrapped_from_offsets(no_source_segment):
    line = "        self.head = nn.Linear(" + ", ".join(f"a{i}=1" for i in range(40)) + ")"
    lines = codetext.wrap_call(line)
    assert lines[0] == "        self.head = nn.Linear("
    assert lines[1] == "            a0=1," and lines[-1] == "        )"


def test_a_text_of_several_lines_still_uses_the_ast_helper(monkeypatch):
    """Negative control: the offsets are per line, so a multi-line text goes through ast."""
    calls = []
    real = ast.get_source_segment
    monkeypatch.setattr(ast, "get_source_segment", lambda *a: calls.append(1) or real(*a))
    node = ast.parse("[1,\n 22]", mode="eval").body.elts[1]
    assert codetext._segment("[1,\n 22]", node) == "22" and calls
