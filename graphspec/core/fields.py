"""Field types shared by every spec model: strict, finite, bounded, and expression-aware.

Integer fields accept arithmetic over the spec's `constants:` (`16 * 5 * 5`, `d_k * n_heads`):
a string in an integer position is evaluated by `exprs.evaluate_int` with the constants passed
in pydantic's validation context. Nothing is ever handed to `eval`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError

from graphspec.core import exprs


class StrictModel(BaseModel):
    """Base of every spec model: unknown keys are errors, types are not coerced."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        populate_by_name=True,
        frozen=True,
        # Field docstrings reach `graphspec schema` through language/schema_docs.py, which reads
        # them only then: pydantic's use_attribute_docstrings would parse the source (~0.7 s) on
        # every validate.
        defer_build=True,  # build validators once, for the whole Spec, not per class at import
    )


def _constants(info: ValidationInfo) -> dict[str, Any]:
    constants: dict[str, Any] = (info.context or {}).get("constants", {})
    return constants


_NUMBER = re.compile(r"\s*[-+]?(\d[\d_]*\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?)\s*")


def _refuse_quoted_number(value: str, want: str = "a number") -> None:
    """`"64"` is a string that looks like a number: strict types refuse it rather than guess."""
    if _NUMBER.fullmatch(value):
        raise PydanticCustomError("quoted_number", "a number was given as a string", {"want": want})


def _eval_int(value: Any, info: ValidationInfo) -> Any:
    """Evaluate `"16 * 5 * 5"` to 400; leave everything else for the strict int check."""
    _note_name(value, info)
    if not isinstance(value, str):
        return value
    _refuse_quoted_number(value, "an integer")
    # a plain int: a NamedInt among the names (a size read off an input) would lose a union to
    # a plain string, being a subclass
    return int(_evaluate(exprs.evaluate_int, value, info))


def _eval_number(value: Any, info: ValidationInfo) -> Any:
    _note_name(value, info)
    if not isinstance(value, str) or value.strip().lower() in ("nan", "inf", "-inf"):
        return value
    _refuse_quoted_number(value)
    number = _evaluate(exprs.evaluate, value, info)
    return int(number) if isinstance(number, int) else float(number)


def _evaluate(evaluate: Any, value: str, info: ValidationInfo) -> Any:
    """`evaluate(value, constants)`, its ExprError as pydantic's error with our code and hint."""
    try:
        return evaluate(value, _constants(info))
    except exprs.ExprError as err:
        raise PydanticCustomError(
            "expr",
            "{message}",
            {"message": err.message, "code": err.code, "offset": err.offset, "hint": err.hint},
        ) from None


class NamedInt(int):
    """An integer the spec wrote over its constants (`d_k * n_heads`): it compares, hashes and
    prints as the number it is, and `source` is the arithmetic, for generated code to write in
    place of the number (the constants are module-level values there)."""

    source: str


class NamedFloat(float):
    """The same for a float (`d_k ** -0.5`)."""

    source: str


def named_source(value: object) -> str | None:
    """The source a NamedInt or NamedFloat carries; None for any other value."""
    return value.source if isinstance(value, NamedInt | NamedFloat) else None


def _note_name(value: Any, info: ValidationInfo) -> None:
    """As a number is evaluated: when the spec wrote it as arithmetic over constants the
    generated code holds by name (the context's `named`, see compiler/pipeline.py), note that
    source for `_keep_name`, which runs right after this field's own validation succeeds (and
    forget any earlier note, which a failed validation left behind)."""
    context = info.context
    if not context or not context.get("named"):
        return
    context.pop(_SOURCE, None)
    if isinstance(value, str):
        constants = _constants(info)
        try:
            source = exprs.source_over(value, constants, context["named"])
            number = exprs.evaluate(value, constants) if source is not None else None
        except exprs.ExprError:
            return  # _eval_int / _eval_number report it
        if source is not None:
            context[_SOURCE] = (number, source)


def _keep_name(value: Any, info: ValidationInfo) -> Any:
    """The validated number, as a NamedInt/NamedFloat when `_note_name` noted its source and
    Python computes the same number of the same type from it."""
    noted = info.context.pop(_SOURCE, None) if info.context else None
    if noted is None or isinstance(value, bool):
        return value
    number, source = noted
    if type(number) is not type(value) or number != value:
        return value
    kept = (NamedInt if isinstance(value, int) else NamedFloat)(value)
    kept.source = source
    return kept


_SOURCE = "_named_source"
"""The context key `_note_name` leaves its (number, source) under."""


_EXPR_SCHEMA = {"type": ["integer", "string"], "description": "an integer or an expression"}

_FLOAT_SCHEMA = {"type": ["number", "string"], "description": "a number or an expression"}

