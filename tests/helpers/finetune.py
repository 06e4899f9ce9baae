"""A fine-tuning project in a temporary folder, outside the repository: an image folder of
tiny PNGs, a safetensors file saved from torchvision's resnet18 (seeded random weights), and
a spec that takes graphspec:zoo/resnet18.yaml with a new 10-class head."""

from __future__ import annotations

import functools
from pathlib import Path

import torch

SPEC = """\
name: finetune
model:
  from: graphspec:zoo/resnet18.yaml
  inputs: {{x: [N, 3, 32, 32]}}
  layers:
    fc: {{out_features: 10}}          # a new head for 10 classes
weights:
  from: {weights}
  ignore: ["fc.*"]
data: {{source: ImageFolder, root: images, batch_size: 10, shuffle: true}}
loss: CrossEntropyLoss
optimizer: {{op: SGD, lr: 0.01, momentum: 0.9, groups: [{{params: "fc.*", lr: 0.05}}]}}
train: {{steps: {steps}, log_every: 1, freeze: {freeze}}}
device: cpu
seed: 3
"""
FROZEN = ["conv1.*", "bn1.*", "layer1.*", "layer2.*", "layer3.*"]


def resnet18_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """torchvision's resnet18 drawn from `seed` (a fresh dict; the tensors are shared)."""
    return dict(_resnet18_state(seed))


@functools.cache
def _resnet18_state(seed: int) -> dict[str, torch.Tensor]:
    import torchvision

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return torchvision.models.resnet18().state_dict()


def make_images(root: Path, classes: int = 10, each: int = 2, size: int = 32) -> None:
    from PIL import Image

    g = torch.Generator().manual_seed(0)
    for c in range(classes):
        folder = root / f"class{c}"
        folder.mkdir(parents=True)
        for i in range(each):
            pixels = torch.randint(0, 256, (size, size, 3), generator=g, dtype=torch.uint8)
            Image.fromarray(pixels.numpy()).save(folder / f"{i}.png")


def make_project(
    folder: Path, steps: int = 2, freeze: list[str] | None = None, weights: str | None = None
) -> Path:
    """The project's spec (images and weights beside it); returns the spec's path."""
    from safetensors.torch import save_file

    make_images(folder / "images")
    if weights is None:
        weights = "resnet18.safetensors"
        save_file(resnet18_state(), folder / weights)
    spec = folder / "finetune.yaml"
    frozen = FROZEN if freeze is None else freeze
    spec.write_text(SPEC.format(weights=weights, steps=steps, freeze=frozen))
    return spec
