"""`graphspec validate --data` makes the data checks `graphspec run` makes before training,
without training; `run --print-config` refuses what `run` refuses."""

from __future__ import annotations

import contextlib
import io

from helpers.runhelp import SPECS

from graphspec.cli import main

WINE = (SPECS / "wine.yaml").read_text()


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _wine(tmp_path, *swap: tuple[str, str]):
    text = WINE.replace("data/wine.csv", str(SPECS / "data" / "wine.csv"))
    for old, new in swap:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "wine.yaml"
    path.write_text(text)
    return path


def test_a_class_count_mismatch_is_reported_without_training(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = _wine(
        tmp_path, ("num_classes: 3", "num_classes: 2"), ("out_features: 3", "out_features: 2")
    )
    assert _cli("validate", str(spec))[0] == 0  # the file's labels are not read without --data
    code, out, err = _cli("validate", "--data", str(spec))
    assert code == 2 and "E-DATA" in err and "2 is not a class label in 0 .. 1" in err
    assert f"{spec}:" in err  # located in the spec
    assert not (tmp_path / "runs").exists()  # no run folder: nothing trained


def test_a_missing_file_is_reported_with_the_path_tried(tmp_path):
    spec = _wine(tmp_path, ("data/wine.csv", "data/no-such.csv"))
    code, _, err = _cli("validate", "--data", str(spec))
    assert code == 2 and "E-DATA" in err and str(SPECS / "data" / "no-such.csv") in err


def test_good_data_passes_with_a_summary(tmp_path):
    code, out, err = _cli("validate", "--data", str(_wine(tmp_path)))
    assert code == 0, err
    assert "data ok: table" in out and "134 train / 44 test" in out


def test_print_config_refuses_what_run_refuses(tmp_path):
    spec = SPECS / "regression.yaml"
    bad = "train.validation={split: 0.2, metrics: [accuracy]}"  # no labels in a regression
    code, out, err = _cli("run", str(spec), "--set", bad, "--print-config")
    assert code == 2 and "E-LOSS" in err and out == ""
    code, out, _ = _cli("run", str(spec), "--print-config")
    assert code == 0 and "name: regression" in out
