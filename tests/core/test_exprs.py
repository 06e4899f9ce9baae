"""core.exprs: arithmetic, constants and elementwise expressions, and every way one can be bad."""

from __future__ import annotations

import ast
import math
import re
import subprocess
import sys
from pathlib import Path
from types import MappingProxyType, SimpleNamespace

import pytest

from graphspec.core import exprs
from graphspec.core.exprs import (
    ARITY,
    FUNCTIONS,
    Elementwise,
    ExprError,
    evaluate,
    evaluate_int,
    parse_elementwise,
    resolve_constants,
)

SIZES = {"d_model": 512, "n_heads": 8, "d_k": 64, "a": 4}


# ---- arithmetic: valid ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("16 * 5 * 5", 400),
        ("d_k * n_heads", 512),
        ("d_model // n_heads", 64),
        ("2**10", 1024),
        ("(a + 1) % 3", 2),
        ("-4", -4),
        ("+3", 3),
        ("1e-3 * 2", 0.002),
        ("512 / 8", 64),  # exact int division stays an int
        ("-7 / 7", -1),
        ("7 / 2", 3.5),
        ("-7 % 3", 2),
        ("-2 ** 2", -4),  # Python precedence: -(2 ** 2)
        ("(-2) ** 2", 4),
        ("2 ** 3 ** 2", 512),  # right associative
        ("2 ** 0.5", math.sqrt(2)),
        ("2 ** 63", 2**63),
        ("2 * pi", 2 * math.pi),
        ("  16*5", 80),  # leading blanks would be an IndentationError for ast.parse
        ("(d_model\n // n_heads)", 64),
    ],
)
def test_evaluate_valid(text: str, expected: float) -> None:
    value = evaluate(text, SIZES)
    assert value == pytest.approx(expected)
    assert type(value) is type(expected)


def test_user_name_shadows_pi() -> None:
    assert evaluate("pi", {"pi": 3}) == 3


@pytest.mark.parametrize(
    ("text", "expected"), [("d_model // n_heads", 64), ("512 / 8", 64), ("1e3", 1000)]
)
def test_evaluate_int_valid(text: str, expected: int) -> None:
    value = evaluate_int(text, SIZES)
    assert value == expected
    assert type(value) is int


def test_evaluate_int_rejects_fraction_and_shows_value() -> None:
    with pytest.raises(ExprError) as info:
        evaluate_int("512 / 6", {})
    err = info.value
    assert (err.code, err.offset) == ("E-EXPR", 0)
    assert err.message == "512 / 6 = 85.333... is not an integer"
    assert err.hint == "use // for floor division"
    assert str(err) == err.message


def test_evaluate_int_rejects_huge_float() -> None:
    with pytest.raises(ExprError, match="exceeds 2\\*\\*63"):
        evaluate_int("1e300", {})


