"""`graphspec zoo`: the models shipped inside the package, usable from any folder as
`model: {from: graphspec:zoo/NAME.yaml}`, with their parameter counts and the torchvision
weights whose state_dict fits them key for key (tests/e2e/test_zoo_package.py holds each name
to torchvision's own model)."""

from __future__ import annotations

import argparse
import os

FITTING_WEIGHTS = {
    "resnet18": ["torchvision:ResNet18_Weights.IMAGENET1K_V1"],
    "vgg11": ["torchvision:VGG11_Weights.IMAGENET1K_V1"],
    "mobilenet_v2": [
        "torchvision:MobileNet_V2_Weights.IMAGENET1K_V1",
        "torchvision:MobileNet_V2_Weights.IMAGENET1K_V2",
    ],
    "vit_b_16": ["torchvision:ViT_B_16_Weights.IMAGENET1K_V1"],
    "convnext_tiny": ["torchvision:ConvNeXt_Tiny_Weights.IMAGENET1K_V1"],
    "efficientnet_b0": ["torchvision:EfficientNet_B0_Weights.IMAGENET1K_V1"],
}
"""Zoo model -> torchvision weights names whose keys and shapes are the model's."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="one JSON object per model")


def models() -> list[dict]:
    """Each zoo model: its `from:` name, class, parameter count and fitting weights."""
    from graphspec.compiler.pipeline import compile_file
    from graphspec.language.includes import PACKAGE, zoo_folder

    out = []
    for file in sorted(os.listdir(zoo_folder())):
        if not file.endswith(".yaml"):
            continue
        c = compile_file(os.path.join(zoo_folder(), file))
        name = file.removesuffix(".yaml")
        out.append({
            "from": f"{PACKAGE}zoo/{file}",
            "class": c.graph.class_name,
            "params": c.graph.total_params,
            "weights": FITTING_WEIGHTS.get(name, []),
        })  # fmt: skip
    return out


def run(args: argparse.Namespace) -> int:
    import json

    rows = models()
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    width = max(len(r["from"]) for r in rows)
    for r in rows:
        weights = ", ".join(r["weights"]) or "-"
        print(f"{r['from']:<{width}}  {r['class']:<16} {r['params']:>12,} params  {weights}")
    return 0
