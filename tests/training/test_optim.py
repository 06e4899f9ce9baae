"""graphspec's own optimizer (training/optim.py): a hand-written loop's update, as an optimizer."""

from __future__ import annotations

import inspect

import torch

from graphspec.language.recipe import OPTIMIZERS, OWN_OPTIMIZERS
from graphspec.training import optim


def test_own_optimizers_are_the_classes_in_optim_py():
    classes = {
        name
        for name, obj in vars(optim).items()
        if inspect.isclass(obj)
        and issubclass(obj, torch.optim.Optimizer)
        and obj.__module__ == optim.__name__
    }
    assert classes == set(OWN_OPTIMIZERS) and classes <= set(OPTIMIZERS)
    assert not any(hasattr(torch.optim, name) for name in OWN_OPTIMIZERS)


def _grads(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(4096, generator=g), torch.randn(4096, generator=g) * 1e3


def test_step_is_the_hand_written_update_bit_for_bit():
    start, grad = _grads()
    lr = 1e-6
    p = start.clone().requires_grad_()
    p.grad = grad.clone()
    optim.GradientDescent([p], lr=lr).step()
    by_hand = start.clone()
    by_hand -= lr * grad
    assert torch.equal(p.detach(), by_hand)
    # torch.optim.SGD's fused p + (-lr)*g rounds once: some elements land an ulp apart
    q = start.clone().requires_grad_()
    q.grad = grad.clone()
    torch.optim.SGD([q], lr=lr).step()
    assert not torch.equal(q.detach(), by_hand)
    torch.testing.assert_close(q.detach(), by_hand, rtol=1e-6, atol=0)


def test_closure_scheduler_and_state_dict():
    p = torch.ones(3, requires_grad=True)
    opt = optim.GradientDescent([p], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)
    assert opt.step(closure).item() == 3.0
    assert torch.equal(p.detach(), torch.zeros(3))  # 1 - 0.5 * 2
    sched.step()
    assert opt.param_groups[0]["lr"] == 0.05
    again = optim.GradientDescent([p], lr=0.5)
    again.load_state_dict(opt.state_dict())
    assert again.param_groups[0]["lr"] == 0.05
