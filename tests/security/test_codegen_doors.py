"""Outside text reaches generated code only as string constants and comments, through every door.

- The payload test: every string value of every shipped and zoo spec is replaced, one at a time,
  by a payload that breaks out of any quoting a generator might use; wherever the spec still
  validates, the model source and the `emit --train` script carry the payload only inside string
  tokens and comments, and never as a name (checked with `tokenize` and `ast`).
- check_source allows file reads only in make_data and file writes only in main().
- `--set data.inputs=[...]` and the bare `data.inputs=[...]` carry a data file's member name
  like the spec file does: the payload stays text (a sentinel file stays absent).
- On `--resume`, an edited spec.yaml is refused against the checkpoint's hash before any code
  generated from it (make_data) runs.
"""

from __future__ import annotations

import ast
import copy
import io
import json
import shutil
import tokenize
from pathlib import Path

import pytest
import yaml

import graphspec
from graphspec.core.codetext import UnsafeSource, check_source
from graphspec.core.errors import SpecError
from graphspec.program import script

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "specs" / "zoo").glob("*.yaml"))
MARK = "ZQXPAYLOAD"
# Each piece that could escape a string or a comment is followed by the mark, so whichever
# escape works, the mark lands in code as a name and the check below sees it.
PAYLOAD = f"{MARK}\"\"\"{MARK}'''{MARK}\n{MARK}()#{MARK}\\{MARK}\"{MARK}'{MARK}\r{MARK}"


def _string_spots(data, path=()):
    """Paths to every string value of a spec's data (mapping keys: see _key_spots)."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _string_spots(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _string_spots(value, (*path, i))
    elif isinstance(data, str):
        yield path


def _key_spots(data, path=()):
    """Paths to every mapping key (names of nodes, blocks, constants, fields)."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*path, ("key", key))
            yield from _key_spots(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _key_spots(value, (*path, i))


def _with_payload(data, spot):
    data = copy.deepcopy(data)
    parent = data
    for step in spot[:-1]:
        parent = parent[step]
    last = spot[-1]
    if isinstance(last, tuple):  # a key: renamed in place, order kept
        items = [(PAYLOAD if k == last[1] else k, v) for k, v in parent.items()]
        parent.clear()
        parent.update(items)
    else:
        parent[last] = PAYLOAD
    return data


def outside_text_in_code(source: str) -> list[str]:
    """Where the mark appears in the source other than inside a string token or a comment."""
    found = []
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    text_kinds = {tokenize.STRING, tokenize.COMMENT, getattr(tokenize, "FSTRING_MIDDLE", -1)}
    for tok in tokens:
        if MARK in tok.string and tok.type not in text_kinds:
            found.append(f"line {tok.start[0]}: {tokenize.tok_name[tok.type]} {tok.string!r}")
    for node in ast.walk(ast.parse(source)):
        for attr in ("id", "attr", "name", "arg", "module"):
            value = getattr(node, attr, None)
            if isinstance(value, str) and MARK in value:
                found.append(f"line {getattr(node, 'lineno', '?')}: {type(node).__name__}")
    return found


def _sources(data, spec_file: Path) -> list[tuple[str, tuple[str, ...]]]:
    """The model source and the training script of `data`, each with the imports its generator
    declares beyond the model's (check_source allows exactly those), or [] where the spec
    refuses it."""
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    try:
        compiled = graphspec.compile_text(text, str(spec_file))
    except SpecError:
        return []
    out: list[tuple[str, tuple[str, ...]]] = [(compiled.source, ())]
    if compiled.spec.data is not None:
        try:
            out.append((script.generate(compiled), _script_imports(compiled.spec)))
        except SpecError:
            pass
    return out


def _script_imports(spec) -> tuple[str, ...]:
    from graphspec.program import finetune

    return (*spec.data.imports, *finetune.imports(spec))


def _check_spots(spec_file: Path, spots_of) -> int:
    data = yaml.safe_load(spec_file.read_text())
    accepted = 0
    for spot in spots_of(data):
        for source, imports in _sources(_with_payload(data, spot), spec_file):
            accepted += 1
            check_source(source, imports)
            assert not outside_text_in_code(source), (spec_file.name, spot)
    return accepted


def test_negative_control_the_check_sees_a_payload_pasted_raw():
    for raw in (f'def make_data():\n    """Arrays {PAYLOAD} from a file."""\n',
                f"# from {PAYLOAD}\nx = 1\n", f"x = '{PAYLOAD}'\n"):  # fmt: skip
        try:
            found = outside_text_in_code(raw)
        except (SyntaxError, tokenize.TokenError):
            continue  # a payload that breaks the parse is refused by check_source anyway
        assert found, raw
    assert not outside_text_in_code(f"x = {PAYLOAD!r}  # {PAYLOAD!r}\n")


def _outside_the_model(data):
    """String values outside model:/blocks: (data paths, member, column and class names, the
    spec's name, device, loss...): where outside text most often reaches generated code."""
    return (s for s in _string_spots(data) if s[0] not in ("model", "blocks", "constants"))


def test_every_data_and_recipe_string_of_every_shipped_spec_stays_text():
    accepted = sum(_check_spots(spec, _outside_the_model) for spec in SHIPPED)
    assert accepted >= 15  # data paths, member and column names, class names took the payload


@pytest.mark.soak
def test_every_string_and_name_of_every_shipped_spec_stays_text():
    for spec in SHIPPED:
        _check_spots(spec, _string_spots)
        _check_spots(spec, _key_spots)


# -- check_source: which generated function may touch a file ---------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ndef make_data():\n    torch.save(0, 'PWNED')\n",
        "import numpy as np\ndef train_step():\n    return np.load('x.npz')\n",
        "from pathlib import Path\ndef make_data():\n    Path('x').write_text('pwned')\n",
        "import torch\nclass Net:\n    def f(self):\n        return torch.load('x')\n",
        "import torch\ndef make_data():\n    return torch.hub.load('a', 'b')\n",
        "import numpy as np\ndef make_data():\n    np.save('x', 1)\n",
        "import torch\ndef make_data():\n    def load(p):\n        torch.save(p, 'x')\n",
    ],
)
def test_check_source_refuses_a_file_call_outside_its_function(source):
    """Each import is allowed here (as a data source declares it), so the call is what's refused."""
    imports = tuple(line for line in source.splitlines() if "import" in line)
    with pytest.raises(UnsafeSource) as caught:
        check_source(source, imports)
    assert "import of" not in str(caught.value)


