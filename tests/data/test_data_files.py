"""The user's own data files: npy, table, tensors and text sources.

Each source trains on a small file; each bad file (missing, wrong or missing columns, ragged
or NaN rows, wrong dtype, ids beyond the vocabulary, labels beyond the classes, text shorter
than one block, a pickle) is exit 2 with E-DATA naming the file, at the spec line of the field
that names it, before training: nothing is left under runs/.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.runhelp import python_child, run_cli

from graphspec.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")

MLP = """\
name: files
model:
  inputs: {{x: [N, 2]}}
  layers:
    hidden: {{op: Linear, out_features: 16}}
    act: relu
    out: {{op: Linear, out_features: 3}}
data:
{data}
loss: CrossEntropyLoss
optimizer: {{op: Adam, lr: 0.05}}
train: {{epochs: 8, log_every: 100}}
seed: 3
device: cpu
"""

TOKENS = """\
name: tokens
model:
  inputs: {{idx: {{shape: [N, T], dtype: int64}}}}
  layers:
    emb: {{op: Embedding, num_embeddings: {vocab}, embedding_dim: 16}}
    logits: {{op: Linear, out_features: {vocab}}}
    classes_first: {{op: transpose, dim0: 1, dim1: 2}}
data:
{data}
loss: CrossEntropyLoss
optimizer: {{op: Adam, lr: 0.02}}
train: {{epochs: 3, log_every: 100}}
seed: 3
device: cpu
"""


def _blobs(n: int = 240) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    x = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])[y] + rng.normal(0, 0.6, (n, 2))
    return x, y


def _csv(path: Path, rows: list[list[object]], header=("a", "b", "label")) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _table(d: Path) -> Path:
    x, y = _blobs()
    return _csv(d / "t.csv", [[a, b, int(c)] for (a, b), c in zip(x, y, strict=True)])


def _npy(d: Path) -> None:
    x, y = _blobs()
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y)


def _pt(d: Path) -> None:
    x, y = _blobs()
    torch.save({"x": torch.tensor(x, dtype=torch.float32), "y": torch.tensor(y)}, d / "t.pt")


def _safetensors(d: Path) -> None:
    safetensors_torch = pytest.importorskip("safetensors.torch")
    x, y = _blobs()
    tensors = {"x": torch.tensor(x, dtype=torch.float32), "y": torch.tensor(y)}
    safetensors_torch.save_file(tensors, str(d / "t.safetensors"))


TEXT = "the cat sat on the mat. the dog sat on the log. " * 40

GOOD = {
    "npy": (_npy, "  {source: npy, inputs: [x.npy], target: y.npy, test_fraction: 0.25,"
                  " batch_size: 16, shuffle: true}"),
    "table": (_table, "  {source: table, path: t.csv, target: label, num_classes: 3,"
                      " test_fraction: 0.25, batch_size: 16, shuffle: true}"),
    "pt": (_pt, "  {source: tensors, path: t.pt, test_fraction: 0.25, batch_size: 16}"),
    "safetensors": (_safetensors, "  {source: tensors, path: t.safetensors,"
                                  " test_fraction: 0.25, batch_size: 16}"),
}  # fmt: skip


def _write(d: Path, template: str, data: str, **extra: object) -> Path:
    spec = d / "spec.yaml"
    spec.write_text(template.format(data=data, **extra))
    return spec


def _accuracy(out: str) -> int:
    return int(re.search(r"on the (\d+) test (?:images|samples|positions): (\d+) %", out).group(2))


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_each_file_source_trains(tmp_path, monkeypatch, kind):
    monkeypatch.chdir(tmp_path)
    make, data = GOOD[kind]
    make(tmp_path)
    run = run_cli(_write(tmp_path, MLP, data), runs=tmp_path / "runs")
    assert run.code == 0, run.err
    assert "60 test" in run.out  # a quarter of 240 held out
    assert _accuracy(run.out) >= 90  # separable clusters; chance is 33 %


def test_a_test_file_is_the_test_split(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = _blobs(300)
    rows = [[a, b, int(c)] for (a, b), c in zip(x, y, strict=True)]
    _csv(tmp_path / "train.csv", rows[:200])
    _csv(tmp_path / "test.csv", rows[200:])
    data = "  {source: table, path: train.csv, test: test.csv, target: label, num_classes: 3}"
    run = run_cli(_write(tmp_path, MLP, data), runs=tmp_path / "runs")
    assert run.code == 0, run.err
    assert "200 train / 100 test" in run.out
    assert _accuracy(run.out) >= 90


def _same_table(d: Path) -> Path:
    _table(d)
    data = ("  {source: table, path: t.csv, target: label, num_classes: 3, standardize: true,"
            " test_fraction: 0.25, batch_size: 16, shuffle: true}")  # fmt: skip
    return _write(d, MLP, data)


def _same_text(d: Path) -> Path:
    data = _text_data(d, batch_size=8, shuffle="true")
    return _write(d, TOKENS, data, vocab=20)


@pytest.mark.parametrize("make", [_same_table, _same_text], ids=["table", "text"])
def test_run_and_its_script_give_the_same_numbers_shuffled(tmp_path, monkeypatch, make):
    """`emit --train` writes the same reader, split and order: the same losses, shuffled."""
    monkeypatch.chdir(tmp_path)
    spec = make(tmp_path)
    spec.write_text(spec.read_text().replace("log_every: 100", "log_every: 3"))
    run = run_cli(spec, runs=tmp_path / "runs")
    assert run.code == 0, run.err
    script = tmp_path / "train.py"
    assert main(["emit", str(run.run_dir / "spec.yaml"), "--train", "-o", str(script)]) == 0
    proc = python_child(script, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    keep = ("[", "Accuracy", "test loss")
    losses = [line for line in run.out.splitlines() if line.startswith(keep)]
    assert len(losses) >= 10
    assert [line for line in proc.stdout.splitlines() if line.startswith(keep)] == losses


def _text_data(d: Path, text: str = TEXT, **fields: object) -> str:
    (d / "t.txt").write_text(text)
    extra = "".join(f", {k}: {v}" for k, v in fields.items())
    return f"  {{source: text, path: t.txt, block_size: 16, test_fraction: 0.2{extra}}}"


def test_text_learns_the_next_character(tmp_path, monkeypatch):
    """Per-token labels: CrossEntropyLoss over (N, C, T) against (N, T) trains and is scored."""
    monkeypatch.chdir(tmp_path)
    spec = _write(tmp_path, TOKENS, _text_data(tmp_path, batch_size=8), vocab=20)
    run = run_cli(spec, runs=tmp_path / "runs")
    assert run.code == 0, run.err
    test = [r for r in _records(run.run_dir) if r.get("split") == "test"][-1]
    chars = sorted(set(TEXT))
    counts = np.array([TEXT.count(c) for c in chars]) / len(TEXT)
    unigram = float(-(counts * np.log(counts)).sum())
    assert test["loss"] < 0.6 * unigram  # a bigram model does much better than the unigram


def test_bytes_need_a_table_of_256_rows(tmp_path, monkeypatch):
    """Bytes are 0..255 whatever the text holds: the static check says so before running."""
    monkeypatch.chdir(tmp_path)
    spec = _write(tmp_path, TOKENS, _text_data(tmp_path, encoding="bytes"), vocab=64)
    run = run_cli(spec, runs=tmp_path / "runs")
    assert run.code == 2 and "error[E-LOSS]" in run.err and "256" in run.err, run.err
    spec = _write(tmp_path, TOKENS, _text_data(tmp_path, encoding="bytes"), vocab=256)
    assert run_cli(spec, "--set", "train.epochs=1", runs=tmp_path / "runs").code == 0


def _records(run_dir: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


# -- bad files -------------------------------------------------------------------------------------


def _missing_column(d):
    x, y = _blobs(20)
    _csv(d / "t.csv", [[a, b, int(c)] for (a, b), c in zip(x, y, strict=True)],
         header=("a", "b", "kind"))  # fmt: skip


def _ragged(d):
    _csv(d / "t.csv", [[0.1, 0.2, 1], [0.3, 0.4], [0.5, 0.6, 2]])


def _nan(d):
    _csv(d / "t.csv", [[0.1, 0.2, 1], [0.3, "nan", 0]])


def _text_cell(d):
    _csv(d / "t.csv", [[0.1, 0.2, 1], [0.3, "high", 0]])


def _label_beyond(d):
    _csv(d / "t.csv", [[0.1, 0.2, 1], [0.3, 0.4, 7]])


def _npy_beyond(d):
    x, y = _blobs(40)
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y + 3)  # labels 3..5 for a 3-way classifier


def _npy_strings(d):
    np.save(d / "x.npy", np.array(["a", "b", "c"]))
    np.save(d / "y.npy", np.zeros(3, dtype=np.int64))


def _npy_counts(d):
    np.save(d / "x.npy", np.zeros((10, 2)))
    np.save(d / "y.npy", np.zeros(9, dtype=np.int64))


def _npy_float_labels(d):
    np.save(d / "x.npy", np.zeros((10, 2)))
    np.save(d / "y.npy", np.zeros(10))


def _pt_not_zip(d):
    (d / "t.pt").write_text("not a torch file")


def _pt_pickle(d):
    class Payload:
        def __reduce__(self):
            return (Path.write_text, (d / "sentinel", "pwned"))

    torch.save({"x": Payload(), "y": torch.zeros(2)}, d / "t.pt")


def _safetensors_no_y(d):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    safetensors_torch.save_file({"x": torch.zeros(4, 2)}, str(d / "t.safetensors"))


def _nothing(d):
    pass


TABLE = "  {source: table, path: t.csv, target: label, num_classes: 3}"
NPY = "  {source: npy, inputs: [x.npy], target: y.npy}"
BAD = {
    "table missing": (_nothing, MLP, TABLE, "t.csv", "path", "is not a file"),
    "table column": (_missing_column, MLP, TABLE, "t.csv", "target", "no column 'label'"),
    "table ragged": (_ragged, MLP, TABLE, "t.csv", "path", "3 has 2 cells, the header has 3"),
    "table nan": (_nan, MLP, TABLE, "t.csv", "path", "column 'b': 'nan' is not a finite"),
    "table text": (_text_cell, MLP, TABLE, "t.csv", "path", "'high' is not a finite number"),
    "table label": (_label_beyond, MLP, TABLE, "t.csv", "path", "7 is not a class label"),
    "table features": (_table, MLP, TABLE.replace("target:", "features: [a, z], target:"),
                       "t.csv", "z", "no column 'z'"),
    "npy missing": (_nothing, MLP, NPY, "x.npy", "inputs", "is not a file"),
    "npy dtype": (_npy_strings, MLP, NPY, "x.npy", "inputs", "arrays of numbers"),
    "npy counts": (_npy_counts, MLP, NPY, "x.npy", "inputs", "different numbers of samples"),
    "npy labels": (_npy_beyond, MLP, NPY, "x.npy", "inputs", "labels run from 3 to 5"),
    "npy float labels": (_npy_float_labels, MLP, NPY, "x.npy", "inputs", "integer class labels"),
    "pt missing": (_nothing, MLP, "  {source: tensors, path: t.pt}", "t.pt", "path",
                   "is not a file"),
    "pt not zip": (_pt_not_zip, MLP, "  {source: tensors, path: t.pt}", "t.pt", "path",
                   "not a torch file"),
    "pt pickle": (_pt_pickle, MLP, "  {source: tensors, path: t.pt}", "t.pt", "source",
                  "Weights only load failed"),
    "safetensors name": (_safetensors_no_y, MLP, "  {source: tensors, path: t.safetensors}",
                         "t.safetensors", "{source", "no tensor 'y'"),
}  # fmt: skip


def _text_short(d):
    (d / "t.txt").write_text("too short")


def _text_latin1(d):
    (d / "t.txt").write_bytes("caf\xe9 ".encode("latin-1") * 50)


def _text_plain(d):
    (d / "t.txt").write_text(TEXT)


TEXT_SPEC = "  {source: text, path: t.txt, block_size: 16}"
BAD_TOKENS = {
    "text missing": (_nothing, TEXT_SPEC, 20, "path", "is not a file"),
    "text short": (_text_short, TEXT_SPEC, 20, "path", "9 characters, fewer than one block"),
    "text encoding": (_text_latin1, TEXT_SPEC, 20, "path", "is not UTF-8"),
    "text vocabulary": (_text_plain, TEXT_SPEC, 8, "path", "ids from 0 to 13"),
    "random ids": (_nothing, "  {source: random, inputs: {idx: {shape: [8, 5], dtype: int64, "
                   "high: 30}}, num_classes: 20, target: [8, 5]}", 20, "source",
                   "but the Embedding 'emb' has 20 rows"),
    "random floats": (_nothing, "  {source: random, inputs: {idx: [8, 5]}, num_classes: 20, "
                      "target: [8, 5]}", 20, "source", "gives float32 for input 'idx'"),
}  # fmt: skip


def _refused(tmp_path: Path, spec: Path, named: str, field: str, message: str) -> None:
    run = run_cli(spec, runs=tmp_path / "runs")
    assert run.code == 2, run.err
    assert "error[E-DATA]" in run.err and message in run.err, run.err
    assert named in run.err  # the data is named: its file, or the source
    at = re.search(rf"{re.escape(str(spec))}:(\d+):(\d+): error\[E-DATA\]", run.err)
    assert at, run.err
    line = spec.read_text().splitlines()[int(at.group(1)) - 1]
    before, value = line[: int(at.group(2)) - 1], line[int(at.group(2)) - 1 :]
    assert before.rstrip().endswith(f"{field}:") or value.startswith(field), (line, field)
    assert not (tmp_path / "runs").exists()  # nothing written
    assert run.err.count("\n") == 1  # one line


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_file_is_refused_before_training(tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    make, template, data, named, field, message = BAD[case]
    make(tmp_path)
    spec = _write(tmp_path, template, data)
    _refused(tmp_path, spec, named, field if field != "inputs" else "x.npy", message)
    assert not (tmp_path / "sentinel").exists()  # a pickle in a torch file never runs


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_bad_tokens_are_refused_before_training(tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    make, data, vocab, field, message = BAD_TOKENS[case]
    make(tmp_path)
    spec = _write(tmp_path, TOKENS, data, vocab=vocab)
    named = "t.txt" if "text" in case else "random data"
    _refused(tmp_path, spec, named, field, message)


def test_gpt2_without_tiktoken_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(__import__("sys").modules, "tiktoken", None)  # as if not installed
    data = _text_data(tmp_path, encoding="gpt2")
    spec = _write(tmp_path, TOKENS, data, vocab=50257)
    run = run_cli(spec, runs=tmp_path / "runs")
    assert run.code == 2 and "tiktoken" in run.err and "graphspec[text]" in run.err, run.err
    assert not (tmp_path / "runs").exists()


AUTOENCODER = """\
name: ae
model:
  inputs: {{x: [N, 2]}}
  layers:
    code: {{op: Linear, out_features: 2}}
    back: {{op: Linear, out_features: 2}}
