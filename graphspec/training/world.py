"""Where this process stands in a torchrun job, read from the environment; torch-free.

torchrun (torch.distributed.run) starts one process per rank with RANK, WORLD_SIZE and
LOCAL_RANK set. `graphspec run` reads them here, before torch is imported, so that checks that
write or lock (the run folder) are made by rank 0 alone. A world of one is a plain run. Every
variable is parsed strictly (ASCII digits, ranges; MASTER_ADDR and MASTER_PORT required when
WORLD_SIZE > 1): a malformed one is E-DIST naming it.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass

from graphspec.core.codetext import one_line
from graphspec.core.errors import Pos, fail

MAX_WORLD = 1 << 16
"""The most processes a run may name (WORLD_SIZE): beyond that it is a typo, not a cluster."""
DEFAULT_TIMEOUT_S = 300
TIMEOUT_VAR = "GRAPHSPEC_DIST_TIMEOUT"
"""Seconds a rank waits for its peers at start (init_process_group's timeout) and in each
collective; the default is DEFAULT_TIMEOUT_S, not torch's 30 minutes."""
_HOST = re.compile(r"^[A-Za-z0-9._:%\[\]-]{1,255}$")


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    timeout_s: int = DEFAULT_TIMEOUT_S
    """How long to wait for the other ranks (GRAPHSPEC_DIST_TIMEOUT)."""

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def writer(self) -> bool:
        """Rank 0 writes the run folder, its checkpoints, and prints; the others only train."""
        return self.rank == 0

    @property
    def where(self) -> str:
        """The rendezvous, in words, for error lines."""
        return f"{os.environ.get('MASTER_ADDR', '')}:{os.environ.get('MASTER_PORT', '')}"


def _dist_error(message: str) -> Exception:
    hint = "start distributed runs with torchrun (or --nproc N), which sets these variables"
    return fail("E-DIST", message, Pos("<environment>", 1, 1), hint=hint)


def _number(key: str, default: int, low: int, high: int) -> int:
    """An environment variable holding a number in [low, high], written in ASCII digits (so
    `²` or `١٢`, which str.isdigit() accepts and int() may read, are refused)."""
    text = os.environ.get(key, "")
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise _dist_error(f"environment variable {key}={one_line(repr(text))} is not a number")
    value = int(text)
    if not low <= value <= high:
        raise _dist_error(f"environment variable {key}={value} is out of range ({low} to {high})")
    return value


def current() -> World:
    """This process's place in the job, parsed strictly: E-DIST naming the variable."""
    size = _number("WORLD_SIZE", 1, 1, MAX_WORLD)
    rank = _number("RANK", 0, 0, MAX_WORLD - 1)
    local_rank = _number("LOCAL_RANK", 0, 0, MAX_WORLD - 1)
    timeout = _number(TIMEOUT_VAR, DEFAULT_TIMEOUT_S, 1, 7 * 24 * 3600)
    if rank >= size:
        raise _dist_error(f"RANK={rank} does not fit WORLD_SIZE={size} (ranks are 0 to "
                          f"{size - 1})")  # fmt: skip
    if size > 1:
        addr = os.environ.get("MASTER_ADDR", "")
        if not addr:
            raise _dist_error(f"WORLD_SIZE={size} needs MASTER_ADDR, the address of rank 0")
        if not _HOST.match(addr):
            raise _dist_error(f"environment variable MASTER_ADDR={one_line(repr(addr))[:80]} "
                              "is not a host name or address")  # fmt: skip
        if not os.environ.get("MASTER_PORT"):
            raise _dist_error(f"WORLD_SIZE={size} needs MASTER_PORT, the port of rank 0")
        _number("MASTER_PORT", 0, 1, 65535)
    return World(rank, size, local_rank, timeout)


def torchrun_command(nproc: int, argv: list[str]) -> list[str]:
    """`graphspec run --nproc N ...` as the torchrun line it stands for (one machine)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",  # a private c10d rendezvous on a free local port
        f"--nproc-per-node={nproc}",
        "-m",
        "graphspec",
        *argv,
    ]


# torchrun's own log lines (glog style: "E1205 22:46:43.124000 7817 torch/...") and the
# ChildFailedError traceback it prints when a rank exits non-zero.
_TORCHRUN_LOG = re.compile(r"^[DIWEF]\d{4} \d\d:\d\d:\d\d")
_EXITCODE = re.compile(r"exitcode\s*:?\s*(-?\d+)")


def launch(command: list[str]) -> int:
    """Run torchrun and pass the ranks' own output through, without torchrun's log lines and
    its ChildFailedError traceback; the exit code is the first failing rank's (2 for an input
    error, 3 diverged, 130/143 signalled), so `--nproc 2` ends like a plain run does."""
    import subprocess

    debug = bool(os.environ.get("GRAPHSPEC_DEBUG"))
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, errors="replace")
    codes: list[int] = []
    in_trace = False
    try:
        for line in proc.stderr:  # type: ignore[union-attr]
            found = _EXITCODE.search(line)
            if _TORCHRUN_LOG.match(line) or (in_trace and not debug):
                if found:
                    codes.append(int(found[1]))
                continue
            if line.startswith("Traceback (most recent call last):") and not debug:
                in_trace = True  # torchrun's own: a rank prints one line, never a traceback
                continue
            sys.stderr.write(line)
            sys.stderr.flush()
    finally:
        rc = proc.wait()
    failed = [c for c in codes if c > 0]
    return failed[0] if rc != 0 and failed else rc
