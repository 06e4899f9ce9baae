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
