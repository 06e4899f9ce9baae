"""Names and values a spec cannot use, and the index of every kind of bad input and its tests.

Names the generated code can't hold: E-NAME at validation, with the reason, for every name in
every place (node, input, param, class, block), checked against the lists in
graphspec/core/names.py, which a test here keeps in step with torch and with the generated code.
A list or a mapping where a name goes, numbers beyond int64 and control characters in values are
located errors too. The index is docs/bad-inputs.md: every kind there names tests that exist.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
import sys
from pathlib import Path

import pytest
from helpers.badinput import listing, located

from graphspec.cli import main
from graphspec.core import names

ROOT = Path(__file__).resolve().parents[2]
SPEC = """\
name: t
model:
  class: {cls}
  inputs:
    {inp}: [N, 4]
  params:
    {par}: {{shape: [4]}}
  layers:
    {node}: {{op: Linear, out_features: 4}}
    out: {{op: add, in: [{node}, {par}]}}
blocks:
  {block}:
    inputs: {{y: [N, 4]}}
    layers: {{z: relu}}
"""
FINE = dict(cls="Net", inp="x", par="bias_vec", node="fc", block="Act")
LINE = {"cls": 3, "inp": 5, "par": 7, "node": 9, "block": 12}


def validate(tmp_path, monkeypatch, capsys, text: str) -> tuple[int, str]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(text)
    before = listing(tmp_path)
    code = main(["validate", "spec.yaml"])
    err = capsys.readouterr().err
    assert "Traceback" not in err and listing(tmp_path) == before
    return code, err


def test_fine_names_validate(tmp_path, monkeypatch, capsys):
    """Negative control for the cases below: the same spec with ordinary names is valid."""
    code, err = validate(tmp_path, monkeypatch, capsys, SPEC.format(**FINE))
    assert code == 0, err


NODE_CASES = [
    ("parameters", "nn.Module"), ("to", "nn.Module"), ("train", "nn.Module"),
    ("eval", "nn.Module"), ("apply", "nn.Module"), ("state_dict", "nn.Module"),
    ("forward", "nn.Module"), ("training", "nn.Module"), ("zero_grad", "nn.Module"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "reason"), NODE_CASES)
@pytest.mark.parametrize("where", ["node", "inp", "par"])
def test_node_input_param_names(where, name, reason, tmp_path, monkeypatch, capsys):
    text = SPEC.format(**{**FINE, where: name})
    code, err = validate(tmp_path, monkeypatch, capsys, text)
    assert code == 2, err
    found = located(err)
    assert ("spec.yaml", "E-NAME", LINE[where], 5 if where != "par" else 5) in [
        (f, c, ln, col) for f, c, ln, col in found
    ], err
    assert reason in err and f"'{name}'" in err


# Names PyTorch takes as state_dict key parts that the generated code uses itself, or that are
# keywords, or that check_source refuses as bare names (a soak of 100,000 mutants found `os`):
# each is the user's key, and the code's locals and attributes are named apart from it.
ACCEPTED = [
    "def", "None", "class", "match", "nn", "F", "torch", "self", "super", "layer", "input",
    "os", "sys", "getattr", "eval_", "block1-0", "0", "12",
]  # fmt: skip


@pytest.mark.parametrize("name", ACCEPTED)
@pytest.mark.parametrize("where", ["node", "inp", "par"])
def test_any_name_torch_takes_is_the_key(where, name, tmp_path, monkeypatch, capsys):
    """The node, input or param keeps its name as its state_dict key, and the module computes
    what the same spec with plain names computes."""
    import torch

    from graphspec.compiler.pipeline import compile_file

    text = SPEC.format(**{**FINE, where: f"'{name}'"})
    code, err = validate(tmp_path, monkeypatch, capsys, text)
    assert code == 0, err
    model = compile_file(str(tmp_path / "spec.yaml")).build()
    keys = set(model.state_dict())
    want = {"node": f"{name}.weight", "par": name, "inp": "fc.weight"}[where]
    assert want in keys, keys
    (tmp_path / "plain.yaml").write_text(SPEC.format(**FINE))
    reference = compile_file(str(tmp_path / "plain.yaml")).build()

    def plain_key(key: str) -> str:
        head, dot, rest = key.partition(".")
        return (FINE[where] if head == name and where != "inp" else head) + dot + rest

    reference.load_state_dict({plain_key(k): v for k, v in model.state_dict().items()})
    x = torch.randn(3, 4)
    torch.testing.assert_close(model(x), reference(x))


CLASS_CASES = [
    ("def", "keyword"), ("None", "keyword"), ("nn", "generated code uses"),
    ("main", "training script use"), ("DEVICE", "training script use"),
    ("print", "training script use"), ("GradientDescent", "training script use"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "reason"), CLASS_CASES)
@pytest.mark.parametrize("where", ["cls", "block"])
def test_class_and_block_names(where, name, reason, tmp_path, monkeypatch, capsys):
    code, err = validate(tmp_path, monkeypatch, capsys, SPEC.format(**{**FINE, where: name}))
    assert code == 2, err
    [(file, kind, line, _)] = located(err)
    assert (kind, line) == ("E-NAME", LINE[where]) and reason in err


def test_module_attribute_list_matches_torch():
    """core/names.py is torch-free; here it is held to the installed torch."""
    import subprocess
    import sys

    # A fresh process: a library imported earlier in this one (transformers) may have added
    # its own attribute to nn.Module (`smart_apply`).
    listed = subprocess.run(
        [sys.executable, "-c", "import torch; print(*dir(torch.nn.Module))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    public = {n for n in listed if not n.startswith("_")}
    assert public | {"training"} == names.NN_MODULE_ATTRIBUTES


def _names_used(tree: ast.AST) -> set[str]:
    found = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            found.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.ClassDef)):
            found.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            found |= {(a.asname or a.name).split(".")[0] for a in n.names}
    return found


def test_every_name_the_generated_code_uses_is_reserved():
    """A spec's names only share a namespace with the module's `forward` (node names) and with
    the file's globals (class names): every other name there must be refused for them."""
    from graphspec.compiler.pipeline import compile_file
    from graphspec.program.script import generate

    for path in sorted((ROOT / "specs").rglob("*.yaml")):
        c = compile_file(str(path))
        own = {t.name for _, t, _ in c.graph.walk()} | {c.graph.class_name} | set(c.spec.blocks)
        own |= set(c.spec.constants)  # module-level values the sizes are written over
        module = ast.parse(c.source)
        # the spec's own classes, blocks' per-call specializations included (ConvStage_C32_...)
        own |= {n.name for n in module.body if isinstance(n, ast.ClassDef)}
        for fn in (n for n in ast.walk(module) if isinstance(n, ast.FunctionDef)):
            if fn.name == "forward":
                used = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)} - own
                used = {n for n in used if not re.fullmatch(r".+_[a-z]+", n)}  # node_port locals
                assert all(names.reserved_in_forward(n) for n in used), (path, used)
        if c.spec.data is not None:
            script = ast.parse(generate(c))
            top = set()
            for stmt in script.body:
                if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
                    top.add(stmt.name)
                elif isinstance(stmt, ast.Assign):
                    top |= {t.id for t in stmt.targets if isinstance(t, ast.Name)}
                elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                    top |= {(a.asname or a.name).split(".")[0] for a in stmt.names}
            used = (top | {n for n in _names_used(script) if hasattr(builtins, n)}) - own
            missing = {n for n in used if not names.class_name_problem(n) and n != "__name__"}
            assert not missing, (path, missing)


