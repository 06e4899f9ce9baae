"""The schema editors read: committed at docs/schema.json, current, named by every shipped spec's
modeline, and documented where yaml-language-server's hover looks (see
graphspec/language/schema_docs.py).

`python tests/language/test_schema_file.py` rewrites docs/schema.json after the spec language
changes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "docs" / "schema.json"
MODELINE = "# yaml-language-server: $schema="
GENERIC = ("an integer or an expression", "a number or an expression")


def generated() -> str:
    # A fresh interpreter: field docstrings are read only when GRAPHSPEC_FIELD_DOCS is set before
    # the models are built, which `graphspec schema` does.
    proc = subprocess.run(
        [sys.executable, "-m", "graphspec", "schema"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return proc.stdout


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA.read_text())


def shipped_specs() -> list[Path]:
    specs = sorted((ROOT / "specs").rglob("*.yaml"))
    assert len(specs) >= 6
    return specs


def test_the_committed_schema_is_current():
    assert SCHEMA.read_text() == generated(), "run `python tests/language/test_schema_file.py`"


@pytest.mark.parametrize("spec", shipped_specs(), ids=lambda p: p.name)
def test_every_shipped_spec_names_the_schema_and_is_valid_under_it(spec, schema):
    # the last line, so that adding it moved no line of the spec (errors and comments cite them)
    last = spec.read_text().splitlines()[-1]
    assert last.startswith(MODELINE), spec
    assert (spec.parent / last.removeprefix(MODELINE)).resolve() == SCHEMA
    validator = jsonschema.Draft202012Validator(schema)
    assert [e.message for e in validator.iter_errors(yaml.safe_load(spec.read_text()))] == []


def test_every_op_and_field_has_its_own_description(schema):
    from graphspec.language.schema_docs import first_paragraph
    from graphspec.ops import OPS

    defs = schema["$defs"]
    for name, cls in OPS.items():
        op = defs[name]["properties"]["op"]
        assert op["title"] == name and op["description"] == first_paragraph(cls.__doc__), name
        for key, prop in defs[name]["properties"].items():
            text = prop.get("description", "")
            assert text and not text.startswith(GENERIC), (name, key)
            # the members hover lands on carry the field's meaning too
            for member in prop.get("anyOf", []):
                if "description" in member:
                    assert member["description"].startswith(text.split(" (")[0]), (name, key)


def test_a_layer_that_is_no_layer_is_told_every_op_name(schema):
    layer = schema["$defs"]["Layer"]
    bare = next(form for form in layer["anyOf"] if "enum" in form)
    assert len(bare["enumDescriptions"]) == len(bare["enum"])
    from graphspec.ops import OPS

    assert all(name in bare["errorMessage"] for name in OPS)
    assert "Conv2d" not in bare["enum"]  # Conv2d needs fields, so it is no bare name
    lenet = yaml.safe_load((ROOT / "specs" / "lenet.yaml").read_text())
    lenet["model"]["layers"]["act4"] = ["relu"]
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors(lenet)), "a list is not a layer"


if __name__ == "__main__":
    SCHEMA.write_text(generated())
    print(f"wrote {SCHEMA.relative_to(ROOT)}", file=sys.stderr)
