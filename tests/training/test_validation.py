"""`train.validation`: metrics while training, early stopping, the best checkpoint.

The overfitting spec learns a linear rule under 30% label noise with a wide MLP on 160
samples: the validation loss falls for a few epochs, then rises as the noise is memorised,
so early stopping must end the run `patience` validations after
the best one, keep that epoch's weights in checkpoints/best.pt (compared tensor by tensor with
the step checkpoint written at the same step), and its `emit --train` script must print the
same numbers and keep the same best weights.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from helpers.runhelp import SPECS, meta, python_child, run_cli

from graphspec.cli import main
from graphspec.training import checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

OVERFIT = """\
name: overfit
model:
  inputs: {x: [N, 20]}
  layers:
    fc1: {op: Linear, out_features: 256}
    act: relu
    fc2: {op: Linear, out_features: 4}
data: {source: arrays, path: noisy.npz, inputs: [x], target: y, batch_size: 20, shuffle: true}
loss: CrossEntropyLoss
optimizer: {op: Adam, lr: 0.003}
train:
  epochs: 40
  log_every: 8
  checkpoint_every: 8          # 160 training samples / 20: a checkpoint at every epoch's end
  keep_checkpoints: 100
  validation:
    {split: 0.2, metrics: [loss, accuracy, top2, per_class], early_stopping: {patience: 3}}
device: cpu
seed: 4
"""
RUN_ONLY = ("model: ", "data: ", "data path: ", "batches: ", "train: ", "wrote: ")


def _records(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _spec(tmp_path, text: str = OVERFIT):
    """The spec beside its data: 200 samples, y = argmax(x W), 30% of labels redrawn."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 20)).astype(np.float32)
    y = (x @ rng.standard_normal((20, 4))).argmax(1)
    flip = rng.random(200) < 0.3
    y[flip] = rng.integers(0, 4, flip.sum())
    np.savez(tmp_path / "noisy.npz", x=x, y=y.astype(np.int64))
    path = tmp_path / "overfit.yaml"
    path.write_text(text.replace("path: noisy.npz", f"path: {tmp_path / 'noisy.npz'}"))
    return path


@pytest.fixture(scope="module")
def overfit(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("overfit")
    res = run_cli(_spec(tmp), runs=tmp / "runs")
    assert res.code == 0, res.err
    return res


def test_early_stopping_stops_patience_validations_after_the_best(overfit):
    run = overfit.run_dir
    vals = [r for r in _records(run) if "val_loss" in r]
    losses = [r["val_loss"] for r in vals]
    best = min(range(len(losses)), key=losses.__getitem__)  # the first lowest
    assert len(vals) == best + 1 + 3, losses  # stopped exactly `patience` after the best
    assert best >= 1, losses  # it learned first: the loss fell before it rose
    assert 3 < len(vals) < 40  # it overfit, and stopped well before the 40 epochs
    assert [r["epoch"] for r in vals] == list(range(1, len(vals) + 1))  # once per epoch
    assert [r["step"] for r in vals] == [8 * e for e in range(1, len(vals) + 1)]
    result = meta(run)["result"]["validation"]
    assert result["early_stopped"] is True and result["final_weights"] == "last"
    assert result["best_epoch"] == best + 1 and result["best_step"] == 8 * (best + 1)
    assert result["best"] == losses[best]
    assert meta(run)["steps"] == vals[-1]["step"]
    out = overfit.out
    assert (
        f"early stopping at step {vals[-1]['step']} (epoch {len(vals)}): val_loss did not "
        "improve by more than 0 for 3 validation(s)"
    ) in out
    assert f"at step {8 * (best + 1)} (epoch {best + 1}); the final evaluation uses the last" in out
    # the metrics asked for: accuracy and top-2 in percent, per class in the records only
    first = vals[0]
    assert 0 <= first["val_accuracy"] <= first["val_top2"] <= 100
    assert set(first["val_per_class"]) <= {"0", "1", "2", "3"}
    assert "per_class" not in out.split("validation at step 8 ")[1].splitlines()[0]
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"val_loss", "val_accuracy", "val_top2", "val_per_class"} <= set(header)