# Bounds come before the BeforeValidator: they then constrain the evaluated number (same check),
# and pydantic writes them as JSON Schema's minimum/exclusiveMinimum; after it, they would leak
# into `graphspec schema` as pydantic's own `ge`/`gt` keys, which editors ignore.
INT64_MAX = 2**63 - 1
"""Every integer field fits torch's int64: beyond it torch overflows at run time."""
Int = Annotated[
    int,
    Field(ge=-INT64_MAX - 1, le=INT64_MAX, json_schema_extra=_EXPR_SCHEMA),
    BeforeValidator(_eval_int),
    AfterValidator(_keep_name),
]
Size = Annotated[
    int,
    Field(ge=1, le=INT64_MAX, json_schema_extra=_EXPR_SCHEMA),
    BeforeValidator(_eval_int),
    AfterValidator(_keep_name),
]
NonNeg = Annotated[
    int,
    Field(ge=0, le=INT64_MAX, json_schema_extra=_EXPR_SCHEMA),
    BeforeValidator(_eval_int),
    AfterValidator(_keep_name),
]
Copies = Annotated[
    int,
    Field(ge=1, le=4096, json_schema_extra=_EXPR_SCHEMA),
    BeforeValidator(_eval_int),
    AfterValidator(_keep_name),
]
"""How many copies a block call makes (`repeat:`): as many as a group may hold children."""
Seed = Annotated[
    int,
    Field(ge=0, le=2**64 - 1, json_schema_extra=_EXPR_SCHEMA),
    BeforeValidator(_eval_int),
    AfterValidator(_keep_name),
]
"""What torch.manual_seed takes: 0 to 2**64 - 1."""


def _name_bool(value: Any, info: ValidationInfo) -> Any:
    """`causal` (a block argument or constant that is true or false) in a bool field, so every
    field may use the arguments; `not causal` too. Anything else is left for the strict check."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    negate = text.startswith("not ")
    name = text[4:].strip() if negate else text
    known = _constants(info).get(name)
    if isinstance(known, bool):
        return known != negate
    return value


_BOOL_SCHEMA = {"type": ["boolean", "string"], "description": "true, false, or a bool argument"}
Bool = Annotated[bool, Field(json_schema_extra=_BOOL_SCHEMA), BeforeValidator(_name_bool)]
"""true or false, or the name of a bool block argument or constant (`is_causal: causal`)."""
Symbol = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
"""A symbolic size such as `N` or `L`, bound when the model runs."""


def _size_expression(value: str) -> str:
    from graphspec.core.shapes import Dim, DimError

    try:
        dim = Dim.parse(value)
    except DimError as err:
        raise PydanticCustomError(
            "expr",
            "{message}",
            {
                "message": str(err),
                "code": "E-EXPR",
                "offset": 0,
                "hint": "write a size such as 8*h or 2*H + 1",
            },
        ) from None
    if dim.is_static:
        raise PydanticCustomError(
            "quoted_number", "a number was given as a string", {"want": "an integer"}
        )
    return value


SymbolicSize = Annotated[
    str, Field(max_length=200, pattern=r"^[A-Za-z0-9_+\-*/() ]+$"), AfterValidator(_size_expression)
]
"""A size written as arithmetic over symbols (`8*h`: a height divisible by 8)."""
Pair = Annotated[list[Size], Field(min_length=2, max_length=2)]
SizeOrPair = Size | Pair
NonNegOrPair = NonNeg | Annotated[list[NonNeg], Field(min_length=2, max_length=2)]
Float = Annotated[
    float,
    Field(json_schema_extra=_FLOAT_SCHEMA),
    BeforeValidator(_eval_number),
    AfterValidator(_keep_name),
]
PosFloat = Annotated[
    float,
    Field(gt=0, json_schema_extra=_FLOAT_SCHEMA),
    BeforeValidator(_eval_number),
    AfterValidator(_keep_name),
]
NonNegFloat = Annotated[
    float,
    Field(ge=0, json_schema_extra=_FLOAT_SCHEMA),
    BeforeValidator(_eval_number),
    AfterValidator(_keep_name),
]
Probability = Annotated[
    float,
    Field(ge=0, le=1, json_schema_extra=_FLOAT_SCHEMA),
    BeforeValidator(_eval_number),
    AfterValidator(_keep_name),
]
Fraction = Annotated[
    float,
    Field(gt=0, lt=1, json_schema_extra=_FLOAT_SCHEMA),
    BeforeValidator(_eval_number),
    AfterValidator(_keep_name),
]
"""A part of a whole, strictly between 0 and 1 (a validation split)."""


def pair(value: int | list[int]) -> tuple[int, int]:
    """torch's `_pair`: 5 -> (5, 5), [3, 5] -> (3, 5)."""
    if isinstance(value, int):
        return (value, value)
    return (value[0], value[1])