# ---- arithmetic: errors with code and offset -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "offset", "message"),
    [
        # syntax errors, with the offset of the error (SyntaxError.offset is 1-based)
        ("d_model / ", "E-EXPR", 9, "syntax error"),
        ("1 2", "E-EXPR", 2, "syntax error"),
        ("é + (", "E-EXPR", 4, "was never closed"),  # characters, not UTF-8 bytes
        ("  1 2", "E-EXPR", 4, "syntax error"),
        # results that are no number we take: the values in the message
        ("x / 0", "E-EXPR", 0, "division by zero in 'x / 0': 7 / 0"),
        ("1 + 5 % 0", "E-EXPR", 4, "division by zero in '5 % 0': 5 % 0"),
        ("5.0 // 0.0", "E-EXPR", 0, "division by zero"),
        ("0.0 ** -1", "E-EXPR", 0, "division by zero"),
        ("1e308*10", "E-EXPR", 0, "overflow in '1e308*10': 1e+308 * 10 is too large for a float"),
        ("2 ** 64", "E-EXPR", 0, "overflow in '2 ** 64': 2 ** 64 exceeds 2**63"),
        ("1 + 10**18 * 10", "E-EXPR", 4, "overflow in '10**18 * 10'"),
        ("2 ** -1", "E-EXPR", 0, "negative integer exponent"),
        ("(-8) ** 0.5", "E-EXPR", 0, "no real result for '(-8) ** 0.5': (-8) ** 0.5"),
        ("1e999", "E-EXPR", 0, "out of the float range"),
        ("9" * 30, "E-EXPR", 0, "integer literal too large"),
        # unknown names
        ("d_model/heads", "E-REF", 8, "unknown name 'heads'"),
        ("(x + q)", "E-REF", 5, "unknown name 'q'"),
        # disallowed nodes, each with its own message
        ("f.gi_frame", "E-EXPR", 2, "attribute access is not allowed"),
        ("  x.y", "E-EXPR", 4, "attribute access is not allowed"),
        ("x[0]", "E-EXPR", 0, "subscripts"),
        ("(lambda: 0)", "E-EXPR", 1, "lambda is not allowed"),
        ("[x for x in y]", "E-EXPR", 0, "comprehensions are not allowed"),
        ("{x: 1 for x in y}", "E-EXPR", 0, "comprehensions are not allowed"),
        ("x < 1", "E-EXPR", 0, "comparisons are not allowed"),
        ("x and y", "E-EXPR", 0, "boolean operators"),
        ("1 + (y := 2)", "E-EXPR", 5, "assignment (:=) is not allowed"),
        ("f'{x}'", "E-EXPR", 0, "f-strings are not allowed"),
        ("'abc'", "E-EXPR", 0, "not a string"),
        ("True", "E-EXPR", 0, "not True/False"),
        ("1j", "E-EXPR", 0, "not a complex number"),
        ("1 + x @ y", "E-EXPR", 4, "operator '@' is not allowed"),
        ("~x", "E-EXPR", 0, "operator '~' is not allowed"),
        ("x if y else 1", "E-EXPR", 0, "conditional expressions"),
        ("(1, 2)", "E-EXPR", 0, "lists, tuples, sets and dicts"),
        ("sin(1)", "E-EXPR", 0, "function calls are not allowed here"),
        ("a\0b", "E-EXPR", 1, "NUL character"),
        ("1+" * 300 + "1", "E-EXPR", 0, "expression too long (601 chars, max 500)"),
        ("-" * 40 + "1", "E-EXPR", 32, "nested too deeply"),
    ],
)
def test_evaluate_errors(text: str, code: str, offset: int, message: str) -> None:
    with pytest.raises(ExprError) as info:
        evaluate(text, {"x": 7, "y": 1, **SIZES})
    assert info.value.code == code
    assert info.value.offset == offset
    assert message in info.value.message


def test_unknown_name_suggests_close_match() -> None:
    with pytest.raises(ExprError) as info:
        evaluate("d_model/heads", SIZES)
    assert info.value.hint == "did you mean 'n_heads'?"


def test_offsets_count_characters_not_bytes() -> None:
    with pytest.raises(ExprError) as info:
        evaluate("é + q", {"é": 1})
    assert (info.value.code, info.value.offset) == ("E-REF", 4)


def test_unknown_name_without_close_match_has_no_hint() -> None:
    with pytest.raises(ExprError) as info:
        evaluate("zzz", SIZES)
    assert info.value.hint is None


def test_non_string_expression_is_an_error() -> None:
    with pytest.raises(ExprError, match="must be a string"):
        evaluate(12, {})  # type: ignore[arg-type]


# ---- denial of service ---------------------------------------------------------------------------
# The caps make each of these fail fast; timings were measured by hand, not asserted here.

DOS = [
    "9**9**9**9",
    "2**10**8",
    "2.0 ** 10**8",
    "7 ** 64 * 7 ** 64",
    "1" * 10_000,
    "9" * 499,
    "-" * 5000 + "1",
    "-" * 499 + "1",
    "1+" * 249 + "1",
    "(" * 249 + "1" + ")" * 249,
    "[" * 5000,
    "\0" * 10_000,
    "x" * 10_000,
]


# Run in a child process: without the caps 9**9**9**9 runs for hours inside C code that no
# signal interrupts, so the timeout is a hang guard, not a timing claim.
DOS_CHILD = """
import sys
from graphspec.core.exprs import ExprError, evaluate, parse_elementwise
text = sys.stdin.read()
for check in (lambda: evaluate(text, {}), lambda: parse_elementwise("x * " + text, ["x"])):
    try:
        check()
    except ExprError as err:
        print(err.code)
"""


@pytest.mark.parametrize("text", DOS, ids=lambda t: repr(t[:12]))
def test_dos_inputs_are_refused(text: str) -> None:
    child = subprocess.run(
        [sys.executable, "-c", DOS_CHILD],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(exprs.__file__).parents[1],
    )
    assert child.stderr == ""
    assert child.stdout.split() == ["E-EXPR", "E-EXPR"]


# ---- injection -----------------------------------------------------------------------------------

PAYLOADS = [
    "__import__('os').system('touch SENTINEL')",
    "().__class__.__bases__[0].__subclasses__()",
    "(lambda: 0)()",
    "[x for x in range(9)]",
    "f.gi_frame",
    "open('SENTINEL', 'w')",
    'exec(\'open("SENTINEL", "w")\')',
    "x.__class__",
]