def test_the_best_checkpoint_holds_the_best_epochs_weights(overfit):
    run = overfit.run_dir
    result = meta(run)["result"]["validation"]
    best = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    assert best["best"]["step"] == best["step"] == result["best_step"]
    assert best["best"]["monitor"] == "loss" and best["best"]["value"] == result["best"]
    at_best = torch.load(checkpoint.path_for(run, result["best_step"]), weights_only=True)
    last = torch.load(checkpoint.listing(run)[0], weights_only=True)
    assert best["model"].keys() == at_best["model"].keys()
    assert all(torch.equal(best["model"][k], at_best["model"][k]) for k in best["model"])
    assert not all(torch.equal(best["model"][k], last["model"][k]) for k in best["model"])
    weights = torch.load(run / "weights.pt", weights_only=True)  # final_weights: last
    assert all(torch.equal(weights[k], last["model"][k]) for k in weights)
    # keep_checkpoints never prunes best.pt, and it verifies like any checkpoint
    assert checkpoint.load(run / "checkpoints" / "best.pt", meta(run)["spec_hash"])


def test_final_weights_best_evaluates_and_keeps_the_best(tmp_path, overfit):
    text = OVERFIT.replace("patience: 3}}", "patience: 3}, final_weights: best}")
    text = text.replace("keep_checkpoints: 100", "keep_checkpoints: 1")
    res = run_cli(_spec(tmp_path, text), runs=tmp_path / "runs")
    assert res.code == 0, res.err
    run = res.run_dir
    assert "the final evaluation uses the best weights" in res.out
    best = torch.load(run / "checkpoints" / "best.pt", weights_only=True)["model"]
    weights = torch.load(run / "weights.pt", weights_only=True)
    assert all(torch.equal(weights[k], best[k]) for k in weights)
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert len(names) == 2 and "best.pt" in names  # the last one, and the best beside it
    assert meta(run)["steps"] == meta(overfit.run_dir)["steps"]  # the same training


