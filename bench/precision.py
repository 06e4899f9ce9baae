"""`train.compile`, `train.amp: bf16` and `train.channels_last` on the CPU: each against eager
float32, training steps of the CIFAR net, the BERT block and the zoo ResNet-18.

Each variant is what the generated program does (program/functions.py `prepare` and
`train_step`): `net.to(memory_format=torch.channels_last)` with 4-D inputs made channels-last,
`torch.autocast("cpu", dtype=torch.bfloat16)` around forward and loss, `torch.compile(net)`.
A step is zero_grad + forward + MSE against a fixed target + backward + SGD. Per model, the
variants' steps alternate one by one after warm-up (compile's first steps, which compile, are
timed apart); the ratio is the median over rounds of variant / eager. A ratio below 1 wins.

    .venv/bin/python bench/precision.py [--rounds 5] [--steps 3] [--no-compile]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import torch
from _common import ROOT, load_average, machine_lines, median, record, spread, table

sys.path.insert(0, str(ROOT))
from graphspec.compiler.pipeline import compile_file  # noqa: E402

MODELS = {
    "CIFAR net, batch 64": ("specs/cifar.yaml", lambda: (torch.randn(64, 3, 32, 32),)),
    "BERT block, ids (8, 30)": (
        "specs/bert_attention.yaml",
        lambda: (torch.randint(1, 1000, (8, 30)), torch.randint(0, 2, (8, 30))),
    ),
    "zoo ResNet-18, batch 4, 3x112x112": (
        "specs/zoo/resnet18.yaml",
        lambda: (torch.randn(4, 3, 112, 112),),
    ),
}


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def stepper(spec: str, inputs, variant: str, device: str = "cpu") -> Callable[[], float]:
    torch.manual_seed(0)
    net = compile_file(ROOT / spec).build().to(device)
    inputs = tuple(x.to(device) for x in inputs)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    amp = {"amp bf16": torch.bfloat16, "amp fp16": torch.float16}.get(variant)
    scaler = torch.amp.GradScaler(device, enabled=variant == "amp fp16")
    if variant == "channels_last":
        net = net.to(memory_format=torch.channels_last)
        inputs = tuple(
            x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x for x in inputs
        )
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-3)
    with torch.no_grad():
        target = torch.zeros_like(_first(net(*inputs)).float())
    model = torch.compile(net) if variant == "compile" else net

    def step() -> float:
        sync()
        start = time.perf_counter()
        optimizer.zero_grad()
        with torch.autocast(device, dtype=amp or torch.bfloat16, enabled=amp is not None):
            loss = torch.nn.functional.mse_loss(_first(model(*inputs)).float(), target)
        scaler.scale(loss).backward()  # a no-op scale unless fp16
        scaler.step(optimizer)
        scaler.update()
        loss.item()  # synchronizes, as the training loop's loss.item() does
        return time.perf_counter() - start

    return step


def measure(
    name: str, rounds: int, steps: int, variants: list[str], device: str = "cpu", models=MODELS
) -> list[list[str]]:
    spec, make_inputs = models[name]
    inputs = make_inputs()
    steppers, first = {}, {}
    for v in variants:
        if v == "channels_last" and all(x.dim() != 4 for x in inputs):
            continue
        steppers[v] = stepper(spec, inputs, v, device)
        first[v] = steppers[v]() + steppers[v]()  # warm-up; compile's first two steps compile
    times = {v: [] for v in steppers}
    for _ in range(rounds):
        sums = dict.fromkeys(steppers, 0.0)
        for _ in range(steps):
            for v, step in steppers.items():
                sums[v] += step()
        for v in steppers:
            times[v].append(sums[v] / steps)
    rows = []
    for v, values in times.items():
        ratios = [a / b for a, b in zip(values, times["eager"], strict=True)]
        rows.append([name, v, f"{median(values) * 1e3:.1f}", f"{first[v]:.2f}",
                     f"{median(ratios):.3f} ({spread(ratios)})"])  # fmt: skip
    return rows


# Why a switch stays off even where it wins: what the defaults must keep.
KEEPS = {
    "amp bf16": "bf16 keeps 8 bits of mantissa, so every seed's numbers would change",
    "channels_last": "its conv kernels sum in another order: the CIFAR net's gradients move by "
    "1e-7 and ResNet-18's outputs by 8e-6, so a seed's numbers would change",
    "compile": "it must win after its compile time to be the default",
}


def verdicts(rows: list[list[str]]) -> list[str]:
    """One line per switch: its ratio per model, how often it wins, and the default."""
    lines = []
    for variant, why in KEEPS.items():
        found = [(r[0].split(",")[0], float(r[4].split()[0])) for r in rows if r[1] == variant]
        if not found:
            continue
        wins = sum(ratio < 1 for _, ratio in found)
        each = ", ".join(f"{model} {ratio:.3f}" for model, ratio in found)
        lines.append(f"**{variant} / eager: {each}; wins on {wins} of {len(found)}; "
                     f"default off ({why})**")  # fmt: skip
    return lines


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile (slow to build)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (see step_time.py)")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    before = load_average()
    variants = ["eager", "amp bf16", "channels_last"] + ([] if args.no_compile else ["compile"])
    rows = []
    for name in MODELS:
        rows += measure(name, args.rounds, args.steps, variants)
        print(*rows[-1], flush=True)
    body = machine_lines(
        before,
        [
            f"torch threads {torch.get_num_threads()}; {args.rounds} rounds of {args.steps} steps "
            "per variant, alternating step by step, after 2 warm-up steps (timed apart: the "
            "first steps column, which is compile's compile time)",
        ],
    )
    header = ["model", "variant", "ms/step (median)", "first 2 steps s", "/ eager (min-max)"]
    body += ["", *table(header, rows), "", *verdicts(rows)]
    print("\n".join(body))
    if not args.no_record:
        record("compile, amp, channels_last on the CPU (bench/precision.py)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
