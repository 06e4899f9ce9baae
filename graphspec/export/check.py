"""The output check: the model read back from the exported file against the eager module.

Floating outputs agree when |exported - eager| <= atol + rtol * |eager| everywhere (the rule of
torch.testing.assert_close); integer and bool outputs must be equal. The largest difference is
always reported, so a refusal says by how much and where.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

ATOL, RTOL = 1e-5, 1e-4  # float32 across kernels (onnxruntime's LayerNorm, softmax)


@dataclass(frozen=True)
class Agreement:
    ok: bool
    worst: float
    """The largest absolute difference over all outputs (inf for a shape or dtype mismatch)."""
    where: str
    """The output it is in, and what went wrong if not a number."""


def flatten(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in flatten(item)]
    raise TypeError(f"model returned {type(out).__name__}, not tensors")


def compare(
    exported: list[torch.Tensor],
    eager: list[torch.Tensor],
    names: list[str],
    atol: float,
    rtol: float,
) -> Agreement:
    if len(exported) != len(eager):
        return Agreement(False, float("inf"), f"{len(exported)} outputs, eager has {len(eager)}")
    results = [_one(n, g, w, atol, rtol) for n, g, w in zip(names, exported, eager, strict=True)]
    failed = [r for r in results if not r.ok]
    worst = max(r.worst for r in results) if results else 0.0
    where = (failed or sorted(results, key=lambda r: -r.worst) or [Agreement(True, 0, "")])[0]
    return Agreement(not failed, worst, where.where)


def _one(name: str, got: torch.Tensor, want: torch.Tensor, atol: float, rtol: float) -> Agreement:
    got, want = got.detach().cpu(), want.detach().cpu()
    if got.shape != want.shape:
        return Agreement(
            False, float("inf"), f"'{name}': shape {tuple(got.shape)}, eager {tuple(want.shape)}"
        )
    if got.dtype != want.dtype:
        return Agreement(False, float("inf"), f"'{name}': dtype {got.dtype}, eager {want.dtype}")
    exact = not want.dtype.is_floating_point  # ints and bools: equal or not
    got, want = got.to(torch.float64), want.to(torch.float64)
    diff = (got - want).abs()
    diff = torch.where(torch.isnan(got) & torch.isnan(want), 0.0, diff)  # NaN where eager has it
    diff = torch.nan_to_num(diff, nan=float("inf"))
    limit = 0.0 if exact else atol + rtol * torch.nan_to_num(want.abs())
    worst = float(diff.max()) if diff.numel() else 0.0
    return Agreement(not bool((diff > limit).any()), worst, f"'{name}'")
