"""Fixtures shared by several test modules."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config):
    """Under pytest-xdist (pyproject's addopts: one worker per core), each worker and the
    processes it starts run torch on one thread: two workers with a thread per core each would
    fight for the cores (torch's threads spin while they wait)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread: fast on a busy 2-core machine, and the same in every run compared.

    Modules that train ask for it with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    import torch  # here, so that collecting the torch-free tests does not import it

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_collection_modifyitems(config, items):
    """`soak` tests run only when asked for (`-m soak`): they take an hour, not a minute."""
    if "soak" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if "soak" not in item.keywords]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if "soak" in i.keywords])
        items[:] = kept
