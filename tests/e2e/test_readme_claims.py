"""The commands README.md and docs/*.md show do what the docs say.

A command is a line of a fenced shell block (```bash, ```sh, ```console; after `$ ` where the
block shows prompts) or an inline `graphspec ...` span that names a shipped spec. Each one runs,
from a scratch folder that sees the repository's specs/ and bench/, with this checkout's
graphspec first on the path, and must exit 0 (or the exit code its block shows). A block marked
`<!-- output of: COMMAND -->` shows what COMMAND prints: each of its lines, `...` aside, must be
a line of what it prints (key lines, not byte for byte: run folders' timestamps differ).

Commands that cannot run here are listed in SKIPPED with the reason. Commands that train (but
one, FAST) run with `-m soak`, as does the whole-repository lint; every other command runs by
default, so a new command in the docs is run, never silently passed over.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from graphspec.ops import OPS

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

NETWORK = "downloads a dataset or packages: needs the network"
MACHINE = "names a run folder from the machine the docs were written on"
SKIPPED = {
    "pip install -e '.[train]' && graphspec run specs/digits.yaml": NETWORK,
    "pip install -e '.[test]' && pytest": "installs packages and runs this very suite",
    "graphspec run specs/cifar.yaml": NETWORK,
    "graphspec run specs/cifar.yaml --nproc 2": NETWORK,
    "torchrun --nproc-per-node 4 -m graphspec run specs/digits.yaml": (
        "four training processes on a 2-core machine; tests/training/test_distributed.py runs two"
    ),
    "torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST0:29400 "
    "--rdzv-id myrun -m graphspec run specs/cifar.yaml": "needs two machines",
    "torchrun --nproc-per-node 2 -m graphspec run --resume runs/cifar/20261201-211500": MACHINE,
    "graphspec run --resume runs/digits/20261127-145623": MACHINE,
    "graphspec render bad.yaml -o bad.png": "bad.yaml is a listing in the text, not a file",
}
FAST = {"graphspec run specs/regression.yaml --set seed=0"}
"""The one training command the default run checks (its output is shown in docs/run.md); every
other command that trains (`run`, or a script that `emit --train` wrote) runs under soak."""
SLOW_TOO = {"ruff check graphspec tests bench": "lints the whole repository (CI's ruff step does)"}


def _slow(command: str) -> bool:
    trains = " run " in f" {command} " or "python train.py" in command
    return (trains and command not in FAST) or command in SLOW_TOO


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


def _reason(command: str) -> str | None:
    return SKIPPED.get(command)


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
    cwd = ROOT if command.startswith("ruff ") else tmp
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
    listed = [*SKIPPED, *FAST, *SLOW_TOO]
    missing = [c for c in listed if c not in COMMANDS]
    assert missing == []


def _params(slow: bool) -> list:
    out = []
    for command in COMMANDS:
        reason = _reason(command)
        if reason is not None:
            if not slow:
                out.append(pytest.param(command, marks=pytest.mark.skip(reason=reason)))
        elif _slow(command) == slow:
            out.append(pytest.param(command, marks=[pytest.mark.soak] if slow else []))
    return out


def _check(command: str, tmp: Path) -> None:
    result = _run(command, tmp)
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
OPTIONAL = (" and writing tensorboard/",)
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
