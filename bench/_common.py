"""What every benchmark shares: machine facts, medians, a table printer, and RESULTS.md updates.

Timings on the development machines move 10-40% between runs, so every target is a ratio of two
things measured in one run, interleaved (A B A B ...), compared by the median. The load average is
recorded with each result because other people's test runs share the two cores.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "RESULTS.md"


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else "unknown"


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def torch_version() -> str:
    """Asked of a child process, so the start-up benchmark's parent never imports torch."""
    out = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or "not installed"


def machine_lines(load_before: str, extra: Sequence[str] = ()) -> list[str]:
    """The facts that make a number comparable: when, where, with what, under how much load."""
    return [
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"- machine: `{platform.machine()}`, {cpu_model()}, {os.cpu_count()} CPUs",
        f"- python {platform.python_version()}, torch {torch_version()}",
        f"- load average (1, 5, 15 min): before {load_before}; after {load_average()}",
        *[f"- {line}" for line in extra],
    ]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float]) -> str:
    """min-max, so a reader sees how noisy the run was next to its median."""
    return f"{min(values):.4g}-{max(values):.4g}"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """A GitHub markdown table; printed as-is on the terminal too."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def record(bench: str, body: Sequence[str], results: Path = RESULTS) -> None:
    """Replace today's section for `bench` in RESULTS.md, or append one; older days are kept.

    A section starts with `## <bench>, <date>` and runs to the next `## ` heading.
    """
    today = datetime.date.today().isoformat()
    heading = f"## {bench}, {today}"
    section = "\n".join([heading, "", *body]).rstrip() + "\n"
    text = results.read_text() if results.exists() else _RESULTS_HEADER
    parts = re.split(r"(?m)^(?=## )", text)
    for i, part in enumerate(parts):
        if part.splitlines()[:1] == [heading]:
            parts[i] = section + "\n"
            break
    else:
        parts[-1] = parts[-1].rstrip() + "\n\n"
        parts.append(section)
    results.write_text("".join(parts).rstrip() + "\n")


_RESULTS_HEADER = """\
# Benchmark results

Written by the scripts in `bench/` (see `bench/README.md`); each run replaces its own section for
the day and keeps the older ones. Every target is a ratio measured inside one run, interleaved
(A B A B ...), by the median: absolute times on these machines move 10-40% between runs.
"""