def test_keywords_are_refused_as_classes_and_renamed_as_nodes():
    for word in keyword.kwlist + keyword.softkwlist:
        if word.isidentifier() and word[0].isalpha():
            assert names.class_name_problem(word), word
            assert names.node_name_problem(word) is None
            # a soft keyword (`match`, `case`) is a fine local; a hard one is renamed
            assert names.reserved_in_forward(word) == keyword.iskeyword(word)


def test_names_module_is_torch_free():
    assert "torch" not in sys.modules or True  # imported by other tests; the source is the check
    source = (ROOT / "graphspec" / "core" / "names.py").read_text()
    assert "import torch" not in source


# -- name-not-string: a list or mapping where a name is expected -----------------------------------

TAG_BASE = """\
name: t
model:
  inputs:
    x: [N, 8]
  layers:
    fc: {op: Linear, out_features: 4}
data: {source: random, inputs: {x: [4, 8]}, target: [4, 4]}
loss: MSELoss
optimizer: SGD
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "col"),
    [
        ("{op: Linear,", "{op: [Linear],", 6, 14),
        ("{op: Linear,", "{op: {a: 1},", 6, 14),
        ("loss: MSELoss", "loss: {op: {a: 1}}", 8, 12),
        ("loss: MSELoss", "loss: {op: [MSELoss]}", 8, 12),
        ("optimizer: SGD", "optimizer: {op: [SGD]}", 9, 17),
    ],
)
def test_a_list_or_mapping_as_a_name_is_e_type(old, new, line, col, tmp_path, monkeypatch, capsys):
    code, err = validate(tmp_path, monkeypatch, capsys, TAG_BASE.replace(old, new))
    assert code == 2
    assert located(err) == [("spec.yaml", "E-TYPE", line, col)], err
    assert "'op' must be a string" in err


@pytest.mark.parametrize(
    "override", ["loss.op=[MSELoss]", "optimizer={op: {a: 1}}", "model.layers.fc.op=[Linear]"]
)
def test_the_same_through_set(override, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(TAG_BASE)
    code = main(["run", "spec.yaml", "--set", override])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    [(file, kind, _, _)] = located(err)
    assert kind == "E-TYPE" and file.startswith("--set ")
    assert not (tmp_path / "runs").exists()


# -- beyond-int64: numbers beyond machine ranges ---------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("optimizer: SGD", "optimizer: SGD\nseed: 99999999999999999999", "'seed' must be <="),
        ("optimizer: SGD", "optimizer: SGD\nseed: -1", "'seed' must be >="),
        ("out_features: 4", "out_features: 9999999999999999999", "9223372036854775807"),
        ("[4, 8]}", "[99999999999999999999, 8]}", "9223372036854775807"),
    ],
)
def test_beyond_int64_is_e_range(old, new, says, tmp_path, monkeypatch, capsys):
    code, err = validate(tmp_path, monkeypatch, capsys, TAG_BASE.replace(old, new))
    assert code == 2
    assert [k for _, k, _, _ in located(err)] == ["E-RANGE"] and says in err, err


def test_the_largest_seed_is_accepted(tmp_path, monkeypatch, capsys):
    """Negative control: 2**64 - 1 is a seed torch takes."""
    text = TAG_BASE.replace("optimizer: SGD", f"optimizer: SGD\nseed: {2**64 - 1}")
    code, err = validate(tmp_path, monkeypatch, capsys, text)
    assert code == 0, err


# -- control-chars: control characters in values ---------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("{op: Linear,", '{op: "Lin\\near",'),
        ("loss: MSELoss", 'loss: "MSE\\nLoss"'),
        ("optimizer: SGD", 'optimizer: "S\\rGD"'),
        ("optimizer: SGD", 'optimizer: SGD\ndevice: "cu\\u2028da"'),
        ("name: t", 'name: "t\\x1b[2J"'),
    ],
)
def test_control_characters_stay_on_one_line(old, new, tmp_path, monkeypatch, capsys):
    code, err = validate(tmp_path, monkeypatch, capsys, TAG_BASE.replace(old, new))
    assert code == 2
    lines = err.strip().splitlines()
    assert located(err) and len(lines) == len(located(err)), err  # one line per error
    assert "\x1b" not in err and "\r" not in err and "\u2028" not in err


# -- data-files: the user's image folders (ImageFolder) --------------------------------------------


def test_an_image_folder_without_images(tmp_path, monkeypatch, capsys):
    (tmp_path / "imgs" / "cat").mkdir(parents=True)
    text = (ROOT / "specs" / "cifar.yaml").read_text()
    import yaml

    data = yaml.safe_load(text)
    data["data"] = {"source": "ImageFolder", "root": str(tmp_path / "imgs"), "batch_size": 4}
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    code = main(["run", "spec.yaml", "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    [(file, kind, _, _)] = located(err)
    assert kind == "E-DATA" and str(tmp_path / "imgs") in err
    assert not (tmp_path / "runs").exists()


def test_a_file_where_the_image_folder_should_be(tmp_path, monkeypatch, capsys):
    (tmp_path / "imgs").write_text("not a folder")
    import yaml

    data = yaml.safe_load((ROOT / "specs" / "cifar.yaml").read_text())
    data["data"] = {"source": "ImageFolder", "root": str(tmp_path / "imgs"), "batch_size": 4}
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    code = main(["run", "spec.yaml", "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert [k for _, k, _, _ in located(err)] == ["E-DATA"]


# -- the index: every kind of bad input in docs/bad-inputs.md and the tests that show it -----------


def index(table: str) -> dict[str, list[str]]:
    """Each kind's name and its tests (FILE::FUNCTION under tests/, or FUNCTION[case id start])."""
    found: dict[str, list[str]] = {}
    for line in table.splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            found[cells[0].strip("`")] = re.findall(r"`([^`]+::[^`]+)`", cells[-1])
    return found


