"""The batched image path: CIFAR-10 / MNIST images held as one uint8 tensor and transformed a
batch at a time must give the very batches torchvision's per-image PIL path gives.

The reference is torchvision itself (its dataset class with `transform=Compose([...])` through a
DataLoader) and graphspec's own DataLoader path, which a `RandomHorizontalFlip: {p: 0.0}` forces
(it has no batched form, flips nothing, and so leaves the numbers alone).
"""

from __future__ import annotations

import json

import pytest
import torch
import torchvision
import torchvision.transforms as T
from helpers.runhelp import run_cli
from helpers.vision_files import accept_cifar, write_cifar, write_mnist

from graphspec.compiler.pipeline import compile_text
from graphspec.training import datasets, program

NORMALIZE = "{Normalize: {mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.243, 0.261]}}"
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)


def _spec(source: str, root, transforms: str, channels: int = 3, size: int = 32) -> str:
    return f"""
name: batched
model:
  inputs: {{x: [N, {channels}, {size}, {size}]}}
  layers:
    flat: {{op: flatten, start_dim: 1}}
    fc: {{op: Linear, out_features: 10}}
data:
  source: {source}
  root: {root}
  download: false
  transforms: {transforms}
  batch_size: 8
  shuffle: true
loss: CrossEntropyLoss
optimizer: {{op: SGD, lr: 0.01}}
train: {{epochs: 1}}
device: cpu
"""


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    md5s = write_cifar(root, per_batch=20, test=30, seed=3)
    with accept_cifar(md5s):
        yield root


def _batches(spec_text: str, order: torch.Tensor, count: int):
    spec = compile_text(spec_text).spec
    prog = program.load(spec, "<test>")
    trainset, _ = prog.make_data()
    made = prog.batches(trainset, order, spec.data.batch_size, False)
    return spec.data, [next(made) for _ in range(count)]


def _torchvision(dataset, order: torch.Tensor, count: int, batch: int = 8):
    plan = [order[i * batch : (i + 1) * batch].tolist() for i in range(count)]
    return list(torch.utils.data.DataLoader(dataset, batch_sampler=plan))


def _same(ours, theirs) -> None:
    assert len(ours) == len(theirs) >= 4
    for ((images,), labels), (ref_images, ref_labels) in zip(ours, theirs, strict=True):
        assert images.dtype == ref_images.dtype and images.shape == ref_images.shape
        assert torch.equal(images, ref_images)
        assert torch.equal(labels, ref_labels) and labels.dtype == ref_labels.dtype


@pytest.mark.parametrize(
    ("transforms", "reference"),
    [
        (f"[ToTensor, {NORMALIZE}]", [T.ToTensor(), T.Normalize(MEAN, STD)]),
        ("[ToTensor]", [T.ToTensor()]),
        ("[{CenterCrop: 24}, ToTensor, {Normalize: {mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]}}]",
         [T.CenterCrop(24), T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3)]),
        ("[{Pad: 2}, PILToTensor]", [T.Pad(2), T.PILToTensor()]),
        ("[ToTensor, {Grayscale: {num_output_channels: 1}}, {Pad: 1}]",
         [T.ToTensor(), T.Grayscale(1), T.Pad(1)]),
    ],
)  # fmt: skip
def test_cifar_batches_equal_torchvisions(cifar, transforms, reference):
    order = torch.randperm(100, generator=torch.Generator().manual_seed(7))
    source, ours = _batches(_spec("CIFAR10", cifar, transforms), order, 6)
    assert source.in_memory and source.data_path().startswith("in memory")
    ref = torchvision.datasets.CIFAR10(cifar, train=True, transform=T.Compose(reference))
    _same(ours, _torchvision(ref, order, 6))


