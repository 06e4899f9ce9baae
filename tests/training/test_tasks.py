"""The tasks a loss understands, checked statically (validate) and at run: classification over
(N, C) and (N, C, d1, ...) with (N, d1, ...) labels, ignore_index, reconstruction (`target:
input`), next-token prediction; and hints that fit the task (issue 12: "flatten to (N,
features)" for per-token labels and "use CrossEntropyLoss" for an autoencoder were wrong)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers.runhelp import run_cli

from graphspec.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def _spec(tmp_path, inputs: str, layers: str, data: str, loss: str = "CrossEntropyLoss"):
    text = (
        "name: task\nmodel:\n"
        f"  inputs: {{{inputs}}}\n  layers:\n"
        + "".join(f"    {line}\n" for line in layers.strip().splitlines())
        + f"data: {data}\nloss: {loss}\noptimizer: {{op: Adam, lr: 0.01}}\n"
        "train: {steps: 3}\nseed: 0\ndevice: cpu\n"
    )
    path = tmp_path / "task.yaml"
    path.write_text(text)
    return path


def _validate(path, capsys) -> tuple[int, str]:
    code = main(["validate", str(path)])
    return code, capsys.readouterr().err


SEQ = (
    "emb: {op: Embedding, num_embeddings: 20, embedding_dim: 8}\nfc: {op: Linear, out_features: 20}"
)
IDS = "idx: {shape: [N, 5], dtype: int64}"
RANDOM_IDS = ("{source: random, inputs: {idx: {shape: [8, 5], dtype: int64, high: 20}}, "
              "num_classes: 20, target: [8, 5]}")  # fmt: skip
CONV = "c: {op: Conv2d, out_channels: 10, kernel_size: 3, padding: 1}"


def test_per_token_labels_take_classes_in_dim_1_and_ids_run(tmp_path, capsys):
    """Random int64 ids feed an Embedding: it validates and runs (it used to fail at run)."""
    path = _spec(tmp_path, IDS, SEQ + "\nout: {op: transpose, dim0: 1, dim1: 2}", RANDOM_IDS)
    assert _validate(path, capsys)[0] == 0
    run = run_cli(path, runs=tmp_path / "runs")
    assert run.code == 0, run.err


def test_classes_last_is_told_to_transpose(tmp_path, capsys):
    code, err = _validate(_spec(tmp_path, IDS, SEQ, RANDOM_IDS), capsys)
    assert code == 2 and "error[E-LOSS]" in err
    assert "transpose" in err and "dim1: 2" in err and "flatten" not in err


def test_per_pixel_labels_validate_and_one_label_per_image_needs_flattening(tmp_path, capsys):
    pixels = "{source: random, inputs: {x: [4, 1, 6, 6]}, num_classes: 10, target: [4, 6, 6]}"
    path = _spec(tmp_path, "x: [N, 1, 6, 6]", CONV, pixels)
    assert _validate(path, capsys)[0] == 0
    assert run_cli(path, runs=tmp_path / "runs").code == 0
    wrong = pixels.replace("[4, 6, 6]", "[4, 5, 5]")
    code, err = _validate(_spec(tmp_path, "x: [N, 1, 6, 6]", CONV, wrong), capsys)
    assert code == 2 and "(N, C, 5, 5)" in err and "(N, 10, 6, 6)" in err
    code, err = _validate(_spec(tmp_path, "x: [N, 1, 8, 8]", CONV, "{source: digits}"), capsys)
    assert code == 2 and "one label per sample" in err and "flatten" in err


def test_a_regression_loss_on_labels_gets_the_hint_of_its_model(tmp_path, capsys):
    same = "c: {op: Conv2d, out_channels: 3, kernel_size: 3, padding: 1}"
    fake = "{source: FakeData, num_classes: 10, image_size: [3, 8, 8]}"
    code, err = _validate(_spec(tmp_path, "x: [N, 3, 8, 8]", same, fake, "MSELoss"), capsys)
    assert code == 2 and "error[E-LOSS]" in err
    assert "target: input" in err and "CrossEntropyLoss" not in err  # an autoencoder's hint
    assert "digits" in err  # names the sources that reconstruct
    one = "c: {op: Conv2d, out_channels: 1, kernel_size: 3, padding: 1}"
    code, err = _validate(_spec(tmp_path, "x: [N, 1, 8, 8]", one, "{source: digits}", "MSELoss"),
                          capsys)  # fmt: skip
    assert code == 2 and "add 'target: input' to data:" in err
    flat = "f: {op: flatten, start_dim: 1}\nfc: {op: Linear, out_features: 10}"
    code, err = _validate(_spec(tmp_path, "x: [N, 1, 8, 8]", flat, "{source: digits}", "MSELoss"),
                          capsys)  # fmt: skip
    assert code == 2 and "use CrossEntropyLoss" in err  # a classifier's output: its hint


def test_reconstruction_checks_the_output_against_the_input(tmp_path, capsys):
    one = "c: {op: Conv2d, out_channels: 1, kernel_size: 3, padding: 1}"
    data = "{source: digits, target: input}"
    path = _spec(tmp_path, "x: [N, 1, 8, 8]", one, data, "MSELoss")
    assert _validate(path, capsys)[0] == 0
    assert run_cli(path, runs=tmp_path / "runs").code == 0
    two = one.replace("out_channels: 1", "out_channels: 2")
    code, err = _validate(_spec(tmp_path, "x: [N, 1, 8, 8]", two, data, "MSELoss"), capsys)
    assert code == 2 and "target: input" in err and "(N, 2, 8, 8)" in err
    code, err = _validate(_spec(tmp_path, "x: [N, 1, 8, 8]", one, data), capsys)
    assert code == 2 and "needs class labels" in err and "MSELoss" in err


def test_ignore_index_leaves_masked_positions_out_of_the_label_check(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    np.save(tmp_path / "ids.npy", rng.integers(0, 20, (16, 5)))
    labels = rng.integers(0, 20, (16, 5))
    labels[:, -1] = -1  # the last position of every block is padding
    np.save(tmp_path / "labels.npy", labels)
    data = "{source: npy, inputs: [ids.npy], target: labels.npy, batch_size: 4}"
    layers = SEQ + "\nout: {op: transpose, dim0: 1, dim1: 2}"
    refused = run_cli(_spec(tmp_path, IDS, layers, data), runs=tmp_path / "runs")
    assert refused.code == 2 and "labels run from -1" in refused.err, refused.err
    assert "ids.npy" in refused.err and not (tmp_path / "runs").exists()
    masked = _spec(tmp_path, IDS, layers, data, "{op: CrossEntropyLoss, ignore_index: -1}")
    run = run_cli(masked, runs=tmp_path / "runs")
    assert run.code == 0, run.err
    assert re.search(r"loss", run.out)


def test_random_data_takes_a_dtype_and_a_range(tmp_path, capsys):
    """Integer ids in [low, high) and uniform floats in [low, high), as generated code."""
    from graphspec.compiler.pipeline import compile_file
    from graphspec.training import datasets

    data = ("{source: random, inputs: {idx: {shape: [64, 5], dtype: int64, low: 3, high: 9}, "
            "w: {shape: [64, 5], low: -2, high: -1}}, target: [64, 5, 8]}")  # fmt: skip
    layers = "\n".join([
        "emb: {op: Embedding, num_embeddings: 9, embedding_dim: 8, in: idx}",
        "scale: {op: unsqueeze, dim: -1, in: w}",
        "out: {op: mul, in: [emb, scale]}",
    ])  # fmt: skip
    path = _spec(tmp_path, IDS + ", w: [N, 5]", layers, data, "MSELoss")
    assert _validate(path, capsys)[0] == 0
    idx, w = datasets.from_spec(compile_file(path).spec).train.items.inputs
    assert not idx.is_floating_point() and int(idx.min()) >= 3 and int(idx.max()) < 9
    assert set(idx.unique().tolist()) == set(range(3, 9))  # the whole range is drawn
    assert float(w.min()) >= -2 and float(w.max()) < -1
    bad = data.replace("low: 3, high: 9", "low: 3")
    code, err = _validate(_spec(tmp_path, IDS + ", w: [N, 5]", layers, bad, "MSELoss"), capsys)
    assert code == 2 and "needs 'high'" in err
