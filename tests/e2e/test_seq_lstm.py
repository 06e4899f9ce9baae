"""The shipped LSTM spec (specs/seq_lstm.yaml) trains offline on its synthetic sequence task and
learns it; its model reads one of the LSTM's several outputs (h_n) by name."""

from __future__ import annotations

import re

import pytest
from helpers.runhelp import SPECS, run_cli

pytestmark = pytest.mark.usefixtures("one_thread")


def test_seq_lstm_learns_its_sequence_task(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # its data paths resolve beside the spec, from any folder
    run = run_cli(SPECS / "seq_lstm.yaml", runs=tmp_path / "runs")
    assert run.code == 0, run.err
    assert "450 train / 150 test" in run.out
    accuracy = int(re.search(r"on the 150 test samples: (\d+) %", run.out).group(1))
    assert accuracy >= 80, run.out  # five classes: chance is 20 %
    model = (run.run_dir / "model.py").read_text()
    assert "lstm, (lstm_h_n, lstm_c_n) = self.lstm(steps)" in model  # as torch returns them
    assert "lstm_h_n.narrow(0, 1, 1)" in model
