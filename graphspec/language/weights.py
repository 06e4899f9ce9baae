"""The `weights:` section: what a run starts from instead of random weights, and how the file's
keys meet the model's.

    weights:
      from: weights/resnet18.safetensors   # or a .pt/.pth state_dict, a run folder, or
                                           # torchvision:ResNet18_Weights.IMAGENET1K_V1
      sha256: 5c1b...                      # checked before anything is read
      rename: {"^backbone\\\\.": ""}        # regex -> replacement on the file's keys, in order
      ignore: ["fc.*"]                     # left as initialised (a new head)
      strict: true                         # every other key used, every parameter set

Only the form is checked here. compiler/weights_check.py compares a safetensors file with the
model without torch (`validate`); training/weights.py reads and loads every form (`run`).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from graphspec.core.fields import StrictModel
from graphspec.data.transforms import TORCHVISION_WEIGHTS as TORCHVISION_NAME

TORCHVISION = "torchvision:"
"""The prefix of a torchvision weights name: `torchvision:ResNet18_Weights.IMAGENET1K_V1`."""
FILE_KINDS = (".safetensors", ".pt", ".pth")


def _source(value: str) -> str:
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        raise ValueError("weights.from holds a control character")
    if value.startswith(TORCHVISION) and not TORCHVISION_NAME.match(value):
        raise ValueError(
            f"'{value}' is not a torchvision weights name; write "
            "torchvision:<Model>_Weights.<NAME>, e.g. torchvision:ResNet18_Weights.IMAGENET1K_V1"
        )
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as err:
        raise ValueError(f"'{value}' is not a regular expression: {err}") from None
    return value


def _renames(value: dict[str, str]) -> dict[str, str]:
    for pattern, replacement in value.items():
        try:
            re.compile(pattern).sub(replacement, "")  # a bad group reference fails here
        except re.error as err:
            raise ValueError(f"rename '{pattern}' -> '{replacement}': {err}") from None
    return value


Source = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_source)]
Regex = Annotated[str, Field(max_length=1000), AfterValidator(_regex)]
Pattern = Annotated[str, Field(min_length=1, max_length=1000)]
"""A key pattern as fnmatch reads it: `fc.*`, `layer[12].*`, `*.bn1.*`."""


def _sha256(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError(f"sha256 must be 64 lowercase hex digits (sha256sum's), got '{value}'")
    return value


Sha256 = Annotated[str, Field(max_length=64), AfterValidator(_sha256)]


class Weights(StrictModel):
    """The weights a run starts from, checked against the model before training."""

    from_: Source = Field(alias="from")
    """A .safetensors file, a torch state_dict (.pt/.pth, read with weights_only), a run folder
    (its weights.pt), or a torchvision weights name resolved offline in torch hub's cache
    (`torchvision:ResNet18_Weights.IMAGENET1K_V1`). A path is relative to the spec's folder."""
    sha256: Sha256 | None = None
    """The file's sha256 (64 lowercase hex digits), checked before any weight is read."""
    rename: Annotated[dict[Regex, str], AfterValidator(_renames)] = {}
    """Regular expression -> replacement, applied in order to each key of the file
    (`{"^backbone\\\\.": ""}` drops a prefix)."""
    ignore: list[Pattern] = []
    """Key patterns (fnmatch: `fc.*`) left out on both sides: the file's keys are not loaded,
    the model's keep their initial values (a new head)."""
    strict: bool = True
    """Every key of the file used and every parameter and buffer of the model set, except the
    ignored ones; false: load what fits by name and shape is still checked."""

    def torchvision_name(self) -> tuple[str, str] | None:
        """(enum, member) for a torchvision weights name, else None."""
        m = TORCHVISION_NAME.match(self.from_)
        return (m.group(1), m.group(2)) if m else None


def matches(key: str, patterns: list[str]) -> bool:
    """Whether a state_dict key matches one of the fnmatch patterns (case-sensitive)."""
    from fnmatch import fnmatchcase

    return any(fnmatchcase(key, p) for p in patterns)


def rename(key: str, renames: dict[str, str]) -> str:
    """The key after every `rename:` rule, in order."""
    for pattern, replacement in renames.items():
        key = re.sub(pattern, replacement, key)
    return key
