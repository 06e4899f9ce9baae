"""Every benchmark of the project in one go; each script writes its own section of RESULTS.md,
and this one writes a summary section (machine, versions, date, load, each script's time and
its verdict lines) at the top of the day's results.

    .venv/bin/python bench/run_all.py --short        # a quick look (fewer rounds)
    .venv/bin/python bench/run_all.py                # the record, about 11 minutes when quiet
    .venv/bin/python bench/run_all.py --device cuda  # on a GPU machine: bench/cuda_speed.py and
                                                     # bench/cuda_check.py (fails without CUDA)

Scripts run one after another in child processes (each imports what it measures fresh), with
bytecode caching on (see bench/run_startup.py). A script that fails is reported as failed in
the summary and the others still run; the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

from _common import BENCH, ROOT, load_average, machine_lines, record, table

# script: (short-mode arguments, full-mode arguments)
CPU = {
    "startup.py": (["--rounds", "3"], ["--rounds", "9"]),
    "run_startup.py": (["--rounds", "3"], ["--rounds", "9"]),
    "cifar_epoch.py": (["--rounds", "1"], ["--rounds", "5"]),  # batch 4 swung 0.92-1.12 at 3
    "image_folder.py": (["--rounds", "1", "--images", "1000"], ["--rounds", "5"]),
    "step_time.py": (["--rounds", "21"], ["--rounds", "101"]),
    "run_step.py": (["--rounds", "11", "--startup-rounds", "1"], ["--rounds", "41"]),
    "bert.py": (["--rounds", "9", "--infer-rounds", "11"], []),
    "fit_sin.py": (["--seeds", "3"], ["--seeds", "10"]),
    "scale.py": (["--sizes", "100", "1000", "--rounds", "2"], []),
    "render.py": (["--repeats", "2"], []),
    "precision.py": (["--rounds", "2", "--steps", "2", "--no-compile"], ["--rounds", "5"]),
    "ddp_step.py": (["--rounds", "1"], ["--rounds", "3"]),
    "lsp_latency.py": (["--edits", "5", "--layers", "2000"], []),
}
CUDA = {
    "cuda_speed.py": ([], []),
    "cuda_check.py": ([], []),
}


def run(script: str, args: list[str], env: dict[str, str]) -> tuple[str, float, list[str]]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - start
    sys.stdout.write(proc.stdout)
    verdicts = re.findall(r"^\*\*(.+)\*\*$", proc.stdout, re.MULTILINE)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return f"failed ({proc.returncode}): {tail[0][:160]}", took, verdicts
    return "ok", took, verdicts


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", action="store_true", help="fewer rounds: a quick look")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--only", nargs="+", metavar="SCRIPT", help="run only these scripts")
    args = ap.parse_args()
    scripts = CUDA if args.device == "cuda" else CPU
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("bench/run_all.py --device cuda: no CUDA device here (torch.cuda.is_available()"
                  " is False); run it on a GPU machine", file=sys.stderr)  # fmt: skip
            return 2
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(ROOT / "bench" / ".pycache"))
    before, rows, failed = load_average(), [], 0
    started = time.perf_counter()
    for script, (short, full) in scripts.items():
        if args.only and script not in args.only:
            continue
        print(f"== {script}", flush=True)
        status, took, verdicts = run(script, short if args.short else full, env)
        failed += status != "ok"
        rows.append([f"`{script}`", status, f"{took:.0f}", "<br>".join(verdicts) or "-"])
    mode = "short" if args.short else "full"
    body = machine_lines(
        before,
        [
            f"mode: {mode}, device {args.device}; {time.perf_counter() - started:.0f} s in all",
            f"command: `python bench/run_all.py{' --short' if args.short else ''}"
            f"{' --device cuda' if args.device == 'cuda' else ''}`",
        ],
    )
    body += ["", *table(["script", "status", "s", "verdicts"], rows)]
    print("\n".join(body))
    if not args.only:  # a partial run keeps the day's full summary; the scripts record their own
        record(f"All benchmarks (bench/run_all.py, {mode}, {args.device})", body)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
