"""Training-step time: the module graphspec emits against the hand-written seed module.

A step is zero_grad + forward + loss + backward + SGD update, as in the seed programs. Both
modules get the same weights (load_state_dict) and the same batch. Steps alternate one by one
(A B B A ...), each timed alone, so a burst of load from other processes hits both sides; a round
is N such pairs, and the target is a median per-round ratio (emitted / seed) of at most 1.02.

    .venv/bin/python bench/step_time.py [--rounds 101] [--threads 1] [--no-record]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from _common import ROOT, load_average, machine_lines, median, record, spread, table
from torch import nn, optim

sys.path.insert(0, str(ROOT))
from graphspec.compiler.pipeline import compile_file  # noqa: E402
from tests.helpers.seed_programs import CifarNet, LeNet, RegressionNet  # noqa: E402

TARGET = 1.02
THREADS_HELP = (
    "torch threads (default 1): with 2 threads on 2 busy cores, OpenMP's barriers make a LeNet "
    "step 10-30x slower and the ratios swing 0.1-3x, so one thread measures the code, not the load"
)


@dataclass
class Case:
    name: str
    spec: str | None
    """None for the A/A control: a second seed module stands in for the emitted one."""
    seed: Callable[[], nn.Module]
    inputs: Callable[[], tuple[torch.Tensor, torch.Tensor]]
    loss: Callable[[], nn.Module]
    optimizer: Callable[[nn.Module], optim.Optimizer]
    steps: int
    """Steps per timed stretch: about 25 ms at one thread, short enough to interleave finely."""


def _lenet(batch: int) -> Callable[[], tuple[torch.Tensor, torch.Tensor]]:
    return lambda: (torch.randn(batch, 1, 32, 32), torch.randn(batch, 10))


def _cifar_batch() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))


def _regression_batch() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.linspace(-1, 1, 100).unsqueeze(1)
    return x, x.pow(2) + 0.2 * torch.rand_like(x)


def _sgd(lr: float, momentum: float = 0.0) -> Callable[[nn.Module], optim.Optimizer]:
    return lambda m: optim.SGD(m.parameters(), lr=lr, momentum=momentum)


CASES = [
    Case("LeNet, batch 1", "specs/lenet.yaml", LeNet, _lenet(1), nn.MSELoss, _sgd(0.01), 10),
    Case("LeNet, batch 64", "specs/lenet.yaml", LeNet, _lenet(64), nn.MSELoss, _sgd(0.01), 4),
    # The method's noise floor: the seed against a copy of itself, timed the same way.
    Case("control: seed vs seed, LeNet 64", None, LeNet, _lenet(64), nn.MSELoss, _sgd(0.01), 4),
    Case(
        "CIFAR net, batch 4",
        "specs/cifar.yaml",
        CifarNet,
        _cifar_batch,
        nn.CrossEntropyLoss,
        _sgd(0.001, 0.9),
        10,
    ),
    Case(
        "regression net, 100x1",
        "specs/regression.yaml",
        RegressionNet,
        _regression_batch,
        nn.MSELoss,
        _sgd(0.2),
        50,
    ),
]


def make_stepper(model: nn.Module, case: Case, x: torch.Tensor, y: torch.Tensor):
    criterion, opt = case.loss(), case.optimizer(model)

    def step() -> float:
        start = time.perf_counter()
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()
        return time.perf_counter() - start

    return step


def pair(case: Case) -> tuple[nn.Module, nn.Module]:
    """(emitted, seed) with the seed's weights copied in; checked to compute the same output."""
    seed = case.seed()
    emitted = case.seed() if case.spec is None else compile_file(str(ROOT / case.spec)).build()
    emitted.load_state_dict(seed.state_dict())
    x, _ = case.inputs()
    with torch.no_grad():
        diff = (emitted(x) - seed(x)).abs().max().item()
    if diff > 1e-6:
        raise SystemExit(f"{case.name}: emitted and seed outputs differ by {diff}")
    return emitted, seed


def measure(case: Case, rounds: int) -> tuple[list[float], list[float]]:
    """Per-round mean step times (emitted, seed); steps alternate one by one inside a round."""
    emitted, seed = pair(case)
    x, y = case.inputs()
    step_emitted = make_stepper(emitted, case, x, y)
    step_seed = make_stepper(seed, case, x, y)
    for _ in range(case.steps):  # warm-up: allocator, autograd and optimizer state
        step_emitted(), step_seed()
    a, b = [], []
    gc.collect()
    gc.disable()  # a collection would land on whichever side happened to allocate last
    try:
        for i in range(rounds):
            ta = tb = 0.0
            for k in range(case.steps):  # A B B A ...: neither side always runs first
                if (i + k) % 2:
                    tb += step_seed()
                    ta += step_emitted()
                else:
                    ta += step_emitted()
                    tb += step_seed()
            a.append(ta / case.steps)
            b.append(tb / case.steps)
    finally:
        gc.enable()
    return a, b


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=101)
    ap.add_argument("--threads", type=int, default=1, help=THREADS_HELP)
    ap.add_argument("--no-record", action="store_true", help="print only; leave RESULTS.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    load_before = load_average()
    rows, worst = [], 0.0
    for case in CASES:
        a, b = measure(case, args.rounds)
        ratio = median([x / y for x, y in zip(a, b, strict=True)])
        if case.spec is not None:
            worst = max(worst, ratio)
        rows.append(
            [
                case.name,
                case.steps,
                f"{median(a) * 1e3:.3f}",
                f"{median(b) * 1e3:.3f}",
                f"{ratio:.3f}",
                spread([x / y for x, y in zip(a, b, strict=True)]),
            ]
        )
        print(" | ".join(str(c) for c in rows[-1]), flush=True)
    header = [
        "model",
        "steps/round",
        "emitted ms/step",
        "seed ms/step",
        "ratio (median)",
        "ratio min-max",
    ]
    verdict = "meets" if worst <= TARGET else "MISSES"
    summary = f"worst median ratio emitted / seed = {worst:.3f} (target <= {TARGET}: {verdict})"
    extra = [
        f"torch threads {torch.get_num_threads()}; {args.rounds} rounds per model, "
        "steps alternating one by one, after one warm-up round"
    ]
    body = [*machine_lines(load_before, extra), "", *table(header, rows), "", f"**{summary}**"]
    print("\n".join(body))
    if not args.no_record:
        record("Training step (bench/step_time.py)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
