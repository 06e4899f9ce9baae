"""BAD-INPUTS rows 50-52, 57 and 58, and the index: every row of the table names its tests.

Row 50, names the generated code can't hold: E-NAME at validation, with the reason, for every
name in every place (node, input, param, class, block), checked against the lists in
graphspec/core/names.py, which a test here keeps in step with torch and with the generated code.
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
    ("def", "keyword"), ("None", "keyword"), ("class", "keyword"), ("match", "keyword"),
    ("nn", "generated code uses"), ("F", "generated code uses"), ("torch", "generated code uses"),
    ("self", "generated code uses"), ("super", "generated code uses"),
    ("parameters", "nn.Module"), ("to", "nn.Module"), ("train", "nn.Module"),
    ("eval", "nn.Module"), ("apply", "nn.Module"), ("state_dict", "nn.Module"),
    ("forward", "nn.Module"), ("training", "nn.Module"), ("zero_grad", "nn.Module"),
    # names check_source refuses in any generated text (a soak of 100,000 mutants found `os`)
    ("os", "may not hold"), ("sys", "may not hold"), ("getattr", "may not hold"),
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
    import torch

    public = {n for n in dir(torch.nn.Module) if not n.startswith("_")}
    assert public | {"training"} == names.NN_MODULE_ATTRIBUTES
    assert hasattr(torch.nn.Linear(1, 1), "training")


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
                assert all(names.node_name_problem(n) for n in used), (path, used)
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


def test_keywords_are_all_refused():
    for word in keyword.kwlist + keyword.softkwlist:
        if word.isidentifier() and word[0].isalpha():
            assert names.node_name_problem(word) and names.class_name_problem(word), word


def test_names_module_is_torch_free():
    assert "torch" not in sys.modules or True  # imported by other tests; the source is the check
    source = (ROOT / "graphspec" / "core" / "names.py").read_text()
    assert "import torch" not in source


# -- row 51: a list or mapping where a name is expected ------------------------------------------

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


# -- row 52: numbers beyond machine ranges --------------------------------------------------------


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


# -- row 57: control characters in values ---------------------------------------------------------


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


# -- row 58: the user's data files (the sources that read files today: ImageFolder) -------------


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


# -- the index: every row of BAD-INPUTS.md and where it is tested ---------------------------------

INDEX_TEXT = """
1: test_load.py::test_missing_file
1: test_load.py::test_directory
2: test_load.py::test_bad_encoding
2: test_load.py::test_nul_in_text
3: test_load.py::test_empty
3: test_load.py::test_empty_file
4: test_load.py::test_syntax_error_at_pyyaml_mark
5: test_load.py::test_tab_indentation
6: test_load.py::test_misindented_value_loads_as_null_with_key_position
7: test_load.py::test_multiple_documents
8: test_load.py::test_top_level_not_a_mapping
9: test_load.py::test_duplicate_nested_key
10: test_load.py::test_explicit_tags_are_refused
10: test_load.py::test_python_tag_does_not_run
11: test_load.py::test_anchors_aliases_merge_keys
11: test_load.py::test_billion_laughs_stops_at_the_first_anchor
12: test_load.py::test_depth_over_limit
12: test_load.py::test_ten_thousand_brackets_fail_cleanly
13: test_load.py::test_oversized_file_is_refused_before_reading
13: test_load.py::test_node_count_over_limit
14: test_load.py::test_huge_integer
15: test_load.py::test_yaml_1_2_core_typing
16: test_load.py::test_non_string_keys
17: test_bad_inputs.py::test_bad_input
18: test_bad_inputs.py::test_bad_input
19: test_bad_inputs.py::test_bad_input
20: test_bad_inputs.py::test_bad_input
21: test_bad_inputs.py::test_bad_input
22: test_bad_inputs.py::test_bad_input
23: test_bad_inputs.py::test_bad_input
23: test_budget.py::test_params_case_names_the_layer
24: test_bad_inputs.py::test_bad_input
25: test_bad_inputs.py::test_bad_input
26: test_bad_inputs.py::test_bad_input
27: test_bad_inputs.py::test_bad_input
28: test_bad_inputs.py::test_bad_input
29: test_bad_inputs.py::test_bad_input
30: test_bad_inputs.py::test_bad_input
31: test_bad_inputs.py::test_bad_input
32: test_bad_inputs.py::test_bad_input
33: test_bad_inputs.py::test_bad_input
34: test_bad_inputs.py::test_bad_input
35: test_bad_inputs.py::test_bad_input
36: test_bad_inputs.py::test_bad_input
37: test_bad_inputs.py::test_bad_input
38: test_bad_inputs.py::test_bad_input
39: test_bad_inputs.py::test_bad_input
40: test_run_inputs.py::test_run_name_path_traversal
40: test_run_inputs.py::test_symlinked_run_folder_is_refused
41: test_run_inputs.py::test_out_folder_exists
41: test_run_inputs.py::test_locked_run_folder
42: test_run_inputs.py::test_too_few_rows_for_one_batch
42: test_run_inputs.py::test_missing_dataset_without_download
43: test_run_inputs.py::test_sample_shape_differs_from_model_input
43: test_run_inputs.py::test_labels_out_of_range
44: test_run_inputs.py::test_truncated_checkpoint
44: test_run_inputs.py::test_pickle_payload_is_never_executed
44: test_faults.py::test_a_flipped_bit_is_e_ckpt_and_fallback_resumes
45: test_run_inputs.py::test_resume_with_changed_spec
46: test_run_resume.py::test_nan_loss_exits_3_keeping_last_finite_checkpoint
47: test_run_resume.py::test_sigint_checkpoints_and_exits_130
47: test_run_resume.py::test_sigterm_exits_143_after_checkpoint
48: test_run_resume.py::test_sigkill_mid_epoch_then_resume_is_bit_exact
48: test_faults.py::test_sigkill_while_a_checkpoint_is_written
49: test_injection.py::test_a_path_holding_python_never_runs
49: test_sentinels.py::test_no_channel_runs_code
50: test_bad_inputs_names.py::test_node_input_param_names
50: test_bad_inputs_names.py::test_class_and_block_names
51: test_bad_inputs_names.py::test_a_list_or_mapping_as_a_name_is_e_type
51: test_bad_inputs_names.py::test_the_same_through_set
52: test_bad_inputs_names.py::test_beyond_int64_is_e_range
53: test_budget.py::test_beyond_the_budget_is_e_budget_and_writes_nothing
54: test_faults.py::test_output_into_a_missing_folder_is_e_io
54: test_faults.py::test_read_only_runs_dir_is_e_io
54: test_faults.py::test_file_size_limit_at_a_checkpoint_keeps_the_last_good_one
54: test_faults.py::test_crash_log_at_one_kilobyte_is_one_line
55: test_load.py::test_fifo_is_refused_without_blocking
55: test_faults.py::test_a_fifo_checkpoint_does_not_hang
55: test_faults.py::test_a_symlinked_checkpoint_is_refused
56: test_faults.py::test_a_flipped_bit_is_e_ckpt_and_fallback_resumes
56: test_faults.py::test_a_corrupt_meta_json_is_an_error
57: test_bad_inputs_names.py::test_control_characters_stay_on_one_line
57: test_injection.py::test_a_newline_inside_a_value_stays_on_one_error_line
58: test_run_inputs.py::test_missing_image_folder
58: test_bad_inputs_names.py::test_an_image_folder_without_images
"""
"""One line per (row, test): FILE::FUNCTION under tests/."""


def index() -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for line in INDEX_TEXT.strip().splitlines():
        row, ref = line.split(": ")
        found.setdefault(int(row), []).append(ref)
    return found


def test_every_row_has_a_test():
    table = Path("/work/shared/BAD-INPUTS.md")
    rows = range(1, 59)
    if table.exists():  # the shared copy, when at hand: its row count is the one to cover
        rows = [int(m) for m in re.findall(r"^\| (\d+) \|", table.read_text(), re.M)]
    table_index = index()
    missing = [row for row in rows if row not in table_index]
    assert not missing, f"BAD-INPUTS rows without a test: {missing}"
    for row, tests in table_index.items():
        for ref in tests:
            file, name = ref.split("::")
            source = (ROOT / "tests" / file).read_text()
            assert re.search(rf"^def {name}\(", source, re.M), f"row {row}: {ref} does not exist"


def test_every_name_check_source_refuses_is_refused_at_validation():
    """A spec name the source check would refuse must be E-NAME, never an internal error."""
    from graphspec.core.codetext import BANNED_NAMES
    from graphspec.core.names import class_name_problem, node_name_problem

    assert BANNED_NAMES
    for name in BANNED_NAMES:
        assert node_name_problem(name) and class_name_problem(name), name
    assert node_name_problem("conv1") is None  # negative control: a plain name passes