data:
{data}
loss: MSELoss
optimizer: {{op: Adam, lr: 0.05}}
train: {{epochs: 4, log_every: 100}}
seed: 3
device: cpu
"""


def _npz(d: Path) -> None:
    x, y = _blobs()
    np.savez(d / "t.npz", x=x, y=y)


@pytest.mark.parametrize(
    ("make", "data"),
    [
        (_npy, "  {source: npy, inputs: [x.npy], target: input, batch_size: 16}"),
        (_npz, "  {source: arrays, path: t.npz, inputs: [x], target: input, batch_size: 16}"),
        (_pt, "  {source: tensors, path: t.pt, target: input, batch_size: 16}"),
        (_table, "  {source: table, path: t.csv, features: [a, b], target: input, "
                 "batch_size: 16}"),
    ],
    ids=["npy", "arrays", "tensors", "table"],
)  # fmt: skip
def test_target_input_reconstructs_from_each_file_source(tmp_path, monkeypatch, make, data):
    monkeypatch.chdir(tmp_path)
    make(tmp_path)
    run = run_cli(_write(tmp_path, AUTOENCODER, data), runs=tmp_path / "runs")
    assert run.code == 0, run.err
    final = float(re.search(r"train split, [\d,]+ samples: loss ([\d.e-]+)", run.out).group(1))
    x, _ = _blobs()
    assert final < 0.05 * float(((x - x.mean(0)) ** 2).mean())  # 2 -> 2 -> 2: near exact
