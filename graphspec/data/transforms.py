"""torchvision.transforms by name, as a closed table: what image sources may apply.

Each name is validated by its own strict model (arguments as torchvision names them), built the
first time a spec uses it. `transform_steps` gives (name, kwargs) pairs for the emitted
`transforms.Compose([...])`, the one place a transform becomes code.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field

from graphspec.core.fields import (
    Float,
    NonNeg,
    NonNegFloat,
    PosFloat,
    Probability,
    Size,
    SizeOrPair,
)
from graphspec.core.unions import bare_name, table_union

# torchvision.transforms by name; arguments as torchvision names them.
Floats = Annotated[list[Float], Field(min_length=1, max_length=4)]
Pair01 = Annotated[list[Probability], Field(min_length=2, max_length=2)]
PosPair = Annotated[list[PosFloat], Field(min_length=2, max_length=2)]
Hue = Annotated[float, Field(ge=0, le=0.5)]
TRANSFORMS: dict[str, dict[str, Any]] = {
    "ToTensor": {},
    "PILToTensor": {},
    "Normalize": {"mean": (Floats, ...), "std": (Floats, ...)},
    "Resize": {"size": (SizeOrPair, ...)},
    "CenterCrop": {"size": (SizeOrPair, ...)},
    "RandomCrop": {"size": (SizeOrPair, ...), "padding": (NonNeg | None, None)},
    "RandomHorizontalFlip": {"p": (Probability, 0.5)},
    "Grayscale": {"num_output_channels": (Literal[1, 3], 1)},
    "Pad": {"padding": (NonNeg, ...)},
    # augmentation (random: they keep the DataLoader path, drawn from torch's global generator,
    # which `graphspec run` and emit --train's script seed alike)
    "RandomResizedCrop": {
        "size": (SizeOrPair, ...),
        "scale": (Pair01, [0.08, 1.0]),
        "ratio": (PosPair, [3 / 4, 4 / 3]),
        "antialias": (bool, True),
    },
    "RandomRotation": {"degrees": (PosFloat, ...), "expand": (bool, False)},
    "ColorJitter": {
        "brightness": (NonNegFloat, 0.0),
        "contrast": (NonNegFloat, 0.0),
        "saturation": (NonNegFloat, 0.0),
        "hue": (Hue, 0.0),
    },
    "RandomErasing": {
        "p": (Probability, 0.5),
        "scale": (Pair01, [0.02, 0.33]),
        "ratio": (PosPair, [0.3, 3.3]),
        "value": (Float, 0.0),
    },
    "RandomVerticalFlip": {"p": (Probability, 0.5)},
    "TrivialAugmentWide": {"num_magnitude_bins": (Size, 31)},
    "AutoAugment": {"policy": (Literal["IMAGENET", "CIFAR10", "SVHN"], "IMAGENET")},
}


def _transform_form(value: Any) -> Any:
    """`ToTensor` and `{Normalize: {mean: .., std: ..}}` (torchvision's spelling) mean {op: ..}."""
    if isinstance(value, dict) and len(value) == 1 and "op" not in value:
        ((name, args),) = value.items()
        if isinstance(args, dict):
            return {"op": name, **args}
        fields = TRANSFORMS.get(name, {})
        # `{Resize: 32}`: the one argument given bare; otherwise `value` is reported unknown
        return {"op": name, next(iter(fields)) if len(fields) == 1 else "value": args}
    return bare_name(value)


def transform_steps(transforms: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    """(torchvision name, keyword arguments) for each transform; defaults arrive as bare names."""
    steps = []
    for t in transforms:
        if isinstance(t, str):
            steps.append((t, {}))
        else:
            args = {k: tuple(v) if isinstance(v, list) else v for k, v in t.model_dump().items()}
            steps.append((args.pop("op"), args))
    return steps


RANDOM = frozenset(
    {
        "RandomCrop", "RandomHorizontalFlip", "RandomResizedCrop", "RandomRotation",
        "ColorJitter", "RandomErasing", "RandomVerticalFlip", "TrivialAugmentWide",
        "AutoAugment",
    }
)  # fmt: skip
"""The transforms that draw from torch's global generator for every image they see."""


def draws_at_random(transforms: Any) -> bool:
    """Whether a spec's transforms draw anew each time a split is read (a preset does not)."""
    if not isinstance(transforms, list):
        return False
    return any(name in RANDOM for name, _ in transform_steps(transforms))


Transform = table_union("Transform", TRANSFORMS, _transform_form, keyed=True)

TORCHVISION_WEIGHTS = re.compile(
    r"^torchvision:([A-Za-z][A-Za-z0-9_]*_Weights)\.([A-Z][A-Z0-9_]*)$"
)
"""A torchvision weights name, `torchvision:ResNet18_Weights.IMAGENET1K_V1`: the weights a run
starts from (language/weights.py), and in `transforms:` the preprocessing they were trained
with (the enum's own `transforms()`: resize, crop, mean and std)."""
Preset = Annotated[str, Field(pattern=TORCHVISION_WEIGHTS.pattern, max_length=200)]
Transforms = list[Transform] | Preset
"""A list of transforms, or a torchvision weights name whose preprocessing is taken whole."""


def preset_name(transforms: Any) -> str | None:
    """`ResNet18_Weights.IMAGENET1K_V1` for `transforms: torchvision:ResNet18_Weights...`."""
    return transforms.removeprefix("torchvision:") if isinstance(transforms, str) else None


# -- the batched forms --------------------------------------------------------------------------
# A dataset held as one uint8 tensor (CIFAR-10, MNIST, FashionMNIST: torchvision keeps `.data`
# so) can skip the PIL image per sample: the transforms run once per batch, as tensor ops. Only
# transforms whose batched form gives the very numbers of the per-image path qualify:
# - ToTensor is `.to(float).div(255)` on the uint8 tensor (what torchvision does to the array
#   behind the PIL image), PILToTensor is the uint8 tensor itself;
# - CenterCrop and Pad (constant zero) only move pixels, so they are exact on uint8 as on PIL;
# - on a float tensor, Normalize, CenterCrop, Pad and Grayscale are torchvision's tensor
#   functions, which take a batch (..., C, H, W) and compute each image as they would alone.
# Random transforms draw per image in the DataLoader's order and Resize resamples a PIL image
# its own way: those keep the DataLoader path.
ON_UINT8 = {"CenterCrop", "Pad"}
ON_TENSOR = {"Normalize", "CenterCrop", "Pad", "Grayscale"}
TO_TENSOR = {"ToTensor", "PILToTensor"}


def batched_steps(transforms: list[Any]) -> list[tuple[str, dict[str, Any]]] | None:
    """The transforms as (name, kwargs) steps on a uint8 batch, or None when one of them has no
    exact batched form (or no step makes a tensor: the DataLoader could not batch PIL images)."""
    steps = _split(transforms, ON_UINT8)
    return None if isinstance(steps, str) else steps


def why_not_batched(transforms: list[Any]) -> str:
    """Which transform keeps a dataset on the DataLoader path, in words."""
    steps = _split(transforms, ON_UINT8)
    return steps if isinstance(steps, str) else "every transform is batched"


# -- decoding once ------------------------------------------------------------------------------
# A folder of image files (ImageFolder) has no uint8 array to start from: each image is decoded
# once, by torchvision's own loader and the PIL transforms before ToTensor, which are all
# deterministic (so doing them once gives what doing them every epoch would), then held as
# uint8. The transforms from ToTensor on run per batch as above. Random flips and crops may
# follow the decode steps: they run per batch too, on the uint8 (or float) batch, each image
# drawing its own flip and offsets from a generator seeded by (seed, epoch, batch): the run, a
# resumed run and the emitted script draw alike. (Their draws are not the DataLoader path's,
# which draws per sample from the global generator.)
AT_DECODE = {"Resize", "CenterCrop", "Pad", "Grayscale"}
RANDOM_BATCHED = {"RandomHorizontalFlip", "RandomVerticalFlip", "RandomCrop"}


def decode_steps(transforms: list[Any]) -> tuple[list, list] | None:
    """(the steps done once per image at decode, the steps per batch: random flips and crops,
    then those from ToTensor on), or None when a transform keeps the images on the DataLoader
    path (why_not_decoded says which)."""
    steps = _split(transforms, AT_DECODE | RANDOM_BATCHED, RANDOM_BATCHED)
    if isinstance(steps, str):
        return None
    first = next(i for i, (n, _) in enumerate(steps) if n in TO_TENSOR or n in RANDOM_BATCHED)
    return steps[:first], steps[first:]


def why_not_decoded(transforms: list[Any]) -> str:
    steps = _split(transforms, AT_DECODE | RANDOM_BATCHED, RANDOM_BATCHED)
    return steps if isinstance(steps, str) else "every transform is batched"


def augments(steps: list[tuple[str, dict]]) -> bool:
    """Whether per-batch steps draw random numbers (a generator per batch is then made)."""
    return any(name in RANDOM_BATCHED for name, _ in steps)


def decoded_shape(steps: list[tuple[str, dict]], raw: tuple[int, int] | None):
    """(C, H, W) the decode steps bring an image of `raw` (height, width) to, as ImageFolder
    reads it (RGB); with `raw` None, the shape when the steps alone fix it (a CenterCrop or a
    Resize to [h, w]), else None. Resize's arithmetic is torchvision's
    (_compute_resized_output_size: the short side to `size`, the long one truncated)."""
    channels, size = 3, raw
    for name, args in steps:
        if name == "Grayscale":
            channels = args["num_output_channels"]
        elif name == "CenterCrop" or (name == "Resize" and isinstance(args["size"], tuple)):
            size = _pair(args["size"])
        elif name == "Resize" and size is not None:
            h, w = size
            short, long = min(h, w), max(h, w)
            new_long = int(args["size"] * long / short)
            size = (args["size"], new_long) if h <= w else (new_long, args["size"])
        elif name == "Pad" and size is not None:
            size = (size[0] + 2 * args["padding"], size[1] + 2 * args["padding"])
    return None if size is None else (channels, *size)


def _pair(size: Any) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (size[0], size[1])


def _split(
    transforms: list[Any], before_ok: set[str], random_ok: frozenset[str] | set[str] = frozenset()
) -> list[tuple[str, dict]] | str:
    """The steps when those before the first ToTensor/PILToTensor are in `before_ok` and those
    after it have tensor forms (or are in `random_ok`), and no deterministic step before ToTensor
    follows a random one (it could not be done once at decode); else why not, in words."""
    if preset_name(transforms):
        return f"{preset_name(transforms)}.transforms() resizes each image"
    steps = transform_steps(transforms)
    names = [name for name, _ in steps]
    if not any(n in TO_TENSOR for n in names):
        return "no ToTensor"
    first = next(i for i, n in enumerate(names) if n in TO_TENSOR)
    drawn = None  # the first random step before ToTensor
    for i, name in enumerate(names):
        allowed = before_ok if i < first else ON_TENSOR | random_ok if i > first else TO_TENSOR
        if name not in allowed:
            where = "before" if i < first else "after"
            return f"{name} {where} {names[first]} has no exact batched form"
        if i < first and name in random_ok:
            drawn = drawn or name
        elif i < first and drawn is not None:
            return f"{name} after {drawn} cannot be done once at decode"
    return steps
