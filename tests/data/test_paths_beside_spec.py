"""Data paths resolve beside the spec that names them (as `model: {from:}` does), from any
working folder; a missing file's message names the path it tried."""

from __future__ import annotations

import shutil

import pytest
import yaml
from helpers.runhelp import SPECS, run_cli

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture
def project(tmp_path):
    """specs/wine.yaml and its data/wine.csv copied to a folder of their own."""
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    shutil.copy(SPECS / "wine.yaml", folder / "wine.yaml")
    shutil.copy(SPECS / "data" / "wine.csv", folder / "data" / "wine.csv")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return folder, elsewhere


def test_a_spec_run_from_another_folder_finds_its_data(project, monkeypatch):
    folder, elsewhere = project
    monkeypatch.chdir(elsewhere)
    res = run_cli(folder / "wine.yaml", "train.epochs=1", "seed=0", "--no-plots",
                  runs=elsewhere / "runs")  # fmt: skip
    assert res.code == 0, res.err
    assert str(folder / "data" / "wine.csv") in res.out  # the `data:` line says which file
    stored = yaml.safe_load((res.run_dir / "spec.yaml").read_text())
    assert stored["data"]["path"] == str(folder / "data" / "wine.csv")  # reruns from anywhere


def test_a_missing_file_names_the_path_tried(project, monkeypatch):
    folder, elsewhere = project
    (folder / "data" / "wine.csv").unlink()
    monkeypatch.chdir(elsewhere)
    res = run_cli(folder / "wine.yaml", runs=elsewhere / "runs")
    assert res.code == 2
    assert f"'{folder / 'data' / 'wine.csv'}' is not a file" in res.err


def test_a_path_found_only_from_the_working_folder_still_works(project, monkeypatch):
    """Specs written before paths moved beside the spec keep working from their folder."""
    folder, elsewhere = project
    shutil.move(folder / "data", elsewhere / "data")
    monkeypatch.chdir(elsewhere)
    from graphspec.compiler.pipeline import compile_file

    spec = compile_file(folder / "wine.yaml").spec
    assert spec.data.path == str(elsewhere / "data" / "wine.csv")


def test_a_path_no_file_can_have_is_left_to_the_sources_check(tmp_path):
    """A NUL byte or an overlong name is no crash: the path beside the spec is kept for the
    source's own check (E-DATA) to name."""
    from graphspec.language.paths import place

    assert place("a\x00b.csv", str(tmp_path)) == str(tmp_path / "a\x00b.csv")
    assert place("x" * 5000, str(tmp_path)) == str(tmp_path / ("x" * 5000))
