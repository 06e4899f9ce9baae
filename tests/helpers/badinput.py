"""Shared checks for the bad-input tests: every stderr line a located error, nothing written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): error\[(?P<code>E-[A-Z]+)\]: .+$")


def column(lines: list[str], line: int, col: int | str | tuple[str, int]) -> int:
    """A column given as a number, as text to find on the line, or as (text, offset)."""
    if isinstance(col, int):
        return col
    needle, delta = (col, 0) if isinstance(col, str) else col
    assert needle in lines[line - 1], f"{needle!r} not on line {line}: {lines[line - 1]!r}"
    return lines[line - 1].index(needle) + 1 + delta


def located(stderr: str) -> list[tuple[str, str, int, int]]:
    """Every line must be a located error; returns (file, code, line, col) for each."""
    found = []
    for text in stderr.splitlines():
        m = LINE.match(text)
        assert m, f"not a located error line: {text!r}"
        found.append((m["file"], m["code"], int(m["line"]), int(m["col"])))
    return found


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def validate_all_in_a_subprocess(tmp_path: Path, cases: list, expected) -> None:
    """Every case as its own file through one real `graphspec validate`: all errors located."""
    files = {f"{i:02d}-{case.id.replace('/', '--')}.yaml": case for i, case in enumerate(cases)}
    for name, case in files.items():
        (tmp_path / name).write_text(case.text)
    before = listing(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "graphspec", "validate", *files],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    found = located(proc.stderr)
    for name, case in files.items():
        assert [f for f in found if f[0] == name] == expected(case, name), name
    assert len(found) == sum(len(c.errors) for c in cases)
    assert listing(tmp_path) == before


def validate_case(case, expected, tmp_path: Path, monkeypatch, capsys) -> str:
    """One case through `cli.main(["validate", ...])`: exit 2, every expected located error, the
    texts the case names, no traceback, nothing written. Returns stderr for further checks."""
    from graphspec import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(case.text)
    before = listing(tmp_path)
    code = cli.main(["validate", "spec.yaml"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "Traceback" not in err
    assert located(err) == expected(case, "spec.yaml"), err
    for text in case.says:
        assert text in err, err
    assert listing(tmp_path) == before  # nothing written: no runs/, no temp file, no sentinel
    return err
