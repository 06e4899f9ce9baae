"""The command line's contracts: output formats, exit codes, files written, and bugs kept as bugs.

Most cases call `cli.main(argv)` in-process (fast); a few run `python -m graphspec` or plain
`python` as a user would.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema
import pytest
import yaml

import graphspec
from graphspec import cli
from graphspec.data import transforms
from graphspec.language import recipe as spec_train
from graphspec.ops import OPS

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
LENET = str(ROOT / "specs" / "lenet.yaml")
CIFAR = str(ROOT / "specs" / "cifar.yaml")
REGRESSION = str(ROOT / "specs" / "regression.yaml")


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- validate ---------------------------------------------------------------------------------


def test_validate_ok_lines(capsys):
    code, out, err = run_main(capsys, "validate", LENET, CIFAR, REGRESSION)
    assert code == 0 and err == ""
    assert out.splitlines() == [
        f"ok: {LENET}: 13 nodes, 61,706 parameters, output (N, 10)",
        f"ok: {CIFAR}: 13 nodes, 62,006 parameters, output (N, 10)",
        f"ok: {REGRESSION}: 4 nodes, 31 parameters, output (N, 1)",
    ]


def test_validate_reports_every_file(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\nmodel:\n  inputs: {x: [N, 4]}\n  layers:\n    fc: {op: Linear}\n")
    code, out, err = run_main(capsys, "validate", str(bad), LENET)
    assert code == 2
    assert out.startswith(f"ok: {LENET}: ")  # a bad file does not stop the others
    assert err.splitlines() == [
        f"{bad}:5:9: error[E-MISSING]: missing required field 'out_features' (node 'fc')"
    ]


def test_python_dash_m_works(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "graphspec", "validate", LENET],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"ok: {LENET}: 13 nodes")


# -- summary ----------------------------------------------------------------------------------


def test_summary_table(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    code, out, err = run_main(capsys, "summary", CIFAR)
    assert code == 0 and err == ""
    shapes = out.split("Total params:")[0]  # the shape table; the cost table follows it
    rows = {
        line.split("│")[1].strip(): line for line in shapes.splitlines() if line.count("│") == 6
    }
    assert list(rows)[:3] == ["x", "conv1", "act1"] and len(rows) == 13
    assert "(N, 16, 5, 5)" in rows["pool2"] and "shares pool" in rows["pool2"]
    assert "48,120" in rows["fc1"]
    assert "Total params: 62,006 (0.24 MiB in float32)" in out
    assert "Outputs: fc3 (N, 10)" in out


def test_summary_json(capsys):
    code, out, _ = run_main(capsys, "summary", "--json", REGRESSION)
    assert code == 0
    report = json.loads(out)
    assert report["name"] == "regression" and report["class"] == "Net"
    assert [(n["name"], n["op"], n["shape"], n["params"]) for n in report["nodes"]] == [
        ("x", "input", ["N", "1"], 0),
        ("hidden", "Linear", ["N", "10"], 20),
        ("act", "relu", ["N", "10"], 0),
        ("predict", "Linear", ["N", "1"], 11),
    ]
    assert report["total_params"] == 31 and report["outputs"] == {"predict": ["N", "1"]}
    assert report["nodes"][1]["line"] == 9  # hidden: on line 9 of specs/regression.yaml


# -- emit -------------------------------------------------------------------------------------


def test_emit_to_stdout_and_file_agree(capsys, tmp_path):
    _, printed, _ = run_main(capsys, "emit", CIFAR)
    target = tmp_path / "net.py"
    code, out, err = run_main(capsys, "emit", CIFAR, "-o", str(target))
    assert code == 0 and out == ""
    assert err.strip() == f"wrote {target}"
    assert target.read_text() == printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.py"]  # no temp file left


def test_emitted_file_imports_only_torch(capsys, tmp_path):
    target = tmp_path / "lenet_model.py"
    assert run_main(capsys, "emit", LENET, "-o", str(target))[0] == 0
    imported = set()
    for node in ast.walk(ast.parse(target.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported and all(name.split(".")[0] == "torch" for name in imported), imported
    script = (
        "import sys, torch\nimport lenet_model\n"
        "net = lenet_model.Net()\nprint(tuple(net(torch.zeros(2, 1, 32, 32)).shape))\n"
        "print(sum(p.numel() for p in net.parameters()))\n"
        "print('graphspec' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["(2,", "10)", "61706", "False"]


def test_emit_of_a_bad_spec_writes_nothing(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\nmodel:\n  inputs: {x: [N, 4]}\n  layers:\n    fc: {op: Lineer}\n")
    code, out, err = run_main(capsys, "emit", str(bad), "-o", str(tmp_path / "out.py"))
    assert code == 2 and out == ""
    assert "error[E-OP]" in err
    assert [p.name for p in tmp_path.iterdir()] == ["bad.yaml"]


# -- schema -----------------------------------------------------------------------------------

# JSON Schema 2020-12 keywords (plus annotations): anything else would be silently ignored by an
# editor, e.g. pydantic's internal `gt`/`ge`, which would drop the bounds.
KEYWORDS = {
    "$schema", "$defs", "$ref", "$id", "$comment", "title", "description", "default", "examples",
    "type", "enum", "const", "properties", "additionalProperties", "required", "items",
    "prefixItems", "minItems", "maxItems", "uniqueItems", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern",
    "format", "anyOf", "oneOf", "allOf", "not", "discriminator", "propertyNames",
    "minProperties", "maxProperties", "deprecated", "readOnly", "writeOnly", "patternProperties",
}  # fmt: skip
KEYWORDS |= {"enumDescriptions", "errorMessage"}
"""VS Code's schema annotations, which yaml-language-server shows (schema_docs.py)."""


