"""A real editor as the client: headless Neovim (Debian's package; .ci/run installs it) opens
broken copies of shipped specs with `graphspec lsp` attached through a small Lua config
(nvim_diagnostics.lua) and prints the diagnostics it received, one validate-style line each;
they must be exactly the lines `graphspec validate` prints for the same files."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.lsp_client import ROOT, server_env

from graphspec import cli

LUA = Path(__file__).with_name("nvim_diagnostics.lua")
needs_nvim = pytest.mark.skipif(
    shutil.which("nvim") is None, reason="Neovim not installed (.ci/run installs it)"
)


def broken_copies(folder: Path) -> list[Path]:
    lenet = (ROOT / "specs" / "lenet.yaml").read_text()
    resnet = (ROOT / "specs" / "zoo" / "resnet18.yaml").read_text()
    cases = {
        "lenet.yaml": lenet.replace("in_features: 16 * 5 * 5", "in_features: 300"),
        "resnet18.yaml": resnet.replace("{op: MaxPool2d,", "{op: MaxPool2D,").replace(
            "kernel_size: 7, stride: 2", "kernel_size: 7, strid: 2"
        ),
    }
    paths = []
    for name, text in cases.items():
        path = folder / name
        path.write_text(text)
        paths.append(path)
    return paths


def validate_lines(path: Path) -> list[str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert cli.main(["validate", str(path)]) == 2
    return err.getvalue().splitlines()


def neovim_lines(paths: list[Path]) -> list[str]:
    specs = "\n".join(map(str, paths))
    env = server_env(GRAPHSPEC_PYTHON=sys.executable, GRAPHSPEC_SPECS=specs)
    proc = subprocess.run(
        ["nvim", "--headless", "--clean", "-u", str(LUA)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=ROOT,
    )
    return [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]


@needs_nvim
def test_neovim_receives_what_validate_prints(tmp_path):
    paths = broken_copies(tmp_path)
    expected = [line for path in paths for line in validate_lines(path)]
    # the negative control's counterpart: one error in lenet, two in resnet18, all distinct
    assert len(set(expected)) == 3
    assert sorted(neovim_lines(paths)) == sorted(expected)
