"""The commands README.md and docs/*.md show do what the docs say.

A command is a line of a fenced shell block (```bash, ```sh, ```console; after `$ ` where the
block shows prompts) or an inline `graphspec ...` span that names a shipped spec. Each one runs,
from a scratch folder that sees the repository's specs/ and bench/, with this checkout's
graphspec first on the path, and must exit 0 (or the exit code its block shows). A block marked
`<!-- output of: COMMAND -->` shows what COMMAND prints: each of its lines, `...` aside, must be
a line of what it prints (key lines, not byte for byte: run folders' timestamps differ).

Commands that cannot run here as written (a download, two machines, a run folder of the docs
author's) have a stand-in in STAND_INS that runs in their place, with the reason; none is skipped.
Commands that train (but one, FAST) run with `-m soak`, as does the whole-repository lint; every
other command runs by default, so a new command in the docs is run, never silently passed over.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from graphspec.ops import OPS

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FAKE = " --fake-data 200 --set data.num_workers=0"
"""docs/run.md's way to train specs/cifar.yaml without CIFAR-10's download (no network here)."""
TWO_AGENTS = (
    "torchrun --nnodes 2 --nproc-per-node 1 --rdzv-backend c10d --rdzv-endpoint 127.0.0.1:29400 "
    "--rdzv-id myrun -m graphspec run specs/cifar.yaml" + FAKE
)
STAND_INS = {
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && pytest": (
        "grep -qxF \"python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' "
        '&& pytest" {ci}',
        "CI runs this very line from a fresh clone (.ci/run); here it would run this suite again",
    ),
    "pip install -e '.[test]' && pytest": (
        "grep -qF \"pip install -e '.[test]' && pytest\" {ci}",
        "CI runs it (.ci/run); here it would run this suite again",
    ),
    "pytest -m soak": (
        "pytest -m soak --collect-only -q -n 0 | tail -1 | grep -E '^[1-9][0-9]*/[0-9]+ tests "
        "collected'",
        "the soak runs take an hour: the marker is checked to select some, none are run",
    ),
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[train]' && graphspec run "
    "specs/digits.yaml": (
        "grep -q '^train = ' {pyproject} && graphspec run specs/digits.yaml",
        "the extra is declared (installing needs the network); the run is the README's",
    ),
    "graphspec run specs/cifar.yaml": (
        "graphspec run specs/cifar.yaml" + FAKE,
        "CIFAR-10 is a download: FakeData of the same shape, as docs/run.md says to",
    ),
    "graphspec run specs/cifar.yaml --nproc 2": (
        "graphspec run specs/cifar.yaml --nproc 2" + FAKE,
        "CIFAR-10 is a download: FakeData of the same shape",
    ),
    "torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST0:29400 "
    "--rdzv-id myrun -m graphspec run specs/cifar.yaml": (
        f"{TWO_AGENTS} & first=$!; {TWO_AGENTS}; second=$?; wait $first && exit $second",
        "two machines: two agents on this host (the way docs/run.md names), one process each",
    ),
    "torchrun --nproc-per-node 2 -m graphspec run --resume runs/cifar/20261201-211500": (
        "torchrun --nproc-per-node 2 -m graphspec run specs/cifar.yaml" + FAKE + " && "
        "mv runs/cifar/2* runs/cifar/20261201-211500 && "
        "torchrun --nproc-per-node 2 -m graphspec run --resume runs/cifar/20261201-211500 "
        "--set train.epochs=3",
        "the folder is the docs author's: made here first by a two-process run, then extended",
    ),
    "graphspec run --resume runs/digits/20261127-145623": (
        "graphspec run specs/digits.yaml && mv runs/digits/2* runs/digits/20261127-145623 && "
        "graphspec run --resume runs/digits/20261127-145623 --set train.epochs=16",
        "the folder is the docs author's: made here first, then extended by one epoch",
    ),
    "graphspec sweep specs/digits.yaml 'train.validation={split: 0.2}' --set "
    "'optimizer.lr=tag(log, interval(1e-4, 1e-1))' --trials 40 --storage "
    "postgresql://sweeper:secret@db.example:5432/studies": (
        "graphspec sweep specs/digits.yaml 'train.validation={{split: 0.2}}' --set "
        "'optimizer.lr=tag(log, interval(1e-4, 1e-1))' --trials 2 --storage sqlite:///studies.db",
        "db.example is the docs' placeholder server: the same study in a local storage, 2 trials "
        "(tests/sweep shares one on a real PostgreSQL server)",
    ),
    "graphspec render bad.yaml -o bad.png": (
        "sed 's/in_features: 16 \\* 5 \\* 5/in_features: 576/' specs/lenet.yaml > bad.yaml && "
        "grep -q 'in_features: 576' bad.yaml && graphspec render bad.yaml -o bad.png",
        "bad.yaml is a listing in the text: LeNet with fc1's in_features wrong, as it shows",
    ),
}
"""Commands that cannot run here as written, and what runs in their place, with the reason."""
FAST = {"graphspec run specs/regression.yaml --set seed=0"}
"""The one training command the default run checks (its output is shown in docs/run.md); every
other command that trains (`run`, or a script that `emit --train` wrote) runs under soak."""
SLOW_TOO = {
    "ruff check graphspec tests bench": "lints the whole repository (CI's ruff step does)",
    "mypy": "type-checks the whole package (CI's mypy step does)",
}


def _slow(command: str) -> bool:
    trains = any(f" {verb} " in f" {command} " for verb in ("run", "sweep"))
    trains = trains or "python train.py" in command
    return (trains and command not in FAST) or command in SLOW_TOO


def _stand_in(command: str) -> str:
    """What runs for `command`: itself, or its stand-in with this checkout's paths filled in."""
    if command not in STAND_INS:
        return command
    paths = {"ci": ROOT / ".ci" / "run", "pyproject": ROOT / "pyproject.toml"}
    return STAND_INS[command][0].format(**{k: shlex.quote(str(v)) for k, v in paths.items()})


