"""The data half of `emit --train`: `make_data()` and `batches()` as plain PyTorch source.

`batches` reproduces training.datasets.Split exactly: in-memory tensors are sliced (in order) or
indexed (shuffled); datasets go through a DataLoader over the same batch plan, its workers
seeded per epoch. Nothing here imports torch.
"""

from __future__ import annotations

import keyword
from typing import Any

from graphspec.core import exprs
from graphspec.language.recipe import transform_steps
from graphspec.program.data_facts import VISION

TENSOR_SOURCES = ("random", "linspace", "digits")


def data_section(spec: Any) -> str:
    return {"random": _random, "linspace": _linspace, "digits": _digits}.get(
        spec.data.source, _vision
    )(spec.data)


def _names(data: Any) -> list[str]:
    return [
        n if n.isidentifier() and not keyword.iskeyword(n) else f"input_{i}"
        for i, n in enumerate(data.inputs)
    ]


def _random(data: Any) -> str:
    names = _names(data)
    lines = [
        "def make_data():",
        '    """Random tensors, drawn once (the seed\'s LeNet example)."""',
    ]
    for name, shape in zip(names, data.inputs.values(), strict=True):
        lines.append(f"    {name} = torch.randn({', '.join(map(str, shape))})")
    n = next(iter(data.inputs.values()))[0]
    if data.num_classes is not None:
        lines.append(f"    target = torch.randint({data.num_classes}, ({n},))")
    else:
        lines.append(f"    target = torch.randn({', '.join(map(str, data.target))})")
    lines.append(f"    return (({', '.join(names)},), target), None")
    return "\n".join(lines)


def _linspace(data: Any) -> str:
    target = exprs.parse_elementwise(data.target, {"x"}).render({"x": "x"})
    x = f"torch.linspace({data.start!r}, {data.end!r}, {data.steps})"
    if data.column:
        x = f"torch.unsqueeze({x}, dim=1)  # shape ({data.steps}, 1)"
    return "\n".join(
        [
            "def make_data():",
            f'    """x = linspace({data.start:g}, {data.end:g}, {data.steps}); the target is '
            f'{data.target}."""',
            f"    x = {x}",
            f"    y = {target}",
            "    return ((x,), y), None",
        ]
    )


def _digits(data: Any) -> str:
    return "\n".join(
        [
            "def make_data():",
            '    """scikit-learn\'s 8x8 digits scaled to [0, 1], split by a fixed seed."""',
            "    digits = load_digits()",
            "    images = torch.tensor(digits.data, dtype=torch.float32) / 16.0",
            "    images = images.reshape(-1, 1, 8, 8)",
            "    labels = torch.tensor(digits.target, dtype=torch.int64)",
            "    split = torch.randperm(len(labels), "
            f"generator=torch.Generator().manual_seed({data.split_seed}))",
            f"    n_test = round(len(labels) * {data.test_fraction!r})",
            "    test, train = split[:n_test], split[n_test:]",
            "    return ((images[train],), labels[train]), ((images[test],), labels[test])",
        ]
    )


def _vision(data: Any) -> str:
    steps = ", ".join(
        f"transforms.{name}({_kwargs(args)})" for name, args in transform_steps(data.transforms)
    )
    lines = ["def make_data():", f"    transform = transforms.Compose([{steps}])"]
    source = data.source
    if source in VISION:
        root = repr(data.root)
        for split, flag in (("trainset", True), ("testset", False)):
            lines.append(
                f"    {split} = torchvision.datasets.{source}(root={root}, train={flag},"
                f" download={data.download}, transform=transform)"
            )
    elif source == "FakeData":
        shape = tuple(data.image_size)
        lines.append(
            f"    trainset = torchvision.datasets.FakeData({data.size}, {shape}, "
            f"{data.num_classes}, transform)"
        )
        lines.append(
            f"    testset = torchvision.datasets.FakeData({data.test_size}, {shape}, "
            f"{data.num_classes}, transform, random_offset={data.size})"
            if data.test_size
            else "    testset = None"
        )
    else:  # ImageFolder
        lines.append(
            f"    trainset = torchvision.datasets.ImageFolder({data.root!r}, transform=transform)"
        )
        lines.append(
            f"    testset = torchvision.datasets.ImageFolder({data.test_root!r}, "
            "transform=transform)"
            if data.test_root
            else "    testset = None"
        )
    lines.append("    return trainset, testset")
    return "\n".join(lines)


def _kwargs(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items())


def has_test(data: Any) -> bool:
    """Whether the data has a test split for the evaluation (as training.datasets builds it)."""
    if data.source == "digits":
        return data.test_fraction > 0
    if data.source == "FakeData":
        return data.test_size > 0
    if data.source == "ImageFolder":
        return data.test_root is not None
    return data.source in VISION


def batches_section(spec: Any, n_inputs: int) -> str:
    one = n_inputs == 1
    count = "len(dataset) // batch_size if drop_last else -(-len(dataset) // batch_size)"
    if spec.data.source in TENSOR_SOURCES:
        pick = "x[pick]" if one else "tuple(x[pick] for x in inputs)"
        return "\n".join(
            [
                "def batches(dataset, order, epoch, batch_size, drop_last):",
                '    """One epoch of batches: slices in order, or index selections of a shuffled'
                ' order."""',
                "    inputs, target = dataset",
                f"    count = {count.replace('len(dataset)', 'len(target)')}",
                *(["    x = inputs[0]"] if one else []),
                "    for i in range(count):",
                "        if order is None:",
                "            pick = slice(i * batch_size, (i + 1) * batch_size)",
                "        else:",
                "            pick = order[i * batch_size : (i + 1) * batch_size]",
                f"        yield {pick}, target[pick]",
                "",
                "",
                "def size(dataset):",
                "    return len(dataset[1])",
            ]
        )
    return "\n".join(
        [
            "def batches(dataset, order, epoch, batch_size, drop_last):",
            '    """One epoch of batches through a DataLoader, in the given order."""',
            "    ids = order.tolist() if order is not None else list(range(len(dataset)))",
            f"    count = {count}",
            "    plan = [ids[i * batch_size : (i + 1) * batch_size] for i in range(count)]",
            "    # the workers' seeds come from this generator, not from the global RNG",
            "    seeds = torch.Generator().manual_seed(epoch)",
            "    loader = torch.utils.data.DataLoader(",
            "        dataset, batch_sampler=plan, num_workers=NUM_WORKERS, generator=seeds",
            "    )",
            "    yield from loader",
            "",
            "",
            "def size(dataset):",
            "    return len(dataset)",
        ]
    )
