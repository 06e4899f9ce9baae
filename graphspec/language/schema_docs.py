"""Descriptions in `graphspec schema` where an editor shows them.

yaml-language-server's hover takes the title and description of the innermost schema a value
matches: an op's `op` field (a `const`) and a size field's inner `{integer | expression}` member,
whose generic "an integer or an expression" hid the field's own docstring. So:
- each op's `op` property carries the op's name and docstring;
- a property's own description goes down into its union members, with the member's generic one
  after it ("Channels of the output. (an integer or an expression)");
- the bare names a layer may be written as (`act1: relu`) carry each op's first line, and a value
  that is no layer at all (a list) is told every op's name, not only the bare ones.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from typing import Any

from pydantic import BaseModel

from graphspec.core.fields import StrictModel
from graphspec.ops import OPS


def first_paragraph(doc: str | None) -> str:
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def document(schema: dict[str, Any], layer: str = "Layer") -> dict[str, Any]:
    defs = schema["$defs"]
    for name in OPS:
        if name in defs:
            _document_op(name, defs[name])
    models = _models()
    for key, node in [("Spec", schema), *defs.items()]:
        _own_descriptions(node, models.get(key))
        for prop in node.get("properties", {}).values():
            _push_down(prop, prop.get("description"))
    _document_bare_names(defs.get(layer, {}))
    return schema


def _models() -> dict[str, type[BaseModel]]:
    """Every spec model by class name, as pydantic names them under `$defs`."""
    found: dict[str, type[BaseModel]] = {}
    todo: list[type[BaseModel]] = [StrictModel]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.__name__, cls)
        todo += cls.__subclasses__()
    return found


def _own_descriptions(node: dict[str, Any], model: type[BaseModel] | None) -> None:
    """A field's docstring before the generic text its type carries (`Size`'s "an integer or
    an expression"), which pydantic lets win at the same level."""
    if model is None:
        return
    by_alias = {(f.alias or k): f for k, f in model.model_fields.items()}
    for key, prop in node.get("properties", {}).items():
        field = by_alias.get(key)
        own = field.description if field is not None else None
        own = own or field_docs(model).get(field_name(model, key))
        have = prop.get("description")
        if own and have != own:
            prop["description"] = f"{own} ({have})" if have else own


def field_name(model: type[BaseModel], key: str) -> str:
    for name, field in model.model_fields.items():
        if (field.alias or name) == key:
            return name
    return key


@functools.cache
def field_docs(model: type[BaseModel]) -> dict[str, str]:
    """Each field's docstring (the string under its line), read from the class's source with
    `ast`: what pydantic's `use_attribute_docstrings` does, but only when a schema is made, so
    validating a spec never pays for parsing graphspec's source."""
    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        except (OSError, TypeError, SyntaxError):  # made by create_model: no source
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for stmt, after in zip(body, body[1:], strict=False):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[stmt.target.id] = inspect.cleandoc(after.value.value)
    return docs


def _document_op(name: str, model: dict[str, Any]) -> None:
    doc = first_paragraph(OPS[name].__doc__)
    model["description"] = doc
    model["properties"]["op"] |= {"title": name, "description": doc}


def _push_down(node: dict[str, Any], description: str | None) -> None:
    """Give each member of a union (and each list's item type) the property's description."""
    if not description:
        return
    for key in ("anyOf", "oneOf"):
        for member in node.get(key, []):
            if "$ref" in member or member.get("type") == "null":
                continue
            generic = member.get("description")
            if generic and generic != description and not generic.startswith(description):
                member["description"] = f"{description} ({generic})"
            else:
                member["description"] = description
            _push_down(member, description)
    if isinstance(node.get("items"), dict) and "$ref" not in node["items"]:
        _push_down({"anyOf": [node["items"]]}, description)


def _document_bare_names(union: dict[str, Any]) -> None:
    for form in union.get("anyOf", []):
        if "enum" in form:
            form["enumDescriptions"] = [first_paragraph(OPS[n].__doc__) for n in form["enum"]]
            form["description"] = "An op whose fields all have defaults, by its name alone."
            form["errorMessage"] = (
                "a layer is {op: NAME, ...fields}, or a bare NAME for an op whose fields all "
                "have defaults; NAME is one of: " + ", ".join(OPS)
            )