EXIT = {"graphspec render bad.yaml -o bad.png": 2}
"""Commands whose block shows them failing, with the exit code the docs promise."""

SHELL = re.compile(r"```(?:bash|sh|console|shell)\n(.*?)```", re.S)
INLINE = re.compile(r"`(graphspec [^`]*specs/[^`]*)`")
OUTPUT = re.compile(r"<!-- output of: (?P<cmd>.+?) -->\n```\w*\n(?P<body>.*?)```", re.S)
PLACEHOLDER = re.compile(r"\.\.\.|\[|RUN_DIR|\bSPEC\b|\bFILE\b")


def _commands(text: str) -> list[str]:
    found = []
    for block in SHELL.findall(text):
        prompts = any(line.startswith("$ ") for line in block.splitlines())
        for line in _joined(block.splitlines()):
            if prompts and not line.startswith("$ "):
                continue  # a line of output
            line = line.removeprefix("$ ").split("  #")[0].strip()
            if line and not line.startswith(("#", "--set")):  # `--set` rows: a table of flags
                found.append(line)
    found += [" ".join(m.split()) for m in INLINE.findall(text) if not PLACEHOLDER.search(m)]
    return found


def _joined(lines: list[str]) -> list[str]:
    """Lines continued with a backslash, as one."""
    out: list[str] = []
    for line in lines:
        if out and out[-1].endswith("\\"):
            out[-1] = out[-1][:-1].rstrip() + " " + line.strip()
        else:
            out.append(line)
    return out


def _all_commands() -> list[str]:
    seen: dict[str, None] = {}
    for doc in DOCS:
        seen.update(dict.fromkeys(_commands(doc.read_text())))
    return list(seen)


