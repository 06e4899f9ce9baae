"""Whole-process start-up: `graphspec validate specs/lenet.yaml` against `python -c "import torch"`.

The promise (DESIGN.md) is that validate answers in a fraction of torch's import time; the target
is a median ratio of at most 0.15. Each round runs every command once, in turn (A B C A B C ...),
so load from other processes falls on all of them alike. `import graphspec.compiler.pipeline` is
timed too, to split validate's time into imports and work.

    .venv/bin/python bench/startup.py [--rounds 9] [--no-record]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from _common import ROOT, load_average, machine_lines, median, record, spread, table

TARGET = 0.15
SPEC = "specs/lenet.yaml"
COMMANDS = {
    "graphspec validate": [sys.executable, "-m", "graphspec", "validate", SPEC],
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
    done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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


def report(times: dict[str, list[float]]) -> tuple[list[str], float]:
    torch_times = times["import torch"]
    rows = []
    for name, values in times.items():
        ratio = median([v / t for v, t in zip(values, torch_times, strict=True)])
        rows.append([f"`{name}`", f"{median(values):.3f}", spread(values), f"{ratio:.3f}"])
    ratio = median([v / t for v, t in zip(times["graphspec validate"], torch_times, strict=True)])
    header = ["command", "median s", "min-max s", "per-round ratio to torch (median)"]
    return table(header, rows), ratio


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--no-record", action="store_true", help="print only; leave RESULTS.md")
    args = ap.parse_args()
    load_before = load_average()
    times = measure(args.rounds)
    lines, ratio = report(times)
    verdict = "meets" if ratio <= TARGET else "MISSES"
    summary = f"validate / import torch = {ratio:.3f} (target <= {TARGET}: {verdict})"
    extra = [f"{args.rounds} interleaved rounds after one warm-up each; `{SPEC}`"]
    body = [*machine_lines(load_before, extra), "", *lines, "", f"**{summary}**"]
    print("\n".join(body))
    if not args.no_record:
        record("Start-up (bench/startup.py)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