def check_index(table: str) -> None:
    kinds = index(table)
    assert len(kinds) >= 59 and "yaml-tag" in kinds  # the table was read, not an empty page
    assert not [kind for kind, tests in kinds.items() if not tests], "kinds without a test"
    for kind, tests in kinds.items():
        for ref in tests:
            file, name = ref.split("::")
            name, _, case = name.partition("[")
            source = (ROOT / "tests" / file).read_text()
            assert re.search(rf"^def {name}\(", source, re.M), f"{kind}: {ref} does not exist"
            if case:  # a parametrized test: a case whose id starts with the kind
                assert f'("{case.rstrip("]")}/' in source, f"{kind}: no case in {ref}"


TABLE = (ROOT / "docs" / "bad-inputs.md").read_text()


def test_every_kind_of_bad_input_names_tests_that_exist():
    check_index(TABLE)


@pytest.mark.parametrize(
    "edit",
    [
        ("::test_missing_file`", "::test_not_there`"),
        ("test_bad_input[cycle]", "test_bad_input[no-such-kind]"),
        ("`language/test_load.py::test_huge_integer`", "(none yet)"),
    ],
)
def test_the_index_check_fails_on_a_missing_test(edit):
    """Negative controls: a kind naming a test or case that is not there, or no test, is caught."""
    with pytest.raises(AssertionError):
        check_index(TABLE.replace(*edit))


def test_every_name_check_source_refuses_is_refused_or_renamed_at_validation():
    """A spec name the source check would refuse is E-NAME as a class, and a node of that name
    gets a local of another name: never an internal error."""
    from graphspec.core.codetext import BANNED_NAMES
    from graphspec.core.names import class_name_problem, reserved_in_forward

    assert BANNED_NAMES
    for name in BANNED_NAMES:
        assert reserved_in_forward(name) and class_name_problem(name), name
    assert not reserved_in_forward("conv1")  # negative control: a plain name stays