def _walk_schema(node, defs: dict, seen: set) -> None:
    if isinstance(node, list):
        for item in node:
            _walk_schema(item, defs, seen)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        assert key in KEYWORDS, f"not a JSON Schema keyword: {key!r} in {node}"
        if key in ("properties", "$defs", "patternProperties"):
            for sub in value.values():
                _walk_schema(sub, defs, seen)
        elif key == "$ref":
            name = value.removeprefix("#/$defs/")
            assert name in defs, f"dangling $ref {value}"
            seen.add(name)
        elif key not in ("default", "examples", "const", "enum", "discriminator", "required"):
            _walk_schema(value, defs, seen)


def test_schema_is_json_schema_with_every_op(capsys):
    code, out, _ = run_main(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object" and {"name", "model"} <= set(schema["required"])
    assert schema["additionalProperties"] is False
    seen: set[str] = set()
    _walk_schema(schema, schema["$defs"], seen)
    consts = re.findall(r'"const": "([^"]+)"', out)
    assert set(OPS) <= set(consts), set(OPS) - set(consts)


def test_schema_keeps_numeric_bounds(capsys):
    schema = json.loads(run_main(capsys, "schema")[1])
    linear = schema["$defs"]["Linear"]["properties"]["out_features"]
    assert linear["minimum"] == 1 and "string" in linear["type"]  # expressions are allowed
    sgd_lr = schema["$defs"]["SGD"]["properties"]["lr"]
    assert sgd_lr["exclusiveMinimum"] == 0


# -- version and internal errors --------------------------------------------------------------


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"graphspec {graphspec.__version__}"


def test_internal_error_is_exit_1_with_a_crash_log(capsys, monkeypatch, tmp_path):
    def broken(path):
        raise RuntimeError("boom: a deliberate bug")

    monkeypatch.delenv("GRAPHSPEC_DEBUG", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # crash logs land here
    monkeypatch.setattr("graphspec.compiler.pipeline.compile_file", broken)
    code, out, err = run_main(capsys, "validate", LENET)
    assert code == 1 and out == ""
    assert "Traceback" not in err
    match = re.fullmatch(r"graphspec: internal error \(a bug\); details in (\S+)\n", err)
    assert match, err
    log = Path(match.group(1))
    assert log.parent == tmp_path and log.name.startswith("graphspec-crash-")
    text = log.read_text()
    assert text.startswith(f"graphspec validate {LENET}\n")
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: boom: a deliberate bug" in text


def test_debug_env_shows_the_traceback(monkeypatch):
    monkeypatch.setenv("GRAPHSPEC_DEBUG", "1")
    monkeypatch.setattr("graphspec.compiler.pipeline.compile_file", lambda path: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cli.main(["validate", LENET])


def test_user_errors_never_reach_the_crash_path(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    code, _, err = run_main(capsys, "summary", str(tmp_path / "missing.yaml"))
    assert code == 2 and "error[E-IO]" in err
    assert list(tmp_path.iterdir()) == []


def test_schema_types_every_layer_as_the_op_union(capsys):
    """Editors check layers too: `layers` values point at the union of every op's model."""
    schema = json.loads(run_main(capsys, "schema")[1])
    for body in ("Block", "Model"):
        layers = schema["$defs"][body]["properties"]["layers"]["patternProperties"]
        assert list(layers.values()) == [{"$ref": "#/$defs/Layer"}]
    bare, union = schema["$defs"]["Layer"]["anyOf"]  # `act: relu`, or a mapping
    members = {m["$ref"].removeprefix("#/$defs/") for m in union["oneOf"]}
    assert set(OPS) | {"Share", "Call"} <= members
    assert {"relu", "Flatten", "contiguous"} <= set(bare["enum"])
    assert not {"Linear", "Conv2d", "view", "share", "block"} & set(bare["enum"])  # need fields


def test_schema_spells_out_every_table_union(capsys):
    """Losses, optimizers, schedulers and transforms are validated lazily (`LazyUnion`); the
    schema editors read still lists every row, and the spec's fields point at those unions."""
    schema = json.loads(run_main(capsys, "schema")[1])
    defs = schema["$defs"]
    tables = {
        "Loss": spec_train.LOSSES,
        "Optimizer": spec_train.OPTIMIZERS,
        "Scheduler": spec_train.SCHEDULERS,
        "Transform": transforms.TRANSFORMS,
    }
    for name, table in tables.items():
        union = defs[name]
        members = [m for m in union["anyOf"] if "oneOf" in m] or [union]
        refs = {r["$ref"].removeprefix("#/$defs/") for r in members[0]["oneOf"]}
        assert refs == set(table), name
    assert {"$ref": "#/$defs/Optimizer"} in schema["properties"]["optimizer"]["anyOf"]
    assert {"$ref": "#/$defs/Loss"} in schema["properties"]["loss"]["anyOf"]
    assert "x-graphspec-union" not in json.dumps(schema)


def _schema_errors(schema: dict, text: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [e.message for e in validator.iter_errors(yaml.safe_load(text))]


def test_every_shipped_spec_is_valid_under_the_schema(capsys):
    """What an editor's YAML language server checks, shorthands included (`relu`, `MSELoss`,
    `x: [N, 1]`, `init: zeros`, `{Normalize: {...}}`); a typo is still an error there."""
    schema = json.loads(run_main(capsys, "schema")[1])
    jsonschema.Draft202012Validator.check_schema(schema)
    specs = sorted(SPECS.glob("*.yaml")) + sorted((ROOT / "bench" / "specs").glob("*.yaml"))
    assert len(specs) >= 7
    for spec in specs:
        assert _schema_errors(schema, spec.read_text()) == [], spec.name
    lenet = (SPECS / "lenet.yaml").read_text()
    for good, bad in [
        ("act1: relu", "act1: rellu"),
        ("loss: MSELoss", "loss: MSELos"),
        ("op: SGD, lr:", "op: SGD, lrr:"),
        ("x: [N, 1, 32, 32]", "x: {shape: [N, 1, 32, 32], dtype: float128}"),
    ]:
        assert good in lenet
        assert _schema_errors(schema, lenet.replace(good, bad, 1)), bad
    cifar = (SPECS / "cifar.yaml").read_text()
    assert "Normalize: {mean:" in cifar
    assert _schema_errors(schema, cifar.replace("Normalize: {mean:", "Normalize: {meen:"))
    assert _schema_errors(schema, cifar.replace("Normalize: {mean:", "Normalise: {mean:"))


def test_a_command_imports_no_other_commands_module():
    """`graphspec validate` builds its own arguments only (start-up); `--help` still lists all."""
    probe = (
        "import sys; from graphspec.cli import main; main(['validate', 'specs/lenet.yaml']); "
        "print(sorted(m for m in sys.modules if m.endswith('_cmd')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.splitlines()[-1] == "['graphspec.cli.validate_cmd']", done.stderr
    helped = subprocess.run(
        [sys.executable, "-m", "graphspec", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert all(name in helped.stdout for name in ("validate", "summary", "export", "runs"))
