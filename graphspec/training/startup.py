"""How a fresh `graphspec run` process loads torch: with the garbage collector paused.

Importing torch, and torch._dynamo (which creating any torch optimizer imports: torch/_compile.py's
`_disable_dynamo` wraps `Optimizer.add_param_group`), allocates about half a million tracked
objects. With the collector on, CPython runs hundreds of collections over that growing heap during
the import, and every later full collection walks all of it again. In a hand-written LeNet script
that is 0.6 s of a 4 s process (gc.callbacks, bench/RESULTS.md), and it frees almost nothing:
modules, functions and classes live as long as the process.

So a fresh process imports them with the collector off, then `gc.freeze()` moves everything it
loaded into the permanent generation, which later collections skip, and turns the collector back
on for training. The cost is the few thousand cyclic leftovers of the imports, kept for the life
of the process (about 8 MB of RSS on LeNet).

A process that already holds torch (tests, a notebook calling graphspec.cli.main) is left alone:
freezing would pin its own objects, garbage included.
"""

from __future__ import annotations

import gc
import sys

from graphspec.core.errors import fail

# The `train` extra: what `graphspec run` imports (scikit-learn for the digits set only).
TRAIN_EXTRA = {"torch", "torchvision", "matplotlib", "sklearn", "tqdm"}


def load_torch() -> bool:
    """Import torch and the modules a run needs with the collector paused; True if this process
    was fresh and its loaded heap is now frozen. A missing `train` extra is E-INSTALL."""
    if "torch" in sys.modules:
        return False
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        import torch  # noqa: F401
        import torch._dynamo  # noqa: F401 (the optimizer imports it anyway)

        import graphspec.training.session  # noqa: F401 (the rest of what a run loads)
    except ModuleNotFoundError as err:
        if err.name not in TRAIN_EXTRA:
            raise  # a module of an installed package is missing: a broken install, or a bug
        raise fail(
            "E-INSTALL",
            f"graphspec run needs {err.name}, which is not installed here",
            hint="pip install 'graphspec[train]' (torch, torchvision, matplotlib, scikit-learn, "
            "tqdm); validate, summary, emit and render work without it",
        ) from None
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
    return True
