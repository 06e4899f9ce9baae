"""The op oracle counts only torch's own argument refusals (tests/op_oracle.py: `_refusal`)."""

from __future__ import annotations

import pytest
from op_oracle import Case as OracleCase
from op_oracle import HarnessError, Torch, _refusal, tt

CASE = OracleCase({"op": "relu"}, (tt(2, 3),))


def _raised_here(exc: Exception) -> Exception:
    try:
        raise exc
    except Exception as err:  # noqa: BLE001
        return err


def test_a_torch_runtime_error_is_a_refusal():
    import torch

    try:
        torch.zeros(2, 3) @ torch.zeros(4, 5)
    except RuntimeError as err:
        got = _refusal(err, CASE, "cpu", refused=True)
    assert isinstance(got, Torch) and got.error and not got.unsupported


def test_a_missing_kernel_is_no_verdict():
    got = _refusal(_raised_here(NotImplementedError("no kernel for Int")), CASE, "cpu", True)
    assert got.unsupported


def test_an_error_of_the_harness_is_not_a_refusal():
    """Raised in the oracle's own file (standing in for any bug of ours): a HarnessError."""
    import op_oracle

    def boom():
        raise ValueError("a bug in the harness")

    boom.__code__ = boom.__code__.replace(co_filename=op_oracle.__file__)
    try:
        boom()
    except ValueError as err:
        with pytest.raises(HarnessError):
            _refusal(err, CASE, "cpu", refused=True)
