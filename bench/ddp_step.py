"""Time per training step on 1 process against 2 (torchrun, gloo) at the same global batch.

    python bench/ddp_step.py

Each run is `graphspec run ... --set seed=0` with OMP_NUM_THREADS=1 per process; the time is
the run's own "trained N steps in X s" note (the loop only: no start-up, no evaluation).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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
                "--runs-dir", runs] + (["--nproc", str(nproc)] if nproc > 1 else [])  # fmt: skip
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
        res = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    found = re.search(r"trained ([\d,]+) steps? in ([\d.]+) s", res.stderr)
    if not found:
        raise SystemExit(f"no timing in: {res.stderr[-500:]}")
    steps = int(found.group(1).replace(",", ""))
    return 1000 * float(found.group(2)) / steps


def main() -> None:
    print("| case | 1 process ms/step | 2 processes ms/step | ratio |")
    print("|---|---|---|---|")
    for name, args in CASES.items():
        one, two = step_ms(args, 1), step_ms(args, 2)
        print(f"| {name} | {one:.3f} | {two:.3f} | {two / one:.2f} |")


if __name__ == "__main__":
    main()
