"""Safe arithmetic for spec fields and constants, and elementwise expressions for `expr` nodes.

User text is parsed with `ast.parse`, checked against a closed set of node types, then either
evaluated here (numbers) or re-rendered from the checked tree as torch source. Nothing the user
wrote reaches eval/exec/compile, and generated code is printed from a freshly built tree, never
pasted from the string. Caps on length, depth and exponents keep hostile input fast to reject.
"""

from __future__ import annotations

import ast
import difflib
import functools
import keyword
import math
import operator
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

Number = int | float

MAX_CHARS = 500
MAX_DEPTH = 32
MAX_EXPONENT = 64
MAX_INT = 2**63

# Whitelisted elementwise functions: spec name -> emitted torch callable. Each takes one tensor.
FUNCTIONS: Mapping[str, str] = MappingProxyType(
    {name: f"torch.{name}" for name in ("sin", "cos", "tan", "exp", "log", "sqrt", "tanh")}
    | {"sigmoid": "torch.sigmoid", "abs": "torch.abs", "relu": "torch.relu"}
    | {"rand_like": "torch.rand_like", "randn_like": "torch.randn_like"}
    | {"min": "torch.minimum", "max": "torch.maximum", "clamp": "torch.clamp"}
)
# Arguments each function takes (1 unless listed): min(a, b), max(a, b), clamp(x, low, high).
ARITY: Mapping[str, int] = MappingProxyType({"min": 2, "max": 2, "clamp": 3})
# Names known without being declared; a user name of the same spelling shadows them.
BUILTIN_CONSTANTS: Mapping[str, float] = MappingProxyType({"pi": math.pi})

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//"}
_BINOPS |= {ast.Mod: "%", ast.Pow: "**"}
_APPLY: dict[str, Callable[[Number, Number], Number]] = {"+": operator.add, "-": operator.sub}
_APPLY |= {"*": operator.mul, "/": operator.truediv, "//": operator.floordiv}
_APPLY |= {"%": operator.mod, "**": operator.pow}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_OTHER_OPS = {ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|"}
_OTHER_OPS |= {ast.BitXor: "^", ast.BitAnd: "&", ast.Not: "not", ast.Invert: "~"}
_FORBIDDEN: dict[type, str] = {
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "subscripts (x[i]) are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.Compare: "comparisons are not allowed",
    ast.BoolOp: "boolean operators (and, or) are not allowed",
    ast.IfExp: "conditional expressions (a if c else b) are not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.Starred: "starred arguments (*x) are not allowed",
    **dict.fromkeys((ast.JoinedStr, ast.FormattedValue), "f-strings are not allowed"),
    **dict.fromkeys(
        (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp),
        "comprehensions are not allowed",
    ),
    **dict.fromkeys(
        (ast.List, ast.Tuple, ast.Set, ast.Dict), "lists, tuples, sets and dicts are not allowed"
    ),
}
_NEWLINE = re.compile(r"\r\n|\r|\n")


@dataclass
class ExprError(Exception):
    """A problem in one expression; `offset` is a 0-based character index into its text."""

    code: str  # E-EXPR, E-REF (unknown name) or E-CYCLE; E-TYPE/E-FINITE for raw constants
    message: str
    offset: int = 0
    hint: str | None = None

    def __str__(self) -> str:
        return self.message


# ---- positions ---------------------------------------------------------------------------------


def _char_offset(text: str, lineno: int, col_bytes: int) -> int:
    """ast columns are UTF-8 byte offsets within a line; callers want characters in the text."""
    starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
    start = starts[max(1, min(lineno, len(starts))) - 1]
    prefix = text[start:].encode()[: max(col_bytes, 0)]
    return min(start + len(prefix.decode("utf-8", "ignore")), len(text))


def _node_offset(text: str, node: ast.AST) -> int:
    if isinstance(node, ast.Attribute) and node.end_col_offset is not None:
        # Point at the attribute name, the part that is refused, not at the object before it.
        col = node.end_col_offset - len(node.attr.encode())
        return _char_offset(text, node.end_lineno or node.lineno, col)
    return _char_offset(text, getattr(node, "lineno", 1), getattr(node, "col_offset", 0))


def _error(text: str, node: ast.AST, message: str, hint: str | None = None) -> ExprError:
    return ExprError("E-EXPR", message, _node_offset(text, node), hint)


def _segment(text: str, node: ast.AST) -> str:
    return ast.get_source_segment(text, node) or ast.unparse(node)


def _show(value: Number) -> str:
    """A short rendering for messages: 85.33333333333333 -> 85.333..."""
    shown = repr(value)
    whole, dot, frac = shown.partition(".")
    if dot and "e" not in frac and len(frac) > 3:
        return f"{whole}.{frac[:3]}..."
    return shown


def _did_you_mean(name: str, known: Collection[str]) -> str | None:
    return _closest(name, tuple(sorted(known)))


@functools.lru_cache(maxsize=4096)
def _closest(name: str, known: tuple[str, ...]) -> str | None:
    """Cached: a block's symbolic sizes (`N`) fail the number branch of a field on every call,
    and each failure asks for the hint again."""
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean '{close[0]}'?" if close else None


# ---- parsing and checking ----------------------------------------------------------------------


def _parse(text: str) -> ast.expr:
    """Parse under caps; every way ast.parse can fail on hostile input becomes an E-EXPR."""
    if not isinstance(text, str):
        raise ExprError("E-EXPR", f"expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ExprError("E-EXPR", f"expression too long ({len(text)} chars, max {MAX_CHARS})")
    if "\0" in text:
        raise ExprError("E-EXPR", "expression contains a NUL character", text.index("\0"))
    # ast.parse treats leading blanks as indentation; blanks are ASCII, so bytes == chars here.
    lead = len(text) - len(text.lstrip(" \t\f"))
    try:
        tree = ast.parse(text[lead:], mode="eval")
    except SyntaxError as exc:
        raise _syntax_error(text, lead, exc) from None
    except (RecursionError, MemoryError, ValueError, OverflowError):
        raise ExprError("E-EXPR", "expression is too complex to parse") from None
    for node in ast.walk(tree) if lead else ():
        if getattr(node, "lineno", None) == 1:
            node.col_offset += lead  # type: ignore[attr-defined]
        if getattr(node, "end_lineno", None) == 1:
            node.end_col_offset += lead  # type: ignore[attr-defined]
    return tree.body


def _syntax_error(text: str, lead: int, exc: SyntaxError) -> ExprError:
    # SyntaxError.offset is 1-based; CPython gives 0 or None when input ends too early.
    line, col = exc.lineno or 1, exc.offset or 0
    if col < 1:
        offset = len(text.rstrip())
    else:
        offset = _char_offset(text, line, 0) + col - 1 + (lead if line == 1 else 0)
    return ExprError("E-EXPR", f"syntax error: {exc.msg}", min(offset, len(text)))


def _check(text: str, node: ast.AST, calls: bool, depth: int = 1) -> None:
    """Refuse every node outside the closed set. Recursion stops at MAX_DEPTH, so a hostile tree
    cannot exhaust the stack here, nor later in evaluation and rendering, which trust this."""
    if depth > MAX_DEPTH:
        raise _error(text, node, f"expression is nested too deeply (max {MAX_DEPTH} levels)")
    if isinstance(node, ast.Constant):
        _check_literal(text, node)
    elif isinstance(node, ast.Name):
        pass  # names are resolved by the caller, who knows which exist
    elif isinstance(node, ast.UnaryOp | ast.BinOp) and type(node.op) in _OTHER_OPS:
        raise _error(text, node, f"operator '{_OTHER_OPS[type(node.op)]}' is not allowed")
    elif isinstance(node, ast.UnaryOp):
        _check(text, node.operand, calls, depth + 1)
    elif isinstance(node, ast.BinOp):
        _check(text, node.left, calls, depth + 1)
        _check(text, node.right, calls, depth + 1)
    elif isinstance(node, ast.Call):
        _check_call(text, node, calls, depth)
    else:
        message = _FORBIDDEN.get(type(node), f"'{type(node).__name__}' is not allowed")
        raise _error(text, node, message)


def _check_literal(text: str, node: ast.Constant) -> None:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = {str: "a string", bytes: "bytes", bool: "True/False", complex: "a complex number"}
        what = kind.get(type(value), repr(value))
        raise _error(text, node, f"only numbers are allowed here, not {what}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _error(text, node, f"number '{_segment(text, node)}' is out of the float range")
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise _error(text, node, "integer literal too large (more than 2**63)")


def _check_call(text: str, node: ast.Call, calls: bool, depth: int) -> None:
    if not isinstance(node.func, ast.Name):
        _check(text, node.func, calls, depth + 1)  # names the real problem, e.g. attribute access
        raise _error(text, node.func, "only named functions can be called, e.g. sin(x)")
    name = node.func.id
    if not calls:
        raise _error(text, node.func, f"function calls are not allowed here ('{name}(...)')")
    if name not in FUNCTIONS:
        allowed = ", ".join(FUNCTIONS)
        message = f"function '{name}' is not allowed; allowed: {allowed}"
        raise _error(text, node.func, message, _did_you_mean(name, FUNCTIONS))
    if node.keywords:
        arg = node.keywords[0].arg
        shown = f"{arg}=" if arg else "**"
        raise _error(text, node.keywords[0], f"keyword arguments are not allowed ('{shown}')")
    for arg in node.args:
        _check(text, arg, calls, depth + 1)
    want = ARITY.get(name, 1)
    if len(node.args) != want:
        plural = "" if want == 1 else "s"
        raise _error(text, node, f"{name}() takes {want} argument{plural}, got {len(node.args)}")


def _names_in(tree: ast.expr) -> dict[str, ast.Name]:
    """Free names in text order, each with its first use; called function names are not free."""
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called]
    first: dict[str, ast.Name] = {}
    for use in sorted(uses, key=lambda n: (n.lineno, n.col_offset)):
        first.setdefault(use.id, use)
    return first


def _unknown_name(text: str, node: ast.Name, known: Collection[str]) -> ExprError:
    hint = _did_you_mean(node.id, known)
    return ExprError("E-REF", f"unknown name '{node.id}'", _node_offset(text, node), hint)


def _checked(text: str, calls: bool) -> ast.expr:
    tree = _parse(text)
    _check(text, tree, calls)
    return tree


# ---- evaluation --------------------------------------------------------------------------------


def _eval(text: str, node: ast.AST, names: Mapping[str, Number]) -> Number:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return names[node.id] if node.id in names else BUILTIN_CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(text, node.operand, names))
    assert isinstance(node, ast.BinOp), "_check admits nothing else"
    left, right = _eval(text, node.left, names), _eval(text, node.right, names)
    return _binop(text, node, left, right)


def _binop(text: str, node: ast.BinOp, left: Number, right: Number) -> Number:
    symbol = _BINOPS[type(node.op)]
    lhs = f"({_show(left)})" if left < 0 else _show(left)  # -8 ** 0.5 would read as -(8 ** 0.5)
    shown = f"'{_segment(text, node)}': {lhs} {symbol} {_show(right)}"
    if symbol == "**":
        _check_power(text, node, left, right, shown)
    try:
        if symbol == "/" and type(left) is type(right) is int and right and not left % right:
            value: Number | complex = left // right  # exact int division stays an int
        else:
            value = _APPLY[symbol](left, right)
    except ZeroDivisionError:
        raise _error(text, node, f"division by zero in {shown}") from None
    except OverflowError:
        raise _error(text, node, f"overflow in {shown} is too large for a float") from None
    if isinstance(value, complex):
        raise _error(text, node, f"no real result for {shown}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _error(text, node, f"overflow in {shown} is too large for a float")
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise _error(text, node, f"overflow in {shown} exceeds 2**63")
    return value


def _check_power(text: str, node: ast.BinOp, base: Number, exp: Number, shown: str) -> None:
    """Refuse huge integer powers before computing them: 9**9**9**9 must fail at once."""
    if type(base) is not int or type(exp) is not int:
        return  # float pow is constant time and reports overflow itself
    if exp < 0:
        hint = "use a float base: 2.0 ** -1"
        raise _error(text, node, f"negative integer exponent in {shown}", hint)
    if exp > MAX_EXPONENT:
        raise _error(text, node, f"exponent too large in {shown} (max {MAX_EXPONENT})")
    # |base| ** exp >= 2 ** ((bits - 1) * exp), over 2**64 once bits * exp > 128 (as exp <= 64);
    # below that the power costs at most 128 bits to compute and is checked after.
    if abs(base).bit_length() * exp > 2 * MAX_EXPONENT:
        raise _error(text, node, f"overflow in {shown} exceeds 2**63")


def evaluate(text: str, names: Mapping[str, Number]) -> Number:
    """Value of an arithmetic expression over `names` (plus `pi`); raises ExprError."""
    tree, free = _prepared(text)
    for name, node in free:
        if name not in names and name not in BUILTIN_CONSTANTS:
            raise _unknown_name(text, node, names)
    return _eval(text, tree, names)


@functools.lru_cache(maxsize=4096)
def _prepared(text: str) -> tuple[ast.expr, tuple[tuple[str, ast.Name], ...]]:
    """The checked tree of `text` and its free names: a block's sizes are evaluated once per
    call with new names, and parsing them again was a tenth of typing a BERT stack. The trees
    are only read (never changed), so sharing them is safe; a refused text raises each time."""
    tree = _checked(text, calls=False)
    return tree, tuple(_names_in(tree).items())


def source_over(text: str, names: Mapping[str, Number], allowed: Collection[str]) -> str | None:
    """`text` as Python source that computes the same number of the same type from module-level
    variables holding `names`, when every name it reads is `allowed`; None otherwise (a number
    alone, a name not allowed, or `d / 2` where a size needs an int and Python gives a float).
    Rendered from the checked tree, never pasted from the text."""
    tree, free = _prepared(text)
    if not free or any(name not in allowed for name, _ in free):
        return None
    return python_source(tree)


_SIMPLE_POWER = re.compile(
    r"(?<![\w.)\]])([A-Za-z_][\w.]*|\d[\w.]*) \*\* ([A-Za-z_][\w.]*|\d[\w.]*)(?![\w.(\[])"
)


def python_source(tree: ast.AST) -> str:
    """A checked tree as Python source, laid out as ruff's formatter lays it out: `x**3` where
    both operands of a power are simple (a name, an attribute, a number), `x ** f(y)` else."""
    return _SIMPLE_POWER.sub(r"\1**\2", ast.unparse(tree))


def checked_tree(text: str) -> ast.expr:
    """The parsed, checked tree of an arithmetic text (no calls): what Dim.parse reads sizes
    from. Shared and cached: callers only read it. ExprError for a refused text."""
    return _prepared(text)[0]


def evaluate_int(text: str, names: Mapping[str, Number]) -> int:
    """Like `evaluate`, for sizes: the result must be a whole number (6.0 counts as 6)."""
    value = evaluate(text, names)
    if isinstance(value, float):
        if not value.is_integer():
            hint = "use // for floor division" if "/" in text else None
            offset = len(text) - len(text.lstrip())
            message = f"{text.strip()} = {_show(value)} is not an integer"
            raise ExprError("E-EXPR", message, offset, hint)
        value = int(value)
        if abs(value) > MAX_INT:
            raise ExprError("E-EXPR", f"{text.strip()} = {_show(float(value))} exceeds 2**63")
    return value


# ---- constants ---------------------------------------------------------------------------------


def _raw_number(value: object) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = type(value).__name__
        raise ExprError("E-TYPE", f"a constant must be a number or an expression, got {kind}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ExprError("E-FINITE", f"a constant must be finite, got {value}")
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise ExprError("E-EXPR", "integer constant too large (more than 2**63)")
    return value


def resolve_constants(
    raw: Mapping[str, object],
) -> tuple[dict[str, Number], dict[str, ExprError]]:
    """Evaluate constants that refer to each other in any order; one error per bad constant.

    A constant that uses a bad one gets an E-REF of its own, so every name in `raw` ends up in
    exactly one of the two dicts.
    """
    constants = _Constants(raw)
    for root in constants.trees:
        constants.resolve_from(root)
    return constants.values, constants.errors


class _Constants:
    """Resolution state; a name moves into `values` or `errors` once, never out again."""

    def __init__(self, raw: Mapping[str, object]) -> None:
        self.raw = raw
        self.values: dict[str, Number] = {}
        self.errors: dict[str, ExprError] = {}
        self.trees: dict[str, ast.expr] = {}
        for name, value in raw.items():
            try:
                if isinstance(value, str):
                    self.trees[name] = _checked(value, calls=False)
                else:
                    self.values[name] = _raw_number(value)
            except ExprError as exc:
                self.errors[name] = exc
        self.deps = {name: self._deps(name, tree) for name, tree in self.trees.items()}

    def _deps(self, name: str, tree: ast.expr) -> dict[str, ast.Name]:
        used = _names_in(tree)
        for ref, node in used.items():
            if ref not in self.raw and ref not in BUILTIN_CONSTANTS and name not in self.errors:
                others = [k for k in self.raw if k != name]
                self.errors[name] = _unknown_name(self._text(name), node, others)
        return {ref: node for ref, node in used.items() if ref in self.raw}

    def _text(self, name: str) -> str:
        return str(self.raw[name])

    def resolve_from(self, root: str) -> None:
        """Depth-first with an explicit stack, so a long chain of constants cannot overflow
        Python's. Each name on the stack waits on the one above it; meeting a name already on
        the stack closes a cycle made of the stack from that name up."""
        stack, on_stack = [root], {root}
        while stack:
            name = stack[-1]
            waiting = [d for d in self.deps[name] if d not in self.values and d not in self.errors]
            if name in self.errors or not waiting:
                on_stack.discard(stack.pop())
                self._settle(name)
            elif waiting[0] in on_stack:
                self._cycle(stack[stack.index(waiting[0]) :])
            else:
                stack.append(waiting[0])
                on_stack.add(waiting[0])

    def _settle(self, name: str) -> None:
        if name in self.values or name in self.errors:
            return
        deps, text = self.deps[name], self._text(name)
        bad = next((d for d in deps if d in self.errors), None)
        try:
            if bad is not None:
                offset = _node_offset(text, deps[bad])
                raise ExprError("E-REF", f"cannot use '{bad}', which has an error", offset)
            self.values[name] = _eval(text, self.trees[name], self.values)
        except ExprError as exc:
            self.errors[name] = exc

    def _cycle(self, cycle: list[str]) -> None:
        # Long cycles are shortened in the message, which also keeps this linear in their length.
        n = len(cycle)
        for i, name in enumerate(cycle):
            ahead = [cycle[(i + k) % n] for k in range(min(n, 8))]
            loop = ahead + [name] if n <= 8 else [*ahead[:4], "...", cycle[i - 1], name]
            offset = _node_offset(self._text(name), self.deps[name][ahead[1 % n]])
            size = f" ({n} constants)" if n > 8 else ""
            message = f"constants depend on each other: {' -> '.join(loop)}{size}"
            self.errors[name] = ExprError("E-CYCLE", message, offset)


# ---- elementwise expressions -------------------------------------------------------------------


class Elementwise(NamedTuple):
    """A checked elementwise expression over tensors, e.g. `a*x + b*x**3`."""

    text: str
    names: frozenset[str]  # free names used, excluding functions and built-in constants

    def render(self, mapping: Mapping[str, str | Number]) -> str:
        """Python source for the expression: names mapped (`a` -> `self.a`, a constant to its
        value), torch functions."""
        tree = _checked_elementwise(self.text, self.names)  # re-checked: the fields are public
        missing = sorted(self.names - mapping.keys())
        if missing:
            raise KeyError(f"no mapping for {', '.join(missing)}")
        return python_source(_rebuild(tree, mapping, self.names))


def parse_elementwise(text: str, allowed_names: Collection[str]) -> Elementwise:
    """Check an elementwise expression; raises ExprError (E-REF for unknown names)."""
    allowed = frozenset(allowed_names)
    tree = _checked_elementwise(text, allowed)
    return Elementwise(text, frozenset(n for n in _names_in(tree) if n in allowed))


def _checked_elementwise(text: str, allowed: frozenset[str]) -> ast.expr:
    tree = _checked(text, calls=True)
    for name, node in _names_in(tree).items():
        if name in allowed or name in BUILTIN_CONSTANTS:
            continue
        if name in FUNCTIONS:
            raise _error(text, node, f"function '{name}' must be called, as {name}(...)")
        raise _unknown_name(text, node, allowed)
    _check_constant_parts(text, tree, allowed)
    return tree


def _check_constant_parts(text: str, node: ast.expr, allowed: frozenset[str]) -> None:
    # Parts without tensors would run as plain Python in the emitted code, so they get the same
    # caps as arithmetic: `x * 9**9**9**9` must not hang the generated forward().
    parts = list(ast.walk(node))
    if not any(isinstance(n, ast.Call) or getattr(n, "id", None) in allowed for n in parts):
        _eval(text, node, {})
        return
    children = node.args if isinstance(node, ast.Call) else ast.iter_child_nodes(node)
    for child in children:
        if isinstance(child, ast.expr):
            _check_constant_parts(text, child, allowed)


def _dotted(path: str) -> ast.expr:
    """A Name/Attribute chain for a caller-given dotted path such as `self.a`."""
    parts = path.split(".")
    if not all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
        raise ValueError(f"not a dotted name: {path!r}")
    tree: ast.expr = ast.Name(parts[0], ast.Load())
    for part in parts[1:]:
        tree = ast.Attribute(tree, part, ast.Load())
    return tree


def _mapped(target: str | Number) -> ast.expr:
    """A mapped name: a dotted path (`self.a`), or a constant's value, inlined as a number."""
    if isinstance(target, str):
        return _dotted(target)
    if isinstance(target, bool) or not isinstance(target, int | float) or not math.isfinite(target):
        raise ValueError(f"not a dotted name or a finite number: {target!r}")
    # A negative number as a unary minus, so unparse brackets it where precedence needs it.
    return ast.UnaryOp(ast.USub(), ast.Constant(-target)) if target < 0 else ast.Constant(target)


def _rebuild(
    node: ast.expr, mapping: Mapping[str, str | Number], names: frozenset[str]
) -> ast.expr:
    """A fresh tree of fresh nodes; ast.unparse then prints it with correct precedence."""
    if isinstance(node, ast.Constant):
        return ast.Constant(node.value)
    if isinstance(node, ast.Name):
        if node.id in names:
            return _mapped(mapping[node.id])
        return ast.Constant(BUILTIN_CONSTANTS[node.id])
    if isinstance(node, ast.UnaryOp):
        return ast.UnaryOp(type(node.op)(), _rebuild(node.operand, mapping, names))
    if isinstance(node, ast.BinOp):
        left, right = _rebuild(node.left, mapping, names), _rebuild(node.right, mapping, names)
        return ast.BinOp(left, type(node.op)(), right)
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name), "checked before"
    args = [_rebuild(arg, mapping, names) for arg in node.args]
    if node.func.id in ARITY:
        tensors = [_reads_tensor(arg, mapping, names) for arg in node.args]
        return _bounded(node.func.id, args, tensors)
    return ast.Call(_dotted(FUNCTIONS[node.func.id]), args, [])


def _reads_tensor(node: ast.expr, mapping: Mapping[str, str | Number], names: frozenset) -> bool:
    """Whether the rendered subtree holds a tensor: a name mapped to a path, not a number."""
    used = (n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in names)
    return any(isinstance(mapping[n], str) for n in used) or any(
        isinstance(n, ast.Call) for n in ast.walk(node)
    )


def _bounded(name: str, args: list[ast.expr], tensors: list[bool]) -> ast.expr:
    """min/max/clamp in the torch call that takes their operands: torch.minimum for two tensors,
    torch.clamp for a tensor and a number, the builtin for two numbers."""
    if name == "clamp" and tensors == [True, False, False]:
        return ast.Call(_dotted("torch.clamp"), args, [])
    if name == "clamp":
        low = _bounded("max", args[:2], tensors[:2])
        return _bounded("min", [low, args[2]], [tensors[0] or tensors[1], tensors[2]])
    if all(tensors):
        return ast.Call(_dotted(FUNCTIONS[name]), args, [])
    if not any(tensors):
        return ast.Call(ast.Name(name, ast.Load()), args, [])
    tensor, number = (args[0], args[1]) if tensors[0] else (args[1], args[0])
    bound = "max" if name == "min" else "min"  # min(x, 1) caps x from above
    return ast.Call(_dotted("torch.clamp"), [tensor], [ast.keyword(bound, number)])


# ---- conditions --------------------------------------------------------------------------------

_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt}
_COMPARE |= {ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}


def evaluate_condition(text: str, names: Mapping[str, Number | bool]) -> bool:
    """An `if:` condition over numbers: arithmetic, comparisons, `and`, `or`, `not`, `true`,
    `false` (`stride != 1 or C != planes`). The same caps and the same names as `evaluate`."""
    if isinstance(text, bool):
        return text
    tree = _parse(text)
    names = {"true": True, "false": False, "True": True, "False": False, **names}
    value = _eval_condition(text, tree, names, 1)
    if not isinstance(value, bool):
        hint = "compare sizes: stride != 1, or C == planes"
        raise ExprError("E-EXPR", f"condition '{text}' is a number, not true or false", 0, hint)
    return value


def _eval_condition(text: str, node: ast.AST, names: Mapping[str, Any], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise _error(text, node, f"expression is nested too deeply (max {MAX_DEPTH} levels)")
    if isinstance(node, ast.BoolOp):
        values = [_eval_condition(text, v, names, depth + 1) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _eval_condition(text, node.operand, names, depth + 1)
    if isinstance(node, ast.Compare):
        left = _eval_condition(text, node.left, names, depth + 1)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if type(op) not in _COMPARE:
                raise _error(text, node, "only ==, !=, <, <=, >, >= compare here")
            right = _eval_condition(text, right_node, names, depth + 1)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Name) and isinstance(names.get(node.id), bool):
        return names[node.id]
    _check(text, node, calls=False, depth=depth)
    for name, use in _names_in(node).items():  # type: ignore[arg-type]
        if name not in names and name not in BUILTIN_CONSTANTS:
            raise _unknown_name(text, use, [n for n in names if n not in ("True", "False")])
    return _eval(text, node, names)