def test_the_script_validates_and_stops_the_same(tmp_path, overfit):
    script = tmp_path / "train.py"
    assert main(["emit", str(overfit.run_dir / "spec.yaml"), "--train", "-o", str(script)]) == 0
    proc = python_child(str(script), cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    expected = [line for line in overfit.out.splitlines()[:-1] if not line.startswith(RUN_ONLY)]
    assert proc.stdout.splitlines() == expected
    assert any(line.startswith("early stopping at step") for line in expected)
    ours = torch.load(tmp_path / "overfit_best.pth", weights_only=True)
    best = torch.load(overfit.run_dir / "checkpoints" / "best.pt", weights_only=True)["model"]
    assert all(torch.equal(ours[k], best[k]) for k in best)


def test_without_validation_nothing_changes(tmp_path):
    text = OVERFIT.split("  validation:")[0] + "device: cpu\nseed: 4\n"
    assert "validation" not in text
    res = run_cli(_spec(tmp_path, text), "--set", "train.epochs=3", runs=tmp_path / "runs")
    assert res.code == 0, res.err
    assert "validation at step" not in res.out
    assert not (res.run_dir / "checkpoints" / "best.pt").exists()
    assert "validation" not in meta(res.run_dir)["result"]


def test_regression_metrics_and_the_test_split(tmp_path):
    res = run_cli(
        SPECS / "regression.yaml",
        "--set",
        "seed=0",
        "--set",
        "train.validation={split: 0.25, every: 50}",
        runs=tmp_path,
    )
    assert res.code == 0, res.err
    vals = [r for r in _records(res.run_dir) if "val_loss" in r]
    assert [r["step"] for r in vals] == [50, 100, 150, 200]
    for r in vals:  # MSELoss's own loss is the mse
        assert r["val_mse"] == pytest.approx(r["val_loss"], rel=1e-6)
        assert 0 < r["val_mae"] <= r["val_mse"] ** 0.5 + 1e-9
    assert "75 points" in res.out  # the fit is over the 75 training points left
    digits = run_cli(
        SPECS / "digits.yaml",
        "--set",
        "train.epochs=1",
        "--set",
        "train.validation={split: test}",
        runs=tmp_path,
    )
    assert digits.code == 0, digits.err
    [val] = [r for r in _records(digits.run_dir) if "val_loss" in r]
    [test] = [r for r in _records(digits.run_dir) if r.get("split") == "test"]
    assert val["val_loss"] == pytest.approx(test["loss"], rel=1e-6)  # the same split, weights
    assert val["val_accuracy"] == pytest.approx(test["accuracy"])
    assert "val_perplexity" not in val  # (N, C) outputs: no perplexity by default


@pytest.mark.parametrize(
    ("spec", "setting", "code", "words"),
    [
        ("regression.yaml", "{metrics: [accuracy]}", "E-LOSS", "needs class labels"),
        ("digits.yaml", "{metrics: [mae]}", "E-LOSS", "predicts classes"),
        ("digits.yaml", "{early_stopping: {monitor: per_class}}", "E-LOSS", "per_class"),
        ("regression.yaml", "{split: test}", "E-DATA", "has no test split"),
        ("regression.yaml", "{split: 1.5}", "E-", "split"),
        ("regression.yaml", "{metrics: [top0]}", "E-CONSTRAINT", "unknown metric"),
        ("regression.yaml", "{every: 0}", "E-", "every"),
        ("regression.yaml", "{split: 0.999}", "E-DATA", "leaves none to train on"),
    ],
)
def test_bad_validation_settings_are_input_errors(tmp_path, spec, setting, code, words):
    res = run_cli(SPECS / spec, "--set", f"train.validation={setting}", runs=tmp_path)
    assert res.code == 2, res.err
    assert f"error[{code}" in res.err and words in res.err, res.err
    assert "Traceback" not in res.err
    assert not any(tmp_path.rglob("meta.json")), "nothing is written"


def test_emit_refuses_what_run_refuses(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        (SPECS / "regression.yaml")
        .read_text()
        .replace("train: {", "train: {validation: {metrics: [accuracy]}, ")
    )
    assert "validation" in spec.read_text()
    assert main(["emit", str(spec), "--train", "-o", str(tmp_path / "x.py")]) == 2
    assert not (tmp_path / "x.py").exists()


def test_validation_reaches_tensorboard_and_the_loss_plot(overfit):
    from tensorboard.backend.event_processing import event_accumulator  # the test extra

    run = overfit.run_dir
    acc = event_accumulator.EventAccumulator(str(run / "tensorboard"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"val/loss", "val/accuracy", "val/top2", "train/loss"} <= tags
    vals = [r for r in _records(run) if "val_loss" in r]
    events = acc.Scalars("val/loss")
    assert [e.step for e in events] == [r["step"] for r in vals]
    assert [e.value for e in events] == pytest.approx([r["val_loss"] for r in vals], rel=1e-6)
    assert (run / "loss.png").stat().st_size > 0


LM = """\
name: lm
model:
  inputs: {x: {shape: [N, L], dtype: int64}}
  layers:
    emb: {op: Embedding, num_embeddings: 16, embedding_dim: 8}
    fc: {op: Linear, out_features: 16}
    t: {op: transpose, dim0: 1, dim1: 2}
data: {source: arrays, path: PATH, inputs: [x], target: y, batch_size: 20}
loss: CrossEntropyLoss
optimizer: {op: Adam, lr: 0.01}
train: {epochs: 2, validation: {split: 0.2}}
device: cpu
seed: 1
"""


def test_per_token_labels_get_perplexity(tmp_path, overfit):
    """Next-token ids: the output is (N, C, L), so the default metrics add perplexity, the
    exp of the mean cross-entropy per token (here every sample has L tokens: exp(val_loss))."""
    ids = np.random.default_rng(0).integers(0, 16, (120, 9))
    np.savez(tmp_path / "lm.npz", x=ids[:, :8], y=ids[:, 1:])
    spec = tmp_path / "lm.yaml"
    spec.write_text(LM.replace("PATH", str(tmp_path / "lm.npz")))
    res = run_cli(spec, runs=tmp_path / "runs")
    assert res.code == 0, res.err
    vals = [r for r in _records(res.run_dir) if "val_loss" in r]
    assert len(vals) == 2
    for r in vals:
        assert r["val_perplexity"] == pytest.approx(math.exp(r["val_loss"]), rel=1e-6)
        assert 0 <= r["val_accuracy"] <= 100
    # a classifier of (N, C) outputs gets none (the overfit spec lists its metrics; so does
    # the default here, through the generated validate(): checked on digits below)
    assert all("val_perplexity" not in r for r in _records(overfit.run_dir))
