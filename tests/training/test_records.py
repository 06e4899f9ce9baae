"""The run's records users already read: metrics.csv beside metrics.jsonl, row for row."""

from __future__ import annotations

import csv
import json
import sys

import pytest
from helpers.runhelp import SPECS, run_cli

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _rows(run_dir):
    jsonl = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    with open(run_dir / "metrics.csv", newline="") as f:
        table = list(csv.DictReader(f))
    return jsonl, table


@pytest.mark.parametrize(
    ("spec", "args"),
    [
        ("regression.yaml", ("train.steps=20", "train.log_every=5", "seed=1")),
        ("cifar.yaml", ("train.epochs=1", "data.num_workers=0", "--fake-data", "40")),
    ],
)
def test_metrics_csv_matches_metrics_jsonl(tmp_path, spec, args):
    res = run_cli(SPECS / spec, *args, runs=tmp_path)
    assert res.code == 0, res.err
    jsonl, table = _rows(res.run_dir)
    assert len(jsonl) == len(table) >= 2
    assert list(table[0]) == list(dict.fromkeys(k for r in jsonl for k in r))
    for record, row in zip(jsonl, table, strict=True):
        for key, cell in row.items():
            if key not in record:
                assert cell == ""  # a key this line lacks
            elif isinstance(record[key], (int, float)) and not isinstance(record[key], bool):
                assert float(cell) == pytest.approx(record[key], rel=1e-12)
            elif isinstance(record[key], (dict, list)):  # nested: the cell holds its JSON
                assert json.loads(cell) == record[key]
            else:
                assert cell == str(record[key])
    if spec == "regression.yaml":
        assert [int(r["step"]) for r in table[:4]] == [5, 10, 15, 20]


def test_tensorboard_reads_the_runs_scalars(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator  # the test extra

    res = run_cli(
        SPECS / "regression.yaml", "train.steps=20", "train.log_every=5", "seed=1", runs=tmp_path
    )
    assert res.code == 0, res.err
    jsonl, _ = _rows(res.run_dir)
    acc = event_accumulator.EventAccumulator(str(res.run_dir / "tensorboard"))
    acc.Reload()
    train = [r for r in jsonl if "lr" in r]  # the logged steps
    events = acc.Scalars("train/loss")
    assert [e.step for e in events] == [r["step"] for r in train] == [5, 10, 15, 20]
    assert [e.value for e in events] == pytest.approx([r["loss"] for r in train], rel=1e-6)
    assert [e.value for e in acc.Scalars("train/lr")] == pytest.approx([0.2] * 4)
    final = jsonl[-1]  # the closing evaluation, at the last step
    assert "lr" not in final and [e.value for e in acc.Scalars("eval/train/loss")] == pytest.approx(
        [final["loss"]], rel=1e-6
    )


def test_without_tensorboard_the_run_writes_no_event_files(tmp_path, monkeypatch):
    for name in ("tensorboard", "tensorboard.compat.proto.event_pb2",
                 "tensorboard.compat.proto.summary_pb2",
                 "tensorboard.summary.writer.event_file_writer"):  # fmt: skip
        monkeypatch.setitem(sys.modules, name, None)  # import fails
    res = run_cli(SPECS / "regression.yaml", "train.steps=5", "seed=1", runs=tmp_path)
    assert res.code == 0, res.err
    assert not (res.run_dir / "tensorboard").exists()
    assert (res.run_dir / "metrics.csv").is_file()
