"""Torch as the oracle for the static cost model (graphspec/compiler/cost.py).

`measure` runs one forward pass of a training step on the CPU and counts:
- FLOPs with `torch.utils.flop_counter.FlopCounterMode` (matrix products and convolutions only,
  2 per multiply-accumulate): the model's `2 * macs` must equal it;
- activation memory as the bytes of every tensor autograd saves for backward, caught with
  `torch.autograd.graph.saved_tensors_hooks`, each storage once (a view and its base are one),
  parameters and buffers left out, 0-dim tensors (wrapped Python scalars) left out. tracemalloc
  cannot see torch's allocations and the CPU allocator keeps no peak statistics, so this is the
  measured quantity; it is exactly what a training step holds between forward and backward.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

TOLERANCE = 0.10
"""Relative tolerance of the activation memory (a copy torch makes of a non-contiguous operand,
or an attention backend's own buffers, are not modelled); FLOPs must match exactly."""


def measure(model: torch.nn.Module, inputs: list[torch.Tensor]) -> tuple[int, int]:
    """(FLOPs as FlopCounterMode counts them, saved activation bytes) of one training forward."""
    model.train()
    state = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.dim() > 0 and t.numel() > 0:
            storage = t.untyped_storage()
            if storage.data_ptr() not in state:
                seen[storage.data_ptr()] = storage.nbytes()
        return t

    counter = FlopCounterMode(display=False)
    with (
        torch.backends.mkldnn.flags(enabled=not _has_lstm(model)),
        torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
        counter,
    ):
        model(*inputs)
    return counter.get_total_flops(), sum(seen.values())


def _has_lstm(model: torch.nn.Module) -> bool:
    """On the CPU, nn.LSTM runs as one fused mkldnn kernel: FlopCounterMode counts none of its
    matrix products (0 FLOPs) and autograd keeps mkldnn's opaque workspace instead of the
    cell's tensors. The static model counts the LSTM's math, so for a model holding one the
    measurement runs torch's own LSTM kernel (mkldnn off), whose matrix products the counter
    sees. Only then: every other op is measured as it runs by default."""
    return any(isinstance(m, torch.nn.LSTM) for m in model.modules())


def inputs_for(graph, sizes: dict[str, int], grad: bool = False) -> list[torch.Tensor]:
    """Random inputs of the graph's declared types (ids in range 0..1, masks all False)."""
    xs = []
    for t in graph.inputs:
        shape = t.out.bind(sizes)
        dtype = getattr(torch, t.out.dtype)
        if dtype.is_floating_point:
            x = torch.randn(shape, dtype=dtype, requires_grad=grad)
        elif dtype == torch.bool:
            x = torch.zeros(shape, dtype=dtype)
        else:
            x = torch.randint(0, 2, shape, dtype=dtype)
        xs.append(x)
    return xs


def close(static: int, measured: int, tolerance: float = TOLERANCE) -> bool:
    return abs(static - measured) <= tolerance * max(measured, 1)
