"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest


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
