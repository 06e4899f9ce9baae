"""Optimizers a spec can name besides torch.optim's: the update hand-written loops do.

`torch.optim.SGD` updates with `p.add_(grad, alpha=-lr)`, one fused multiply-add with one
rounding. A hand-written loop (the seed's sin fit) writes `a -= learning_rate * a.grad`, which
rounds `lr * grad` first: about one update in sixty lands an ulp apart, and an ill-conditioned fit
carries that into the loss (1.4e-6 relative over the sin fit's 4000 steps). `GradientDescent`
is that loop's update as an optimizer, so such a program is reproduced bit for bit, and
schedulers and checkpoints work with it as with any torch optimizer.

`emit --train` copies the class into the script verbatim (`codegen_train`), so keep it plain
torch with no other imports.
"""

from __future__ import annotations

import torch


class GradientDescent(torch.optim.Optimizer):
    """Plain gradient descent written as a hand-written loop does: p -= lr * p.grad."""

    def __init__(self, params, lr=1e-3):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p -= group["lr"] * p.grad
        return loss