@pytest.mark.parametrize("text", PAYLOADS)
def test_injection_is_refused_and_runs_nothing(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ExprError) as info:
        evaluate(text, {"x": 1, "f": 1})
    assert info.value.code == "E-EXPR"
    with pytest.raises(ExprError):
        parse_elementwise(text, ["x", "f"])
    assert not (tmp_path / "SENTINEL").exists()


def test_attribute_chain_reports_attribute_access() -> None:
    with pytest.raises(ExprError) as info:
        evaluate("__import__('os').system('id')", {})
    assert info.value.message == "attribute access is not allowed"
    assert info.value.offset == len("__import__('os').")


def test_module_never_evaluates_user_text() -> None:
    # A static check over our own source: no call can reach eval/exec/compile/__import__.
    tree = ast.parse(Path(exprs.__file__).read_text())
    called = {
        n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and hasattr(n.func, "id")
    }
    assert not called & {"eval", "exec", "compile", "__import__"}


def test_module_imports_no_heavy_dependencies() -> None:
    # Load the file alone, so a heavy import elsewhere in the package is not blamed on it.
    code = (
        "import importlib.util as u, sys\n"
        f"spec = u.spec_from_file_location('exprs_alone', {exprs.__file__!r})\n"
        "module = sys.modules['exprs_alone'] = u.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "print(sorted(m for m in ('torch', 'pydantic', 'networkx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---- constants -----------------------------------------------------------------------------------


def test_constants_resolve_in_any_order() -> None:
    raw = {"half": "d_model / 2", "d_model": "d_k * n_heads", "d_k": 64, "n_heads": "2 ** 3"}
    values, errors = resolve_constants(raw)
    assert errors == {}
    assert values == {"d_k": 64, "n_heads": 8, "d_model": 512, "half": 256}
    assert type(values["half"]) is int


def test_constants_two_cycle() -> None:
    values, errors = resolve_constants({"n": "m+1", "m": "n+1", "ok": 3})
    assert values == {"ok": 3}
    assert {e.code for e in errors.values()} == {"E-CYCLE"}
    assert "n -> m -> n" in errors["n"].message
    assert "m -> n -> m" in errors["m"].message
    assert errors["n"].offset == 0


def test_constants_self_cycle_points_at_the_reference() -> None:
    _, errors = resolve_constants({"s": "1 + s"})
    assert errors["s"].code == "E-CYCLE"
    assert "s -> s" in errors["s"].message
    assert errors["s"].offset == 4


def test_constants_downstream_of_errors_get_their_own_error() -> None:
    raw = {"k": "a + 1", "a": "b", "b": "c", "c": "a", "z": "1/0", "w": "2 * z", "ok": "1"}
    values, errors = resolve_constants(raw)
    assert values == {"ok": 1}
    assert {n: errors[n].code for n in "abc"} == dict.fromkeys("abc", "E-CYCLE")
    assert "a -> b -> c -> a" in errors["a"].message
    assert (errors["k"].code, errors["k"].offset) == ("E-REF", 0)
    assert "cannot use 'a'" in errors["k"].message
    assert errors["z"].code == "E-EXPR"
    assert (errors["w"].code, errors["w"].offset) == ("E-REF", 4)
    assert set(values) | set(errors) == set(raw)


def test_constants_unknown_reference_with_suggestion() -> None:
    _, errors = resolve_constants({"d_model": 512, "n_heads": 8, "d_k": "d_model / heads"})
    err = errors["d_k"]
    assert (err.code, err.offset) == ("E-REF", 10)
    assert err.hint == "did you mean 'n_heads'?"


@pytest.mark.parametrize(
    ("value", "code"),
    [(True, "E-TYPE"), (None, "E-TYPE"), ([1], "E-TYPE"), (float("nan"), "E-FINITE")],
)
def test_constants_bad_raw_values(value: object, code: str) -> None:
    values, errors = resolve_constants({"c": value, "d": "c + 1"})
    assert errors["c"].code == code
    assert errors["d"].code == "E-REF"
    assert values == {}


def test_constants_syntax_error_is_reported() -> None:
    _, errors = resolve_constants({"c": "3 +"})
    assert (errors["c"].code, errors["c"].offset) == ("E-EXPR", 3)


def test_long_chain_does_not_exhaust_the_stack() -> None:
    n = 5000  # well past Python's recursion limit; listed last-first
    raw: dict[str, object] = {f"c{i}": f"c{i - 1} + 1" for i in range(n - 1, 0, -1)}
    raw["c0"] = 1
    values, errors = resolve_constants(raw)
    assert errors == {}
    assert values[f"c{n - 1}"] == n


def test_long_cycle_is_found() -> None:
    n = 5000
    raw = {f"c{i}": f"c{(i + 1) % n}" for i in range(n)}
    values, errors = resolve_constants(raw)
    assert values == {}
    assert len(errors) == n
    assert all(e.code == "E-CYCLE" for e in errors.values())
    assert errors["c7"].message == (
        f"constants depend on each other: c7 -> c8 -> c9 -> c10 -> ... -> c6 -> c7 ({n} constants)"
    )


# ---- elementwise expressions ---------------------------------------------------------------------

FAKE_TORCH = SimpleNamespace(
    sin=math.sin,
    cos=math.cos,
    tan=math.tan,
    exp=math.exp,
    log=math.log,
    sqrt=math.sqrt,
    tanh=math.tanh,
    sigmoid=lambda v: 1 / (1 + math.exp(-v)),
    abs=abs,
    relu=lambda v: max(v, 0.0),
    rand_like=lambda v: 0.25,
    randn_like=lambda v: -0.5,
)
POLY = "a*x + b*x**3 + c*x**5 + d*x**7"
SELF = {"a": "self.a", "b": "self.b", "c": "self.c", "d": "self.d", "x": "x"}


def _run(source: str, x: float, **params: float) -> float:
    # The test plays the generated module: `self` holds params, `torch` is a math stand-in.
    scope = {"self": SimpleNamespace(**params), "x": x, "torch": FAKE_TORCH}
    return eval(source, {"__builtins__": {}}, scope)  # noqa: S307 - our rendered output


def test_sin_polynomial_renders_with_mapped_names() -> None:
    expr = parse_elementwise(POLY, SELF)
    assert expr.names == frozenset("abcdx")
    assert expr.render(SELF) == "self.a * x + self.b * x**3 + self.c * x**5 + self.d * x**7"


def test_sin_polynomial_rendering_computes_the_math() -> None:
    coef = {"a": 1.0, "b": -1 / 6, "c": 1 / 120, "d": -1 / 5040}
    source = parse_elementwise(POLY, SELF).render(SELF)
    x = 0.7
    expected = coef["a"] * x + coef["b"] * x**3 + coef["c"] * x**5 + coef["d"] * x**7
    assert _run(source, x, **coef) == pytest.approx(expected)
    assert _run(source, x, **coef) == pytest.approx(math.sin(x), abs=1e-4)


@pytest.mark.parametrize(
    ("text", "math_value"),
    [
        ("sin(x)", math.sin),
        ("x**2 + 0.2*rand_like(x)", lambda x: x**2 + 0.2 * 0.25),
        ("x**2 + randn_like(x)", lambda x: x**2 - 0.5),
        ("-x**2", lambda x: -(x**2)),
        ("(-x)**2", lambda x: x**2),
        ("2 ** -x", lambda x: 2**-x),
        ("1 / (1 + exp(-x)) - sigmoid(x)", lambda x: 0.0),
        ("cos(pi * x) / (2 - tanh(x))", lambda x: math.cos(math.pi * x) / (2 - math.tanh(x))),
        ("sqrt(abs(-x)) + log(x) - tan(x)", lambda x: math.sqrt(x) + math.log(x) - math.tan(x)),
        ("relu(-x) + relu(x) % 0.5", lambda x: x % 0.5),
        ("x - (x - 1) - (1 - x)", lambda x: x),
        ("x // 0.25 * a", lambda x: (x // 0.25) * 3.0),
    ],
)
def test_rendered_text_matches_math(text: str, math_value) -> None:  # noqa: ANN001
    source = parse_elementwise(text, ["x", "a"]).render({"x": "x", "a": "self.a"})
    for x in (0.3, 1.7):
        assert _run(source, x, a=3.0) == pytest.approx(math_value(x))


def test_render_is_rebuilt_not_pasted() -> None:
    expr = parse_elementwise("sin( x )+pi*  x", ["x"])
    assert expr.names == frozenset({"x"})  # functions and pi are not free names
    assert expr.render({"x": "inp"}) == "torch.sin(inp) + 3.141592653589793 * inp"


def test_pi_can_be_a_user_name() -> None:
    expr = parse_elementwise("pi * x", ["pi", "x"])
    assert expr.names == frozenset({"pi", "x"})
    assert expr.render({"pi": "self.pi", "x": "x"}) == "self.pi * x"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_whitelisted_function_renders(name: str) -> None:
    if name in ARITY:  # min/max/clamp: see test_bounds_render_as_the_torch_call_for_operands
        return
    assert parse_elementwise(f"{name}(x)", ["x"]).render({"x": "x"}) == f"{FUNCTIONS[name]}(x)"


def test_function_whitelist_is_exact_and_read_only() -> None:
    expected = "sin cos tan exp log sqrt tanh sigmoid abs relu rand_like randn_like".split()
    assert list(FUNCTIONS) == [*expected, "min", "max", "clamp"]
    assert all(FUNCTIONS[name] == f"torch.{name}" for name in expected)
    assert (FUNCTIONS["min"], FUNCTIONS["max"]) == ("torch.minimum", "torch.maximum")
    assert isinstance(FUNCTIONS, MappingProxyType)
    with pytest.raises(TypeError):
        FUNCTIONS["open"] = "open"  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "code", "offset", "message", "hint"),
    [
        ("xss + x", "E-REF", 0, "unknown name 'xss'", "did you mean 'xs'?"),
        ("x + y", "E-REF", 4, "unknown name 'y'", None),
        (
            "sni(x)",
            "E-EXPR",
            0,
            "function 'sni' is not allowed; allowed: sin, cos",
            "did you mean 'sin'?",
        ),
        ("open(x)", "E-EXPR", 0, "function 'open' is not allowed", None),
        ("x + sin(x, y=2)", "E-EXPR", 11, "keyword arguments are not allowed ('y=')", None),
        ("sin(**x)", "E-EXPR", 4, "keyword arguments are not allowed ('**')", None),
        ("sin(*x)", "E-EXPR", 4, "starred arguments", None),
        ("sin(x, x)", "E-EXPR", 0, "sin() takes 1 argument, got 2", None),
        ("sin * x", "E-EXPR", 0, "function 'sin' must be called", None),
        ("torch.sin(x)", "E-EXPR", 6, "attribute access is not allowed", None),
        ("sin(x)(x)", "E-EXPR", 0, "only named functions can be called", None),
        ("x * 9**9**9**9", "E-EXPR", 7, "exponent too large", None),
        ("x + 1/0", "E-EXPR", 4, "division by zero", None),
        ("x == 1", "E-EXPR", 0, "comparisons are not allowed", None),
    ],
)
def test_elementwise_errors(
    text: str, code: str, offset: int, message: str, hint: str | None
) -> None:
    with pytest.raises(ExprError) as info:
        parse_elementwise(text, ["x", "xs"])
    err = info.value
    assert (err.code, err.offset, err.hint) == (code, offset, hint)
    assert message in err.message


def test_render_rechecks_a_hand_built_instance() -> None:
    with pytest.raises(ExprError, match="attribute access"):
        Elementwise("__import__('os').getcwd()", frozenset()).render({})


def test_render_needs_every_name_mapped() -> None:
    with pytest.raises(KeyError, match="b"):
        parse_elementwise("a + b", ["a", "b"]).render({"a": "self.a"})


@pytest.mark.parametrize("target", ["os.system('x')", "a b", "self.class", ""])
def test_render_refuses_mapping_that_is_not_a_dotted_name(target: str) -> None:
    with pytest.raises(ValueError, match="not a dotted name"):
        parse_elementwise("a", ["a"]).render({"a": target})


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("min(x, a)", "torch.minimum(x, self.a)"),
        ("max(x, 0)", "torch.clamp(x, min=0)"),
        ("min(1.5, x)", "torch.clamp(x, max=1.5)"),
        ("max(k, 2)", "max(3, 2)"),
        ("clamp(x, -1, k)", "torch.clamp(x, -1, 3)"),
        ("clamp(x, a, 1)", "torch.clamp(torch.maximum(x, self.a), max=1)"),
        ("max(exp(x), 1)", "torch.clamp(torch.exp(x), min=1)"),
    ],
)
def test_bounds_render_as_the_torch_call_for_operands(text: str, code: str) -> None:
    """torch.minimum takes two tensors and torch.clamp a tensor and numbers: each pair of
    operands gets the call that accepts it (a constant `k` is inlined as a number)."""
    mapping = {"x": "x", "a": "self.a", "k": 3}
    assert parse_elementwise(text, ["x", "a", "k"]).render(mapping) == code


@pytest.mark.parametrize(
    ("text", "message"),
    [("min(x)", "min() takes 2 arguments, got 1"), ("clamp(x, 0)", "clamp() takes 3")],
)
def test_bounds_take_their_argument_count(text: str, message: str) -> None:
    with pytest.raises(ExprError, match=re.escape(message)):
        parse_elementwise(text, ["x"])
