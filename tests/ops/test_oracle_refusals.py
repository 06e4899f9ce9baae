"""The op oracle counts only torch's own argument refusals (helpers/op_oracle.py: `_refusal`)."""

from __future__ import annotations

import pytest
from helpers.op_oracle import Case as OracleCase
from helpers.op_oracle import HarnessError, Torch, _refusal, tt

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


def _raised_in(module: dict, filename: str, err: Exception) -> Exception:
    """`err` as raised by a function of `module` whose code claims to live in `filename`."""
    import types

    def boom():
        raise err

    code = boom.__code__.replace(co_filename=filename)
    try:
        types.FunctionType(code, module, closure=boom.__closure__)()
    except Exception as raised:  # noqa: BLE001 - handed back to the caller to judge
        return raised
    raise AssertionError("boom did not raise")


def test_an_error_of_the_harness_is_not_a_refusal():
    """Raised in the oracle's own module (standing in for any bug of ours): a HarnessError."""
    from helpers import op_oracle

    err = _raised_in(vars(op_oracle), op_oracle.__file__, ValueError("a bug in the harness"))
    with pytest.raises(HarnessError):
        _refusal(err, CASE, "cpu", refused=True)


def test_an_error_of_graphspec_itself_is_not_a_refusal():
    import graphspec.core.shapes as ours

    err = _raised_in(vars(ours), ours.__file__, ValueError("a bug in graphspec"))
    with pytest.raises(HarnessError):
        _refusal(err, CASE, "cpu", refused=True)


def test_torch_inside_a_clone_named_graphspec_is_still_torch():
    """A newcomer's venv sits inside the clone: torch's path then holds '/graphspec/'."""
    import torch.nn.functional as torch_module

    path = "/home/me/graphspec/.venv/lib/python3.11/site-packages/torch/nn/functional.py"
    err = _raised_in(vars(torch_module), path, ValueError("Expected 4D input"))
    got = _refusal(err, CASE, "cpu", refused=True)
    assert isinstance(got, Torch) and got.error