def test_check_source_allows_the_calls_the_generator_writes():
    check_source("import torch\ndef main():\n    torch.save({}, 'w.pth')\n")
    check_source(
        "import numpy as np\nimport torch\ndef make_data():\n"
        "    def load(p):\n        return torch.load(p, weights_only=True), np.load(p)\n",
        ("import numpy as np",),
    )


# -- --set and bare overrides carry member names as text --------------------------------------

ARRAYS_SPEC = """\
name: members
model:
  inputs: {x: [N, 2]}
  layers:
    out: {op: Linear, out_features: 3}
data: {source: arrays, path: m.npz, inputs: [x], target: y, batch_size: 8}
loss: CrossEntropyLoss
optimizer: {op: SGD, lr: 0.1}
train: {steps: 2}
seed: 1
device: cpu
"""


@pytest.mark.parametrize("door", ["--set", "bare"])
def test_an_override_naming_a_hostile_member_never_runs_it(tmp_path, monkeypatch, door):
    import numpy as np

    from graphspec.cli import main

    monkeypatch.chdir(tmp_path)
    evil = 'x"""; torch.save(0, \'PWNED\'); """'
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "m.npz", **{evil: rng.normal(size=(16, 2)), "y": rng.integers(0, 3, 16)})
    (tmp_path / "s.yaml").write_text(ARRAYS_SPEC)
    item = f"data.inputs=[{json.dumps(evil)}]"
    args = ["--set", item] if door == "--set" else [item]
    code = main(["run", "s.yaml", *args, "--runs-dir", "runs", "-q", "--no-plots"])
    assert code == 0  # the member is found by its name and trained on
    assert main(["emit", "s.yaml", "--train", "-o", "t.py"]) == 0
    spec = graphspec.compile_text(ARRAYS_SPEC, "s.yaml").spec
    check_source((tmp_path / "t.py").read_text(), _script_imports(spec))
    assert not (tmp_path / "PWNED").exists()


def test_a_set_value_with_a_line_break_is_refused(capsys):
    from graphspec.cli import main

    for item in ("train.steps=1\nseed: 5", "train.steps=1\rseed: 5", "seed=1\u2028x"):
        assert main(["run", str(ROOT / "specs" / "regression.yaml"), "--set", item]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "error[E-SET]" in err[0] and "line break" in err[0]


# -- --resume: the checkpoint vouches for spec.yaml before its code runs ----------------------


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    from helpers.runhelp import run_cli

    res = run_cli(
        ROOT / "specs" / "regression.yaml", "--set", "train.steps=4", "--quiet", "--no-plots",
        runs=tmp_path_factory.mktemp("runs"),
    )  # fmt: skip
    assert res.code == 0, res.err
    return res.run_dir


def _resume_recording(run: Path, monkeypatch) -> tuple[int, str, list]:
    from helpers.runhelp import run_cli

    from graphspec.training import datasets

    made: list = []
    real = datasets.from_spec

    def recording(*args, **kwargs):
        made.append(args)  # generated make_data() is about to run
        return real(*args, **kwargs)

    monkeypatch.setattr(datasets, "from_spec", recording)
    res = run_cli("--resume", run, "--set", "train.steps=6", "--quiet", "--no-plots")
    return res.code, res.err, made


def test_an_edited_run_spec_is_refused_before_its_code_runs(tmp_path, finished_run, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    spec = run / "spec.yaml"
    spec.write_text(spec.read_text().replace("steps: 100", "steps: 101"))
    code, err, made = _resume_recording(run, monkeypatch)
    assert code == 2 and "error[E-CKPT]" in err and "different spec" in err, err
    assert made == []


def test_negative_control_an_unedited_run_resumes_and_runs_make_data(
    tmp_path, finished_run, monkeypatch
):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    code, err, made = _resume_recording(run, monkeypatch)
    assert code == 0, err
    assert len(made) == 1