def test_cifar_batched_equals_graphspecs_own_dataloader_path(cifar):
    order = torch.randperm(100, generator=torch.Generator().manual_seed(11))
    fast_source, fast = _batches(_spec("CIFAR10", cifar, f"[ToTensor, {NORMALIZE}]"), order, 5)
    flip = f"[{{RandomHorizontalFlip: {{p: 0.0}}}}, ToTensor, {NORMALIZE}]"
    slow_source, slow = _batches(_spec("CIFAR10", cifar, flip), order, 5)
    assert fast_source.in_memory and not slow_source.in_memory
    why = "RandomHorizontalFlip before ToTensor has no exact batched form"
    assert why in slow_source.data_path()
    _same(fast, [(images, labels) for (images,), labels in slow])


def test_a_flip_that_flips_differs(cifar):
    """The negative control: the comparison above can fail."""
    order = torch.arange(100)
    _, fast = _batches(_spec("CIFAR10", cifar, "[ToTensor]"), order, 4)
    flip = "[{RandomHorizontalFlip: {p: 1.0}}, ToTensor]"
    _, flipped = _batches(_spec("CIFAR10", cifar, flip), order, 4)
    assert not torch.equal(fast[0][0][0], flipped[0][0][0])
    assert torch.equal(fast[0][0][0], flipped[0][0][0].flip(-1))


@pytest.mark.parametrize("name", ["MNIST", "FashionMNIST"])
def test_mnist_batches_equal_torchvisions(tmp_path, name):
    write_mnist(tmp_path, name, train=50, test=10, seed=5)
    order = torch.randperm(50, generator=torch.Generator().manual_seed(2))
    text = _spec(name, tmp_path, "[ToTensor, {Normalize: {mean: [0.1307], std: [0.3081]}}]", 1, 28)
    source, ours = _batches(text, order, 5)
    assert source.in_memory
    cls = getattr(torchvision.datasets, name)
    steps = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    ref = cls(tmp_path, train=True, transform=steps)
    _same(ours, _torchvision(ref, order, 5))


@pytest.mark.parametrize(
    ("transforms", "why"),
    [
        ("[{RandomCrop: {size: 32, padding: 4}}, ToTensor]", "RandomCrop before ToTensor"),
        ("[{Resize: 16}, ToTensor]", "Resize before ToTensor"),
        ("[ToTensor, {RandomHorizontalFlip: {p: 0.5}}]", "RandomHorizontalFlip after ToTensor"),
        ("[{Grayscale: {num_output_channels: 1}}, ToTensor]", "Grayscale before ToTensor"),
    ],
)
def test_transforms_without_a_batched_form_keep_the_dataloader(transforms, why):
    source = compile_text(_spec("CIFAR10", "data", transforms)).spec.data
    assert not source.in_memory
    assert why in source.data_path() and source.data_path().startswith("DataLoader")


def test_the_run_says_which_path_it_took(cifar, tmp_path):
    spec = tmp_path / "batched.yaml"
    spec.write_text(_spec("CIFAR10", cifar, f"[ToTensor, {NORMALIZE}]"))
    res = run_cli(spec, runs=tmp_path / "runs")
    assert res.code == 0, res.err
    line = "data path: in memory: one uint8 tensor, ToTensor, Normalize on whole batches"
    assert line in res.out
    meta = json.loads((res.run_dir / "meta.json").read_text())
    assert meta["data_path"].startswith("in memory: one uint8 tensor")
    spec.write_text(_spec("CIFAR10", cifar, "[{RandomCrop: {size: 32, padding: 4}}, ToTensor]"))
    res = run_cli(spec, runs=tmp_path / "runs")
    assert res.code == 0, res.err
    assert "data path: DataLoader, one PIL image per sample (RandomCrop" in res.out
    meta = json.loads((res.run_dir / "meta.json").read_text())
    assert meta["data_path"].startswith("DataLoader") and "worker" in meta["data_path"]


def test_first_sample_is_transformed(cifar):
    spec = compile_text(_spec("CIFAR10", cifar, "[{CenterCrop: 24}, ToTensor]")).spec
    data = datasets.build(spec.data, program.load(spec, "<test>"))
    (image,), label = datasets.first_sample(data.train)
    assert image.shape == (3, 24, 24) and image.dtype == torch.float32 and label.dim() == 0
