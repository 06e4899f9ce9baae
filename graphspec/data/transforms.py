"""torchvision.transforms by name, as a closed table: what image sources may apply.

Each name is validated by its own strict model (arguments as torchvision names them), built the
first time a spec uses it. `transform_steps` gives (name, kwargs) pairs for the emitted
`transforms.Compose([...])`, the one place a transform becomes code.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from graphspec.core.fields import Float, NonNeg, Probability, SizeOrPair
from graphspec.core.unions import bare_name, table_union

# torchvision.transforms by name; arguments as torchvision names them.
Floats = Annotated[list[Float], Field(min_length=1, max_length=4)]
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
