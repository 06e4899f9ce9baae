"""The shipped training specs train offline from a clean clone and learn (issue 12):
char_gpt beats the unigram model, wine matches scikit-learn's LogisticRegression on the same
split, the digits autoencoder's reconstruction error falls by a stated factor, seq_cnn learns
its synthetic task. Each runs from the repo root, where its data paths point."""

from __future__ import annotations

import csv
import json
import math
import time
from collections import Counter

import numpy as np
import pytest
import torch
from helpers.runhelp import ROOT, SPECS, run_cli

pytestmark = pytest.mark.usefixtures("one_thread")


def _records(run_dir) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _test_loss(run_dir) -> float:
    return [r for r in _records(run_dir) if r.get("split") == "test"][-1]["loss"]


def _accuracy(out: str) -> int:
    import re

    return int(re.search(r"on the (\d+) test (?:images|samples|positions): (\d+) %", out).group(2))


def test_char_gpt_beats_the_unigram_model_in_under_two_minutes(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    started = time.monotonic()
    run = run_cli(SPECS / "char_gpt.yaml", runs=tmp_path / "runs")
    seconds = time.monotonic() - started
    assert run.code == 0, run.err
    text = (ROOT / "specs" / "data" / "python_topics.txt").read_text(encoding="utf-8")
    counts = np.array(list(Counter(text).values())) / len(text)
    unigram = math.exp(float(-(counts * np.log(counts)).sum()))  # about 25.6
    perplexity = math.exp(_test_loss(run.run_dir))
    print(f"char_gpt: test perplexity {perplexity:.2f}, unigram {unigram:.2f}, {seconds:.0f} s")
    assert perplexity < 0.85 * unigram  # clearly below: bigrams and more were learned
    assert seconds < 120


def _wine_split() -> tuple[np.ndarray, ...]:
    """specs/wine.yaml's split, made here with the same seeded permutation."""
    with open(ROOT / "specs" / "data" / "wine.csv", newline="") as f:
        rows = list(csv.reader(f))
    table = np.array([[float(c) for c in row] for row in rows[1:]])
    x, y = table[:, :-1], table[:, -1].astype(int)
    split = torch.randperm(len(y), generator=torch.Generator().manual_seed(0)).numpy()
    n_test = round(len(y) * 0.25)
    test, train = split[:n_test], split[n_test:]
    return x[train], y[train], x[test], y[test]


def test_wine_from_its_csv_matches_logistic_regression(tmp_path, monkeypatch):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    monkeypatch.chdir(ROOT)
    run = run_cli(SPECS / "wine.yaml", runs=tmp_path / "runs")
    assert run.code == 0, run.err
    assert "134 train / 44 test" in run.out
    x_train, y_train, x_test, y_test = _wine_split()
    baseline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    reference = 100 * baseline.fit(x_train, y_train).score(x_test, y_test)
    ours = _accuracy(run.out)
    print(f"wine: test accuracy {ours} %, LogisticRegression {reference:.1f} %")
    assert reference > 85  # the control: the split is a fair one
    assert ours >= reference - 5  # within two wines of 44


def test_the_digits_autoencoder_reconstructs(tmp_path, monkeypatch):
    """Reconstruction MSE on the held-out digits falls at least 4x from the untrained model's."""
    from graphspec.compiler.pipeline import compile_file
    from graphspec.training import datasets

    monkeypatch.chdir(ROOT)
    run = run_cli(SPECS / "autoencoder.yaml", runs=tmp_path / "runs")
    assert run.code == 0, run.err
    compiled = compile_file(str(SPECS / "autoencoder.yaml"))
    data = datasets.from_spec(compiled.spec)
    (images,), target = data.test.items.inputs, data.test.items.target
    assert torch.equal(images, target)  # target: input
    torch.manual_seed(0)
    model = compiled.build().eval()
    with torch.no_grad():
        before = torch.nn.functional.mse_loss(model(images), target).item()
        weights = torch.load(run.run_dir / "weights.pt", weights_only=True)
        model.load_state_dict(weights)
        after = torch.nn.functional.mse_loss(model(images), target).item()
        mean = torch.nn.functional.mse_loss(data.train.items.target.mean(0).expand_as(target),
                                            target).item()  # fmt: skip
    print(f"autoencoder: test MSE {before:.4f} -> {after:.4f} ({before / after:.1f}x); "
          f"mean image {mean:.4f}")  # fmt: skip
    assert after * 4 <= before
    assert after < 0.5 * mean  # better than drawing the average digit


def test_seq_cnn_learns_its_sequence_task(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    run = run_cli(SPECS / "seq_cnn.yaml", runs=tmp_path / "runs")
    assert run.code == 0, run.err
    assert "450 train / 150 test" in run.out
    assert _accuracy(run.out) >= 80  # five classes: chance is 20 %
