"""`graphspec run -q` against the hand-written seed script doing the same training, whole processes.

bench/seeds/regression.py and bench/seeds/lenet.py are the seed programs as a person writes them
(import torch, the net, the data, the loop, save the weights). Each round runs, in turn, the seed
script and `graphspec run SPEC -q` (its defaults: pictures drawn by a background process once
the run folder is complete), and `graphspec run SPEC -q --plots-now` (pictures before exit) for
reference, and the seed script once more with the start-up `graphspec run` does (the garbage
collector paused while torch loads, then frozen: graphspec/training/startup.py) as a control
that shows what that alone is worth. After a graphspec run the benchmark waits, untimed, until
that background drawing is done, so it never competes with the next process. The ratio is the
median over rounds of graphspec / seed in the same round (target <= 1.10).

Python is run with bytecode caching on (`PYTHONPYCACHEPREFIX` under the benchmark's temporary
folder, after one warm-up round), as an installed package has it: with PYTHONDONTWRITEBYTECODE
and no __pycache__ every import compiles its source and both sides take several times longer.

    .venv/bin/python bench/run_startup.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import BENCH, ROOT, load_average, machine_lines, median, record, spread, table

TARGET = 1.10
# The control: the seed script with the start-up graphspec run does (training/startup.py: the
# collector paused while torch loads, then frozen), to show what that alone is worth.
PAUSED_SEED = (
    "import gc, runpy, sys; gc.disable(); import torch, torch._dynamo; gc.freeze(); gc.enable(); "
    "runpy.run_path(sys.argv[1], run_name='__main__')"
)
CASES = {"regression": "specs/regression.yaml", "lenet": "specs/lenet.yaml"}


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(tmp / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return took, done.stdout


def _wait_for_pictures(run_dir: Path, limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while (run_dir / ".pictures.npz").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def measure(rounds: int) -> tuple[list[list[str]], list[str]]:
    rows, verdicts = [], []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        env = _env(tmp)
        for case, spec in CASES.items():
            seed_script = str(BENCH / "seeds" / f"{case}.py")
            commands = {
                "seed": [sys.executable, seed_script],
                "seed, collector paused": [sys.executable, "-c", PAUSED_SEED, seed_script],
                "run -q": [sys.executable, "-m", "graphspec", "run", str(ROOT / spec), "-q"],
                "run -q --plots-now": [
                    sys.executable, "-m", "graphspec", "run", str(ROOT / spec), "-q", "--plots-now"
                ],
            }  # fmt: skip
            times: dict[str, list[float]] = {k: [] for k in commands}
            for r in range(rounds + 1):  # round 0 warms the file and bytecode caches
                for key, argv in commands.items():
                    runs = not key.startswith("seed")
                    argv = [*argv, "--runs-dir", str(tmp / "runs")] if runs else argv
                    took, out = _timed(argv, tmp, env)
                    if runs:
                        _wait_for_pictures(Path(out.strip().splitlines()[-1]))
                    if r:
                        times[key].append(took)
            seed = times["seed"]
            for key, values in times.items():
                ratios = [a / b for a, b in zip(values, seed, strict=True)]
                label = "seed script" + key[4:] if key.startswith("seed") else f"`{key}`"
                rows.append([case, label,
                             f"{median(values):.2f}", spread(values),
                             f"{median(ratios):.3f} ({spread(ratios)})"])  # fmt: skip
            ratio = median([a / b for a, b in zip(times["run -q"], seed, strict=True)])
            verdicts.append(
                f"**{case}: `graphspec run -q` / seed script = {ratio:.3f} (target <= {TARGET}: "
                f"{'meets' if ratio <= TARGET else 'misses'})**"
            )
    return rows, verdicts


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    before = load_average()
    rows, verdicts = measure(args.rounds)
    body = machine_lines(
        before,
        [
            f"{args.rounds} interleaved rounds after one warm-up; whole processes; bytecode "
            "cached (PYTHONPYCACHEPREFIX); per-round ratio to the seed script, median (min-max)",
        ],
    )
    header = ["spec", "command", "median s", "min-max s", "/ seed script"]
    body += ["", *table(header, rows), "", *verdicts]
    print("\n".join(body))
    if not args.no_record:
        record("Run start-up against the seed scripts (bench/run_startup.py)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
