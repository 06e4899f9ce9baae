"""torchvision.transforms by name, as a closed table: what image sources may apply.

Each name is validated by its own strict model (arguments as torchvision names them), built the
first time a spec uses it. `transform_steps` gives (name, kwargs) pairs for the emitted
`transforms.Compose([...])`, the one place a transform becomes code.
"""

from __future__ import annotations

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


Transform = table_union("Transform", TRANSFORMS, _transform_form, keyed=True)


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
    steps = transform_steps(transforms)
    names = [name for name, _ in steps]
    if not any(n in TO_TENSOR for n in names):
        return None
    first = next(i for i, n in enumerate(names) if n in TO_TENSOR)
    before, after = names[:first], names[first + 1 :]
    if all(n in ON_UINT8 for n in before) and all(n in ON_TENSOR for n in after):
        return steps
    return None


def why_not_batched(transforms: list[Any]) -> str:
    """Which transform keeps a dataset on the DataLoader path, in words."""
    names = [name for name, _ in transform_steps(transforms)]
    if not any(n in TO_TENSOR for n in names):
        return "no ToTensor"
    first = next(i for i, n in enumerate(names) if n in TO_TENSOR)
    for i, name in enumerate(names):
        allowed = ON_UINT8 if i < first else ON_TENSOR if i > first else TO_TENSOR
        if name not in allowed:
            where = "before" if i < first else "after"
            return f"{name} {where} {names[first]} has no exact batched form"
    return "every transform is batched"
