"""The weights a run starts from (`weights:`), read and checked before the run folder is made,
loaded into the built model, and recorded in the run folder (weights.json).

Every form ends as a mapping of names to tensors: a safetensors file (safetensors' own reader),
a torch state_dict (`torch.load(weights_only=True)`: no Python object is ever unpickled), a run
folder's weights.pt, or a torchvision weights name resolved offline to the file torchvision
would have downloaded into torch hub's cache, whose name carries a prefix of its sha256. The
file's hash (the pinned `sha256:`, the name's prefix) is checked before anything is read from
it; then its keys meet the model's state_dict as validate's check meets them
(compiler/weights_check.py). A resumed run never comes here: its checkpoint holds the weights.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from graphspec.compiler import weights_check
from graphspec.compiler.state import state_table
from graphspec.core.errors import Pos, SpecError, fail
from graphspec.training.run_folder import write_json

RECORD = "weights.json"
RUN_WEIGHTS = "weights.pt"
HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")
"""torch.hub's HASH_REGEX: the sha256 prefix in a downloaded file's name (resnet18-f37072fd.pth)."""


@dataclass
class Start:
    """Checked weights, ready to load: model key -> tensor, and what the run folder records."""

    state: dict[str, torch.Tensor]
    record: dict[str, Any] = field(default_factory=dict)


def read(compiled: Any) -> Start | None:
    """The spec's `weights:` read and checked against its model (E-WEIGHTS at the spec's
    line otherwise); None without a `weights:` section."""
    weights, doc = compiled.spec.weights, compiled.doc
    if weights is None:
        return None
    where = doc.pos(("weights", "from"))
    path, expect_prefix, url = _locate(weights, where)
    digest = weights_check.check_file(path, weights.sha256, where, doc.pos(("weights", "sha256")))
    if expect_prefix is not None and not digest.startswith(expect_prefix):
        raise fail(
            "E-WEIGHTS",
            f"{path}: its sha256 is {digest}, but its name says it starts with {expect_prefix}",
            where,
            hint=f"a stale or damaged download: fetch {url} again",
        )
    tensors = _tensors(path, where)
    keys = {k: (tuple(t.shape), str(t.dtype).removeprefix("torch.")) for k, t in tensors.items()}
    table = state_table(compiled.graph, compiled.spec.train.dtype)
    match = weights_check.match(keys, table, weights)
    problems = weights_check.problems(match, table, weights, path, doc)
    if problems:
        raise SpecError(problems)
    state = {name: tensors[key] for name, key in match.loaded.items()}
    record = {"from": weights.from_, "path": os.path.abspath(path), "sha256": digest}
    return Start(state, record | match.record())


def load(model: torch.nn.Module, start: Start | None) -> None:
    """Copy the checked weights into the built model (before it moves or casts)."""
    if start is None:
        return
    missing, unexpected = model.load_state_dict(start.state, strict=False)
    if unexpected:  # the state table and the built model disagree: a bug, not a user error
        raise RuntimeError(f"weights: the built model has no {unexpected[:3]}")


def write_record(run_dir: Path, start: Start | None) -> None:
    if start is not None:
        write_json(run_dir / RECORD, start.record)


def _locate(weights: Any, where: Pos) -> tuple[str, str | None, str | None]:
    """(the file to read, the sha256 prefix its name promises, the URL it came from)."""
    name = weights.torchvision_name()
    if name is not None:
        enum, member = name
        return torchvision_file(enum, member, where)
    path = weights.from_
    if os.path.isdir(path):
        run_file = os.path.join(path, RUN_WEIGHTS)
        if not os.path.isfile(run_file):
            raise fail("E-WEIGHTS", f"'{path}' is a folder without {RUN_WEIGHTS}", where,
                       hint="name a finished run folder, or a weights file")  # fmt: skip
        return run_file, None, None
    return path, None, None


def check_preset(compiled: Any) -> None:
    """`data.transforms: torchvision:NAME` must name weights torchvision has (E-DATA)."""
    from graphspec.data.transforms import preset_name

    name = preset_name(getattr(compiled.spec.data, "transforms", None))
    if name is None:
        return
    import torchvision.models

    try:
        torchvision.models.get_weight(name)
    except (ValueError, KeyError, AttributeError):
        raise fail(
            "E-DATA",
            f"torchvision has no weights '{name}' to take transforms from",
            compiled.doc.pos(("data", "transforms")),
            hint="names are torchvision's, e.g. ResNet18_Weights.IMAGENET1K_V1",
        ) from None


def torchvision_file(enum: str, member: str, where: Pos) -> tuple[str, str, str]:
    """Where torchvision keeps `enum.member` once downloaded (offline: never fetched here)."""
    import torchvision.models

    try:
        entry = torchvision.models.get_weight(f"{enum}.{member}")
    except (ValueError, KeyError, AttributeError):
        raise fail("E-WEIGHTS", f"torchvision has no weights '{enum}.{member}'", where,
                   hint="names are torchvision's, e.g. ResNet18_Weights.IMAGENET1K_V1 "
                   "(torchvision.models.list_models and get_model_weights)") from None  # fmt: skip
    url = entry.url
    file_name = os.path.basename(urlparse(url).path)
    path = os.path.join(torch.hub.get_dir(), "checkpoints", file_name)
    if not os.path.isfile(path):
        raise fail(
            "E-WEIGHTS",
            f"torchvision's {enum}.{member} is not in torch hub's cache: no file {path}",
            where,
            hint=f"nothing is downloaded here: put the file from {url} at that path "
            "(TORCH_HOME sets the cache folder)",
        )
    found = HASH_IN_NAME.search(file_name)
    return path, (found.group(1) if found else ""), url


def _tensors(path: str, where: Pos) -> dict[str, torch.Tensor]:
    if path.endswith(".safetensors"):
        try:
            weights_check.read_safetensors_header(path)  # a malformed header: a clear error
            from safetensors.torch import load_file
        except weights_check.WeightsFileError as err:
            raise fail("E-WEIGHTS", f"{path}: {err}", where) from None
        except ModuleNotFoundError:
            raise fail("E-INSTALL", "reading .safetensors weights needs safetensors", where,
                       hint="pip install 'graphspec[safetensors]'") from None  # fmt: skip
        return load_file(path, device="cpu")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated file, or a pickle of more than tensors  # noqa: BLE001
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        if "weights_only" in str(err) or "Unsupported global" in str(err):
            reason = "it holds Python objects, not plain tensors (refused, never unpickled)"
        raise fail("E-WEIGHTS", f"{path}: not a readable weights file: {reason}", where) from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise fail("E-WEIGHTS", f"{path}: not a state_dict (a mapping of names to tensors)", where)
    return state
