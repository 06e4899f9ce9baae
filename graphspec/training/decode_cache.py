"""`graphspec run`'s side of an image folder decoded once (data/images.py): a progress bar while
the images decode, and with `--decode-cache [DIR]` the decoded tensors kept on disk, so the next
run over the same files skips the decode.

The cache is the runner's, not the program's: the generated make_data() only reads (core/
codetext.py refuses a write there), and the script `emit --train` writes decodes by itself. The
run wraps the program's own `decoded()` helper: on a miss the wrapper calls it and saves what it
returns; on a hit it returns the saved tensors, which are what that same call made before.

A cache file is named by a hash of everything the decoded tensors depend on: each image's path,
size and modification time (ImageFolder's order), the class folders, the decode transforms, and
the versions of torch, torchvision and PIL (their readers and resamplers). A file added, removed,
rewritten or touched gives another name, so a stale entry is never read; it is only left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

CACHE_FORMAT = 1
"""Bumped when what a cache file holds changes: older files are then never read."""
# torchvision 0.29 warns on each torchvision.io decode (it points to TorchCodec); the run reads a
# PNG with it on purpose (data/images.py read_image), so the warning is not the user's business.
TORCHVISION_IO_DEPRECATION = "The image decoding and encoding capabilities of TorchVision"


def default_folder() -> Path:
    """$XDG_CACHE_HOME/graphspec/decoded (~/.cache/graphspec/decoded without it)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "graphspec" / "decoded"


class DecodeHelper:
    """Wraps a program's `decoded(folder, decode)`: progress, the cache, and what it did."""

    def __init__(self, original: Callable, folder: Path | None, bar: bool) -> None:
        self.original, self.folder, self.bar = original, folder, bar
        self.said: list[str] = []  # what happened, for the run's `data path:` line

    def __call__(self, folder: Any, decode: Any) -> Any:
        path = None if self.folder is None else self.folder / f"{cache_key(folder, decode)}.pt"
        if path is not None:
            found = _load(path, folder)
            if found is not None:
                count = len(folder.samples)
                self.said.append(f"{count:,} decoded images read from the cache {path}")
                return found
        made = self._decode(folder, decode)
        if path is not None:
            self.said.append(_save(path, made))
        return made

    def _decode(self, folder: Any, decode: Any) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", TORCHVISION_IO_DEPRECATION, DeprecationWarning)
            if not self.bar:
                return self.original(folder, decode)
            from tqdm import tqdm

            with tqdm(total=len(folder.samples), desc="decoding", unit="image", leave=False,
                      mininterval=0.2, dynamic_ncols=True) as bar:  # fmt: skip
                return self.original(folder, decode, report=lambda done: bar.update(done - bar.n))


def install(program: Any, folder: str | None, bar: bool) -> DecodeHelper | None:
    """Wrap the program's `decoded()` (absent unless an image folder is decoded once). `folder`:
    the cache folder, "" for the default one, None for no cache."""
    original = program.namespace.get("decoded")
    if original is None:
        return None
    where = None if folder is None else Path(folder) if folder else default_folder()
    helper = DecodeHelper(original, where, bar)
    program.namespace["decoded"] = helper  # make_data() looks the name up when it runs
    return helper


def cache_key(folder: Any, decode: Any) -> str:
    """The hash of what the decoded tensors of `folder` through `decode` depend on."""
    import PIL
    import torchvision

    files = []
    for path, label in folder.samples:
        info = os.stat(path)
        files.append([os.path.abspath(path), label, info.st_size, info.st_mtime_ns])
    what = {
        "format": CACHE_FORMAT,
        "files": files,
        "classes": folder.class_to_idx,
        "decode": repr(decode),
        "versions": [torch.__version__, torchvision.__version__, PIL.__version__],
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:32]


def _load(path: Path, folder: Any) -> Any:
    """The saved ((images,), labels), or None when there is none or it does not fit the folder
    (a truncated or foreign file is a miss, never an error)."""
    if not path.is_file():
        return None
    try:
        images, labels = torch.load(path, weights_only=True)
    except Exception:  # noqa: BLE001 - any unreadable cache file is a miss
        return None
    fits = (
        isinstance(images, torch.Tensor)
        and images.dtype == torch.uint8
        and images.dim() == 4
        and len(images) == len(folder.samples)
        and labels.tolist() == list(folder.targets)
    )
    return ((images,), labels) if fits else None


def _save(path: Path, made: Any) -> str:
    """Write the tensors beside their final name, then rename: a reader never sees half a file."""
    (images,), labels = made
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
            torch.save((images, labels), f)
        os.replace(f.name, path)
    except OSError as err:
        return f"the decoded images could not be cached ({err.strerror or err})"
    return f"decoded images cached in {path}"
