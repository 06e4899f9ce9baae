"""Where this process stands in a torchrun job, read from the environment; torch-free.

torchrun (torch.distributed.run) starts one process per rank with RANK, WORLD_SIZE and
LOCAL_RANK set. `graphspec run` reads them here, before torch is imported, so that checks that
write or lock (the run folder) are made by rank 0 alone. A world of one is a plain run.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from graphspec.core.errors import fail


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def writer(self) -> bool:
        """Rank 0 writes the run folder, its checkpoints, and prints; the others only train."""
        return self.rank == 0


def current() -> World:
    values = {}
    for key, default in (("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", 0)):
        text = os.environ.get(key, "")
        if not text:
            values[key] = default
            continue
        if not text.isdigit():
            raise fail(
                "E-USAGE",
                f"environment variable {key}={text!r} is not a rank number",
                hint="start distributed runs with torchrun, which sets it",
            )
        values[key] = int(text)
    world = World(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"])
    if world.size < 1 or world.rank >= world.size:
        raise fail("E-USAGE", f"RANK={world.rank} does not fit WORLD_SIZE={world.size}")
    return world


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
