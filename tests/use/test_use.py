"""Using a trained run: the final test metrics of every task against hand computations and
scikit-learn, `graphspec evaluate` reproducing them, `graphspec predict` and `sample` against
hand-written torch programs that read only the run folder's files (model.py, weights.pt,
preprocess.json), and metrics a task cannot have refused at validate.

The runs are tiny (a few steps on a few dozen samples) and made once per module."""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.runhelp import run_cli
from sklearn import metrics as sk

from graphspec.cli import main


def cli(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def final_record(run_dir: Path) -> dict:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("split")][-1]


def model_of(run_dir: Path) -> torch.nn.Module:
    """The run's model.py imported as a plain module, its weights.pt loaded: no graphspec."""
    spec = importlib.util.spec_from_file_location(f"m_{run_dir.name}", run_dir / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.Net()  # each spec here names its class Net
    model.load_state_dict(torch.load(run_dir / "weights.pt", weights_only=True))
    return model.eval()


def state_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "preprocess.json").read_text())


def seeded_split(n: int, fraction: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The sources' test split: a permutation from a generator seeded by split_seed."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    cut = round(n * fraction)
    return order[:cut], order[cut:]


# -- the runs ---------------------------------------------------------------------------------

REGRESSION = """\
name: reg
model:
  class: Net
  inputs: {x: [N, 3]}
  layers:
    fc: {op: Linear, out_features: 1}
    out: {op: squeeze, dim: 1}
data: {source: table, path: reg.csv, target: y, standardize: true, test_fraction: 0.2,
       batch_size: 16}
loss: MSELoss
optimizer: {op: Adam, lr: 0.05}
train: {epochs: 2}
seed: 0
"""
BINARY = """\
name: bin
model:
  class: Net
  inputs: {x: [N, 4]}
  layers:
    fc: {op: Linear, out_features: 1}
data: {source: arrays, path: bin.npz, test_fraction: 0.25, batch_size: 30}
loss: BCEWithLogitsLoss
optimizer: {op: Adam, lr: 0.05}
train: {epochs: 2}
seed: 0
"""
IMAGES = """\
name: pics
model:
  class: Net
  inputs: {x: [N, 3, 8, 8]}
  layers:
    flat: {op: flatten, start_dim: 1}
    fc: {op: Linear, out_features: 2}
data:
  source: ImageFolder
  root: pics/train
  test_root: pics/test
  transforms: [ToTensor, {Normalize: {mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}}]
  batch_size: 4
  num_workers: 0
loss: CrossEntropyLoss
optimizer: {op: SGD, lr: 0.1}
train: {epochs: 1}
evaluate: {examples: 2}
seed: 0
"""
TEXT = """\
name: chars
model:
  class: Net
  inputs: {idx: {shape: [N, T], dtype: int64}}
  layers:
    emb: {op: Embedding, num_embeddings: 5, embedding_dim: 8, in: idx}
    head: {op: Linear, out_features: 5}
    out: {op: transpose, dim0: 1, dim1: 2}
data: {source: text, path: t.txt, block_size: 8, test_fraction: 0.2, batch_size: 8}
loss: CrossEntropyLoss
optimizer: {op: Adam, lr: 0.05}
train: {epochs: 2}
evaluate: {examples: 3}
seed: 0
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("use")
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=(60, 3))
    y = x @ [1.5, -2.0, 0.5] + 3 + 0.1 * rng.normal(size=60)
    _table(root / "reg.csv", ["a", "b", "c", "y"], np.column_stack([x, y]))
    _table(root / "reg_new.csv", ["a", "b", "c", "y"], np.column_stack([x[:7] + 1, y[:7]]))
    _table(root / "reg_predict.csv", ["c", "a", "b"], x[:5][:, [2, 0, 1]])  # any column order
    xb = rng.normal(size=(80, 4)).astype("float32")
    yb = ((xb[:, 0] + 0.5 * xb[:, 1] + 0.5 * rng.normal(size=80)) > 0).astype("float32")[:, None]
    np.savez(root / "bin.npz", x=xb, y=yb)
    _images(root, rng)
    (root / "t.txt").write_text("abcd " * 40)
    for name, text in [("reg", REGRESSION), ("bin", BINARY), ("pics", IMAGES), ("chars", TEXT)]:
        (root / f"{name}.yaml").write_text(text)
    return root


def _table(path: Path, header: list[str], rows: np.ndarray) -> None:
    lines = [",".join(header)] + [",".join(f"{v:.6f}" for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")


def _images(root: Path, rng) -> None:
    from PIL import Image

    for split, count in (("train", 8), ("test", 4)):
        for label, name in enumerate(("cat", "dog")):
            (root / "pics" / split / name).mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 128, size=(8, 8, 3)) + 127 * label
                Image.fromarray(pixels.astype("uint8")).save(
                    root / "pics" / split / name / f"{i}.png"
                )


@pytest.fixture(scope="module")
def runs(folder) -> dict[str, Path]:
    made = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        for name in ("reg", "bin", "pics", "chars"):
            plots = [] if name == "pics" else ["--no-plots"]
            result = run_cli(f"{name}.yaml", *plots, runs=folder / "runs")
            assert result.code == 0, result.err
            made[name] = folder / result.run_dir
            made[f"{name}_out"] = result.out
    return made


# -- final test metrics -----------------------------------------------------------------------


def test_regression_reports_test_metrics_equal_to_a_hand_computation(folder, runs):
    """Standardised CSV regression, test_fraction 0.2: MSE, MAE, RMSE, R2 over the 12 test rows
    from the stored mean/std and weights.pt, by numpy; the stored stats are the training rows'."""
    run = runs["reg"]
    raw = np.loadtxt(folder / "reg.csv", delimiter=",", skiprows=1, dtype=np.float32)
    test, train = seeded_split(len(raw), 0.2)
    stats = state_of(run)["standardize"]
    x_train = torch.from_numpy(raw[train.numpy(), :3])
    assert np.allclose(stats["mean"], x_train.mean(0).numpy(), rtol=1e-6)
    assert np.allclose(stats["std"], x_train.std(0).numpy(), rtol=1e-6)
    w = torch.load(run / "weights.pt", weights_only=True)
    x = (raw[test.numpy(), :3] - np.array(stats["mean"])) / np.array(stats["std"])
    p = x @ w["fc.weight"].double().numpy()[0] + w["fc.bias"].item()
    y = raw[test.numpy(), 3].astype(np.float64)
    hand = {
        "mse": np.mean((p - y) ** 2),
        "mae": np.mean(np.abs(p - y)),
        "rmse": math.sqrt(np.mean((p - y) ** 2)),
        "r2": 1 - np.sum((p - y) ** 2) / np.sum((y - y.mean()) ** 2),
    }
    record = final_record(run)
    assert record["split"] == "test" and record["samples"] == 12
    for name, value in hand.items():
        assert record[name] == pytest.approx(value, rel=1e-5), name
    assert "test split, 12 samples: loss" in runs["reg_out"]


def test_bce_run_reports_accuracy_f1_and_roc_auc_equal_to_scikit_learns(folder, runs):
    run = runs["bin"]
    data = np.load(folder / "bin.npz")
    test, _ = seeded_split(80, 0.25)
    logits = model_of(run)(torch.from_numpy(data["x"][test.numpy()])).detach().reshape(-1)
    y = data["y"][test.numpy()].reshape(-1).astype(int)
    prob = torch.sigmoid(logits).numpy()
    record = final_record(run)
    assert record["samples"] == 20
    assert record["accuracy"] == pytest.approx(100 * sk.accuracy_score(y, prob >= 0.5))
    assert record["f1"] == pytest.approx(sk.f1_score(y, prob >= 0.5))
    assert record["precision"] == pytest.approx(sk.precision_score(y, prob >= 0.5))
    assert record["auroc"] == pytest.approx(sk.roc_auc_score(y, prob))


def test_a_classifier_writes_its_confusion_matrix_with_class_names(runs):
    run = runs["pics"]
    rows = list(csv.reader((run / "confusion.csv").read_text().splitlines()))
    assert rows[0] == ["true \\ predicted", "cat", "dog"]
    assert [r[0] for r in rows[1:]] == ["cat", "dog"]
    assert sum(int(v) for r in rows[1:] for v in r[1:]) == 8  # every test image once
    assert (run / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert final_record(run)["confusion_matrix"]["classes"] == ["cat", "dog"]


def test_a_next_token_run_reports_perplexity_and_prints_its_examples_as_text(runs):
    record = final_record(runs["chars"])
    assert record["perplexity"] == pytest.approx(math.exp(record["loss"]), rel=1e-5)
    truth = next(line for line in runs["chars_out"].splitlines() if line.startswith("GroundTruth"))
    assert set(truth.split()[1:]) <= set("abcd")  # characters, not ids


# -- evaluate ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["reg", "bin", "pics", "chars"])
def test_evaluate_reproduces_the_final_test_metrics_exactly(folder, runs, name, monkeypatch):
    monkeypatch.chdir(folder)
    code, out, err = cli("evaluate", runs[name])
    assert code == 0, err
    written = json.loads((runs[name] / "evaluation.json").read_text())
    record = final_record(runs[name])
    assert written == {k: v for k, v in record.items() if k in written}
    assert set(written) >= {"split", "samples", "loss"} and len(written) > 4


def test_evaluate_on_another_labelled_file_reports_that_files_metrics(folder, runs, monkeypatch):
    monkeypatch.chdir(folder)
    code, out, err = cli("evaluate", runs["reg"], "--data", "reg_new.csv")
    assert code == 0, err
    result = json.loads((runs["reg"] / "evaluation-reg_new.json").read_text())
    raw = np.loadtxt(folder / "reg_new.csv", delimiter=",", skiprows=1)
    stats = state_of(runs["reg"])["standardize"]
    w = torch.load(runs["reg"] / "weights.pt", weights_only=True)
    p = (raw[:, :3] - stats["mean"]) / stats["std"] @ w["fc.weight"].double().numpy()[0]
    p += w["fc.bias"].item()
    assert result["samples"] == 7
    assert result["mse"] == pytest.approx(np.mean((p - raw[:, 3]) ** 2), rel=1e-5)
    assert "mse" in out


# -- predict and sample -----------------------------------------------------------------------


def _predictions(path: Path) -> list[list[str]]:
    return list(csv.reader(path.read_text().splitlines()))


def test_predict_on_a_table_without_its_target_equals_a_hand_program(folder, runs, monkeypatch):
    monkeypatch.chdir(folder)
    code, _, err = cli("predict", runs["reg"], "--data", "reg_predict.csv", "-o", "p.csv")
    assert code == 0, err
    rows = _predictions(folder / "p.csv")
    stats = state_of(runs["reg"])["standardize"]
    raw = np.loadtxt(folder / "reg_predict.csv", delimiter=",", skiprows=1)[:, [1, 2, 0]]
    x = (torch.tensor(raw, dtype=torch.float32) - torch.tensor(stats["mean"])) / torch.tensor(
        stats["std"]
    )
    hand = model_of(runs["reg"])(x).detach()
    assert rows[0] == ["sample", "prediction"]
    assert [float(r[1]) for r in rows[1:]] == pytest.approx(hand.tolist(), rel=1e-6)


def test_predict_names_the_file_and_column_a_table_lacks(folder, runs, monkeypatch):
    monkeypatch.chdir(folder)
    (folder / "short.csv").write_text("a,b\n1,2\n")
    code, _, err = cli("predict", runs["reg"], "--data", "short.csv")
    assert code == 2
    assert "E-DATA" in err and "'short.csv' has no column 'c'" in err


def test_predict_on_an_npz_equals_a_hand_program(folder, runs, monkeypatch):
    monkeypatch.chdir(folder)
    code, out, err = cli("predict", runs["bin"], "--data", "bin.npz")
    assert code == 0, err
    rows = list(csv.reader(out.splitlines()))
    x = torch.from_numpy(np.load(folder / "bin.npz")["x"])
    hand = torch.sigmoid(model_of(runs["bin"])(x).detach()).reshape(-1)
    assert rows[0] == ["sample", "probability", "prediction"]
    assert [float(r[1]) for r in rows[1:]] == pytest.approx(hand.tolist(), rel=1e-6)
    assert [int(r[2]) for r in rows[1:]] == (hand >= 0.5).long().tolist()


def test_predict_refuses_arrays_of_another_shape_naming_file_and_shape(folder, runs, monkeypatch):
    monkeypatch.chdir(folder)
    np.save(folder / "wide.npy", np.zeros((3, 5), dtype="float32"))
    code, _, err = cli("predict", runs["bin"], "--data", "wide.npy")
    assert code == 2
    assert "E-DATA" in err and "wide.npy" in err and "(3, 5)" in err and "(N, 4)" in err


def test_predict_on_an_image_folder_gives_class_names_as_a_hand_program(folder, runs, monkeypatch):
    import torchvision.transforms as T
    from PIL import Image

    monkeypatch.chdir(folder)
    code, out, err = cli("predict", runs["pics"], "--data", "pics/test", "--top-k", "2")
    assert code == 0, err
    rows = list(csv.reader(out.splitlines()))
    files = sorted((folder / "pics/test").rglob("*.png"))
    prep = T.Compose([T.ToTensor(), T.Normalize([0.5] * 3, [0.25] * 3)])
    batch = torch.stack([prep(Image.open(f).convert("RGB")) for f in files])
    prob = torch.softmax(model_of(runs["pics"])(batch).detach(), dim=1)
    names = state_of(runs["pics"])["classes"]
    assert names == ["cat", "dog"]
    assert rows[0] == ["sample", "class_1", "probability_1", "class_2", "probability_2"]
    assert [r[0] for r in rows[1:]] == [str(f.relative_to(folder / "pics/test")) for f in files]
    assert [r[1] for r in rows[1:]] == [names[i] for i in prob.argmax(1).tolist()]
    assert [float(r[2]) for r in rows[1:]] == pytest.approx(prob.max(1).values.tolist())


def test_sample_continues_a_prompt_as_a_hand_program_does(folder, runs, monkeypatch):
    monkeypatch.chdir(folder)
    code, out, err = cli("sample", runs["chars"], "--prompt", "ab", "--tokens", "12",
                         "--temperature", "0.8", "--top-k", "3", "--seed", "7")  # fmt: skip
    assert code == 0, err
    chars = state_of(runs["chars"])["vocabulary"]
    assert chars == sorted(set("abcd "))
    model, generator = model_of(runs["chars"]), torch.Generator().manual_seed(7)
    ids = torch.tensor([[chars.index(c) for c in "ab"]])
    with torch.no_grad():
        for _ in range(12):
            logits = model(ids[:, -8:])[:, :, -1] / 0.8
            kth = logits.topk(3).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
            following = torch.multinomial(torch.softmax(logits, dim=1), 1, generator=generator)
            ids = torch.cat([ids, following], dim=1)
    assert out.rstrip("\n") == "".join(chars[i] for i in ids[0].tolist())


def test_sample_refuses_a_prompt_with_unseen_characters(folder, runs, monkeypatch):
    monkeypatch.chdir(folder)
    code, _, err = cli("sample", runs["chars"], "--prompt", "xyz")
    assert code == 2 and "E-DATA" in err and "'x'" in err


# -- refused at validate ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "section", "wrong"),
    [
        (REGRESSION, "evaluate: {accuracy: true}", "accuracy"),
        (REGRESSION, "evaluate: {metrics: [mse, f1]}", "f1"),
        (BINARY, "evaluate: {metrics: [r2]}", "r2"),
        (BINARY, "train: {epochs: 1, validation: {metrics: [loss, auroc]}}", "auroc"),
    ],
)
def test_metrics_a_task_cannot_have_are_refused_at_validate(tmp_path, spec, section, wrong):
    text = spec.replace("train: {epochs: 2}", section if section.startswith("train") else
                        "train: {epochs: 2}\n" + section)  # fmt: skip
    path = tmp_path / "s.yaml"
    path.write_text(text)
    code, _, err = cli("validate", path)
    assert code == 2
    assert "E-LOSS" in err and f"'{wrong}'" in err
    line = next(i for i, t in enumerate(text.splitlines(), 1) if wrong in t and ":" in t)
    assert f"s.yaml:{line}:" in err


def test_metrics_a_task_has_pass_validate(tmp_path):
    """The negative control: accuracy, F1 and ROC-AUC on a BCE run, R2 on a regression."""
    for spec, section in [(BINARY, "evaluate: {accuracy: true, metrics: [f1, auroc]}"),
                          (REGRESSION, "evaluate: {metrics: [r2, rmse]}")]:  # fmt: skip
        (tmp_path / "s.yaml").write_text(spec + section + "\n")
        code, out, err = cli("validate", tmp_path / "s.yaml")
        assert code == 0, err


# -- exports carry what serving needs ---------------------------------------------------------


def _doc_script() -> str:
    """The onnxruntime script of docs/run.md's export section, as the docs show it."""
    from helpers.runhelp import ROOT

    text = (ROOT / "docs" / "run.md").read_text()
    after = text[text.index("- **Metadata.**") :]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_docs_onnxruntime_script_classifies_an_image_from_the_metadata(folder, runs, tmp_path):
    from helpers.runhelp import python_child

    onnx_file = tmp_path / "pics.onnx"
    code, _, err = cli("export", "--weights", runs["pics"], "--format", "onnx", "-o", onnx_file)
    assert code == 0, err
    (tmp_path / "classify.py").write_text(_doc_script())
    image = folder / "pics" / "test" / "dog" / "0.png"
    proc = python_child("classify.py", onnx_file, image, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "graphspec" not in _doc_script() and "torch" not in _doc_script()
    code, out, err = cli("predict", runs["pics"], "--data", image)
    assert code == 0, err
    assert proc.stdout.strip() == list(csv.reader(out.splitlines()))[1][1]  # predict's class


def test_a_pt2_export_carries_class_names_and_normalisation(runs, tmp_path):
    pt2 = tmp_path / "pics.pt2"
    code, _, err = cli("export", "--weights", runs["pics"], "-o", pt2)
    assert code == 0, err
    extra = {"classes": "", "normalize": "", "preprocess": ""}
    torch.export.load(pt2, extra_files=extra)
    assert json.loads(extra["classes"]) == ["cat", "dog"]
    assert json.loads(extra["normalize"]) == {"mean": [0.5] * 3, "std": [0.25] * 3}
    assert json.loads(extra["preprocess"])["task"] == "classification"
