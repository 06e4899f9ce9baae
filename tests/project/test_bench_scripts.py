"""Every script in bench/ still imports against the package (they run only by hand or through
bench/run_all.py, so a moved name would otherwise surface on the day of a benchmark run)."""

from __future__ import annotations

import subprocess
import sys

from helpers.runhelp import ROOT, child_env

BENCH = ROOT / "bench"
SCRIPTS = sorted(p.stem for p in BENCH.glob("*.py") if not p.stem.startswith("_"))

IMPORT_ALL = """
import importlib, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
for name in sys.argv[3:]:
    module = importlib.import_module(name)
    assert callable(getattr(module, "main", None)), name
print(len(sys.argv) - 3)
"""


def test_every_bench_script_imports_and_has_a_main():
    assert {"run_all", "cifar_epoch", "run_startup", "precision"} <= set(SCRIPTS)
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, str(BENCH), str(ROOT), *SCRIPTS],
        cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == str(len(SCRIPTS))


def test_the_harness_runs_every_cpu_script():
    sys.path.insert(0, str(BENCH))
    try:
        import run_all
    finally:
        sys.path.remove(str(BENCH))
    cpu = {name.removesuffix(".py") for name in run_all.CPU}
    cuda = {name.removesuffix(".py") for name in run_all.CUDA}
    assert set(SCRIPTS) - {"run_all"} == cpu | cuda
