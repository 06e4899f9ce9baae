"""training/startup.py: a fresh `graphspec run` process loads torch with the collector paused and
frozen; a process that already holds torch (this one) is left alone."""

from __future__ import annotations

import gc

from helpers.runhelp import SPECS, python_child

from graphspec.training.startup import load_torch

PROBE = """
import gc, sys
from graphspec.training.startup import load_torch
assert 'torch' not in sys.modules
print(load_torch(), gc.isenabled(), gc.get_freeze_count(), 'torch._dynamo' in sys.modules)
"""

RUN = """
import gc, sys
from graphspec.cli import main
code = main(['run', sys.argv[1], 'train.steps=2', '--no-plots', '-q', '--runs-dir', 'runs'])
print(code, gc.isenabled(), gc.get_freeze_count())
"""


def test_a_fresh_process_freezes_what_torch_loaded(tmp_path):
    done = python_child("-c", PROBE, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    fresh, enabled, frozen, dynamo = done.stdout.split()
    assert fresh == "True" and enabled == "True" and dynamo == "True"
    assert int(frozen) > 100_000  # torch's modules, classes and functions


def test_a_fresh_run_trains_with_the_collector_on_and_torch_frozen(tmp_path):
    done = python_child("-c", RUN, SPECS / "regression.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    code, enabled, frozen = done.stdout.split()[-3:]
    assert code == "0" and enabled == "True" and int(frozen) > 100_000


def test_a_process_holding_torch_is_left_alone():
    import torch  # noqa: F401 (this process holds torch, as a test or a notebook does)

    before = gc.get_freeze_count()
    assert load_torch() is False
    assert gc.get_freeze_count() == before and gc.isenabled()


BLOCKED = """
import sys
class NoTorch:  # torch absent, as after `pip install -e .` without the train extra
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name.split(".")[0])
sys.meta_path.insert(0, NoTorch())
from graphspec.cli import main
sys.exit(main(['run', sys.argv[1], '--runs-dir', 'runs']))
"""


def test_a_run_without_torch_says_what_to_install(tmp_path):
    done = python_child("-c", BLOCKED, SPECS / "regression.yaml", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "error[E-INSTALL]: graphspec run needs torch" in done.stderr
    assert "pip install 'graphspec[train]'" in done.stderr and "crash" not in done.stderr
    assert not (tmp_path / "runs").exists()  # nothing written
