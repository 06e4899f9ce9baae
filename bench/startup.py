"""Whole-process start-up: `graphspec validate specs/lenet.yaml` against its dependencies' floor
(`python -c "import pydantic, yaml, networkx, rich"`) and against `python -c "import torch"`.

Two targets, each a median of per-round ratios: validate at most 1.5x the floor its dependencies
set, and at most 0.15 of torch's import time (DESIGN.md). Each round runs every command once, in
turn (A B C A B C ...), so load from other processes falls on all of them alike. `import
graphspec.compiler.pipeline` is timed too, to split validate's time into imports and work. The
children write and use bytecode as an installed graphspec does (PYTHONDONTWRITEBYTECODE is left
out of their environment: without .pyc files every module is compiled on every run).

    .venv/bin/python bench/startup.py [--rounds 9] [--no-record]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from _common import ROOT, load_average, machine_lines, median, record, spread, table

TARGET = 0.15
FLOOR_TARGET = 1.5
SPEC = "specs/lenet.yaml"
FLOOR = "import pydantic, yaml, networkx, rich"
COMMANDS = {
    "graphspec validate": [sys.executable, "-m", "graphspec", "validate", SPEC],
    "floor": [sys.executable, "-c", FLOOR],
    "import graphspec.compiler.pipeline": [
        sys.executable,
        "-c",
        "import graphspec.compiler.pipeline",
    ],
    "python -c pass": [sys.executable, "-c", "pass"],
    "import torch": [sys.executable, "-c", "import torch"],
}


def run_once(argv: list[str]) -> float:
    start = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    elapsed = time.perf_counter() - start
    if done.returncode:
        command = " ".join(argv[1:])
        raise SystemExit(f"{command} failed ({done.returncode}):\n{done.stderr.decode()}")
    return elapsed


def measure(rounds: int) -> dict[str, list[float]]:
    for argv in COMMANDS.values():  # warm the page cache and .pyc files; not counted
        run_once(argv)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(rounds):
        for name, argv in COMMANDS.items():
            times[name].append(run_once(argv))
    return times


def ratio(values: list[float], base: list[float]) -> float:
    """The median of the per-round ratios (each round's commands ran back to back)."""
    return median([v / b for v, b in zip(values, base, strict=True)])


def report(times: dict[str, list[float]]) -> tuple[list[str], float, float]:
    torch_times, floor = times["import torch"], times["floor"]
    rows = [
        [
            f"`{name}`",
            f"{median(values):.3f}",
            spread(values),
            f"{ratio(values, floor):.3f}",
            f"{ratio(values, torch_times):.3f}",
        ]
        for name, values in times.items()
    ]
    validate = times["graphspec validate"]
    header = ["command", "median s", "min-max s", "to the floor (median)", "to torch (median)"]
    return table(header, rows), ratio(validate, floor), ratio(validate, torch_times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--no-record", action="store_true", help="print only; leave RESULTS.md")
    args = ap.parse_args()
    load_before = load_average()
    times = measure(args.rounds)
    lines, to_floor, to_torch = report(times)
    summary = (
        f"validate / floor = {to_floor:.3f} (target <= {FLOOR_TARGET}: "
        f"{'meets' if to_floor <= FLOOR_TARGET else 'MISSES'}); validate / import torch = "
        f"{to_torch:.3f} (target <= {TARGET}: {'meets' if to_torch <= TARGET else 'MISSES'})"
    )
    extra = [
        f"{args.rounds} interleaved rounds after one warm-up each; `{SPEC}`; "
        f'floor: `python -c "{FLOOR}"`'
    ]
    body = [*machine_lines(load_before, extra), "", *lines, "", f"**{summary}**"]
    print("\n".join(body))
    if not args.no_record:
        record("Start-up (bench/startup.py)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