def _run(command: str, tmp: Path) -> subprocess.CompletedProcess:
    """`command` in bash, from a scratch folder holding links to specs/ and bench/, this
    checkout's graphspec and the venv's tools first."""
    for name in ("specs", "bench"):
        if not (tmp / name).exists():
            (tmp / name).symlink_to(ROOT / name)
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
    }
    # their settings live in this checkout
    cwd = ROOT if command.startswith(("ruff ", "mypy", "pytest")) else tmp
    return subprocess.run(
        ["bash", "-c", command.replace("python ", f"{sys.executable} ", 1)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


COMMANDS = _all_commands()


def test_the_docs_show_commands():
    assert len(COMMANDS) > 10, COMMANDS
    assert "graphspec render specs/lenet.yaml -o lenet.svg" in COMMANDS


def test_every_listed_command_is_still_in_the_docs():
    """A stale entry would hide nothing, but says the lists are kept by hand: keep them true."""
    listed = [*STAND_INS, *FAST, *SLOW_TOO]
    missing = [c for c in listed if c not in COMMANDS]
    assert missing == []


def _params(slow: bool) -> list:
    """Every command, by default or under soak; none skipped."""
    return [
        pytest.param(command, marks=[pytest.mark.soak] if slow else [])
        for command in COMMANDS
        if _slow(command) == slow
    ]


def _check(command: str, tmp: Path) -> None:
    result = _run(_stand_in(command), tmp)
    want = EXIT.get(command, 0)
    assert result.returncode == want, (command, result.stdout[-2000:], result.stderr[-2000:])
    for shown in OUTPUTS.get(command, []):
        _assert_shown(shown, result.stdout + result.stderr, command)


@pytest.mark.parametrize("command", _params(slow=False))
def test_command_runs(command, tmp_path):
    _check(command, tmp_path)


@pytest.mark.parametrize("command", _params(slow=True))
def test_slow_command_runs(command, tmp_path):
    _check(command, tmp_path)


# -- shown output --------------------------------------------------------------------------------


def _outputs() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for doc in DOCS:
        for m in OUTPUT.finditer(doc.read_text()):
            found.setdefault(m["cmd"], []).append(m["body"])
    return found


OUTPUTS = _outputs()
TIMESTAMP = re.compile(r"\d{8}-\d{6}")
OPTIONAL = (" and writing tensorboard/", "tensorboard/, ")
"""What a run prints only where an optional extra is installed (tensorboard)."""


def _normal(line: str) -> str:
    for part in OPTIONAL:
        line = line.replace(part, "")
    return TIMESTAMP.sub("<time>", line.rstrip())


def _assert_shown(shown: str, printed: str, command: str) -> None:
    lines = {_normal(line) for line in printed.splitlines()}
    missing = [
        line
        for line in shown.splitlines()
        if line.strip() not in ("", "...") and _normal(line) not in lines
    ]
    assert missing == [], (command, missing, printed[-3000:])


def test_every_shown_output_belongs_to_a_command_the_docs_show():
    assert OUTPUTS, "no `<!-- output of: ... -->` block found: the pattern is wrong"
    for command in OUTPUTS:
        assert command in COMMANDS, command


def test_key_line_check_catches_a_wrong_line():
    """Negative control: a line the command does not print is reported."""
    with pytest.raises(AssertionError):
        _assert_shown("ok: x\nFinished Training", "ok: x\nsomething else\n", "cmd")
    _assert_shown(
        "wrote: a; drawing b in the background\nruns/x/20261127-145558",
        ("wrote: a; drawing b and writing tensorboard/ in the background\nruns/x/20261205-101010"),
        "cmd",
    )


# -- counts the prose states ---------------------------------------------------------------------


def test_the_op_count_the_readme_states_is_the_registry_size():
    text = (ROOT / "README.md").read_text()
    counts = [int(n) for n in re.findall(r"\bof the (\d+) ops\b", text)]
    assert counts == [len(OPS)]


def test_the_package_picture_names_every_stage_package():
    packages = sorted(
        p.name for p in (ROOT / "graphspec").iterdir() if (p / "__init__.py").exists()
    )
    picture = (ROOT / "docs" / "architecture.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in packages:
        assert f"{name}/" in picture, name
        assert f"`{name}/`" in readme, name


def test_no_command_is_skipped():
    """Every command the docs show runs, by default or under soak (as itself or its stand-in)."""
    params = _params(slow=False) + _params(slow=True)
    assert sorted(p.values[0] for p in params) == sorted(COMMANDS)
    assert not [p for p in params if any(m.name == "skip" for m in p.marks)]
    assert all(reason for _, reason in STAND_INS.values())


def test_a_stand_in_that_fails_fails_the_command(tmp_path, monkeypatch):
    """Negative control: the CI stand-in checks the line, so a README line CI does not run fails."""
    command = "pip install -e '.[test]' && pytest"
    monkeypatch.setitem(STAND_INS, command, (STAND_INS[command][0] + " --not-in-ci", "control"))
    with pytest.raises(AssertionError):
        _check(command, tmp_path)
