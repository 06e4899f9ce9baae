"""Time per training step on 1 process against 2 (torchrun, gloo) at the same global batch.

    python bench/ddp_step.py [--rounds 3]

Each run is `graphspec run ... --set seed=0` (2 processes: `--nproc 2`, which starts torchrun
--standalone) with OMP_NUM_THREADS=1 per process; the time is the run's own "trained N steps in
X s" note (the loop only: no start-up, no evaluation). Rounds alternate 1 and 2 processes; the
ratio is the median over rounds of 2-process / 1-process ms per step in the same round. There is
no target on a 2-core CPU machine: the point of the record is what an all_reduce per step costs
next to a small step (the weights agree, tests/training/test_distributed.py).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

from _common import ROOT, load_average, machine_lines, median, record, spread, table

CASES = {
    "regression (full batch 100, 200 steps)": ["specs/regression.yaml"],
    "CIFAR net, FakeData 400, batch 4 (100 steps)": [
        "specs/cifar.yaml",
        "--fake-data",
        "400",
        "--set",
        "data.num_workers=0",
        "--set",
        "train.epochs=1",
        "--set",
        "train.log_every=50",
    ],  # fmt: skip
}


def step_ms(args: list[str], nproc: int) -> float:
    with tempfile.TemporaryDirectory() as runs:
        argv = [sys.executable, "-m", "graphspec", "run", *args, "--set", "seed=0",
                "--no-plots", "--runs-dir", runs]  # fmt: skip
        argv += ["--nproc", str(nproc)] if nproc > 1 else []
        env = dict(os.environ, OMP_NUM_THREADS="1")
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        res = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({res.returncode}):\n{res.stderr[-2000:]}")
    found = re.search(r"trained ([\d,]+) steps? in ([\d.]+) s", res.stderr)
    if not found:
        raise SystemExit(f"no timing in: {res.stderr[-500:]}")
    steps = int(found.group(1).replace(",", ""))
    return 1000 * float(found.group(2)) / steps


def measure(rounds: int) -> list[list[str]]:
    rows = []
    for name, args in CASES.items():
        one, two = [], []
        for _ in range(rounds):
            one.append(step_ms(args, 1))
            two.append(step_ms(args, 2))
        ratios = [b / a for a, b in zip(one, two, strict=True)]
        rows.append([name, f"{median(one):.3f} ({spread(one)})",
                     f"{median(two):.3f} ({spread(two)})",
                     f"{median(ratios):.2f} ({spread(ratios)})"])  # fmt: skip
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    before = load_average()
    rows = measure(args.rounds)
    body = machine_lines(
        before,
        [
            f"{args.rounds} rounds, 1 and 2 processes alternating; `graphspec run --no-plots`, "
            "OMP_NUM_THREADS=1 per process, torchrun --standalone with gloo; the loop's own time",
        ],
    )
    header = ["case", "1 process ms/step (min-max)", "2 processes ms/step (min-max)",
              "2 / 1 (min-max)"]  # fmt: skip
    body += ["", *table(header, rows)]
    print("\n".join(body))
    if not args.no_record:
        record("Two processes against one at equal global batch (bench/ddp_step.py)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
