"""One CIFAR-shaped epoch three ways: the tutorial's loop, `graphspec run`, and the compute floor.

10,000 random uint8 images (default) are written in CIFAR-10's own on-disk layout (pickled
data_batch_1..5, test_batch, batches.meta) and read by torchvision's real `CIFAR10` class. That
class checks every file's MD5 against its own list, so this benchmark patches the class's lists
with the files' MD5s (`tests/helpers/vision_files.py`, `accept_cifar`): the loader hook,
nothing else.

- **tutorial**: the CIFAR-10 tutorial as written: `Compose([ToTensor(), Normalize(...)])`,
  `DataLoader(trainset, batch_size, shuffle=True, num_workers=2)`, its loop
  (tests/helpers/seed_programs.py `cifar_train`, one epoch); the epoch is timed, the dataset
  built before.
- **graphspec**: `graphspec run` on specs/cifar.yaml (root and batch size set; `--no-plots`,
  in-process), at its defaults: the in-memory uint8 path; the epoch as the run reports it
  ("trained N steps in X s").
- **floor**: the tutorial's net, forward + backward + SGD step (+ `loss.item()`, as both loops
  do) on ready float batches: what no data path can beat.

Rounds alternate the three (A B C, B C A, ...); ratios are per-round, by the median.

    .venv/bin/python bench/cifar_epoch.py [--images 10000] [--rounds 3] [--batches 4 64]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import ROOT, load_average, machine_lines, median, record, spread, table

sys.path.insert(0, str(ROOT))
from graphspec.cli import main as graphspec_main  # noqa: E402
from tests.helpers import seed_programs as sp  # noqa: E402
from tests.helpers.vision_files import accept_cifar, write_cifar  # noqa: E402

TARGETS = {
    4: (1.4, 1.10),
    64: (2.0, 1.15),
}  # batch: (tutorial / graphspec >=, graphspec / floor <=)


def tutorial(root: Path, batch: int) -> float:
    import torchvision
    import torchvision.transforms as transforms

    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]
    )
    trainset = torchvision.datasets.CIFAR10(
        root=root, train=True, download=False, transform=transform
    )
    loader = torch.utils.data.DataLoader(trainset, batch_size=batch, shuffle=True, num_workers=2)
    net = sp.CifarNet()
    start = time.perf_counter()
    sp.cifar_train(net, loader, epochs=1)
    return time.perf_counter() - start


def graphspec(root: Path, batch: int, runs: Path) -> float:
    argv = ["run", str(ROOT / "specs/cifar.yaml"), "--no-plots", "--runs-dir", str(runs)]
    argv += ["--set", f"data.root={root}", "--set", f"data.batch_size={batch}"]
    argv += ["--set", "train.epochs=1", "--set", "data.download=false"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = graphspec_main(argv)
    text = out.getvalue()
    match = re.search(r"trained [\d,]+ steps? in ([\d.]+) s", text)
    if code != 0 or match is None:
        raise SystemExit(f"graphspec run failed ({code}):\n{text[-2000:]}")
    return float(match.group(1))


def floor(root: Path, batch: int) -> float:
    import torchvision

    data = torchvision.datasets.CIFAR10(root=root, train=True, download=False)
    images = torch.as_tensor(data.data).permute(0, 3, 1, 2).float().div(255).sub(0.5).div(0.5)
    labels = torch.as_tensor(data.targets)
    order = torch.randperm(len(labels))
    ready = [
        (images[order[i : i + batch]], labels[order[i : i + batch]])
        for i in range(0, len(labels), batch)
    ]
    net = sp.CifarNet()
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    start = time.perf_counter()
    for inputs, target in ready:
        optimizer.zero_grad()
        loss = criterion(net(inputs), target)
        loss.backward()
        optimizer.step()
        loss.item()
    return time.perf_counter() - start


def measure(root: Path, batch: int, rounds: int, runs: Path) -> dict[str, list[float]]:
    sides = {
        "tutorial": lambda: tutorial(root, batch),
        "graphspec": lambda: graphspec(root, batch, runs),
        "floor": lambda: floor(root, batch),
    }
    names = list(sides)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % 3 :] + names[: r % 3]:  # rotate who goes first
            times[name].append(sides[name]())
    return times


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batches", type=int, nargs="+", default=[4, 64])
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    before = load_average()
    rows, verdicts = [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        md5s = write_cifar(root, per_batch=args.images // 5, test=100)
        with accept_cifar(md5s):
            graphspec(root, 4, Path(tmp) / "runs")  # warm-up: imports, first compile of the program
            for batch in args.batches:
                t = measure(root, batch, args.rounds, Path(tmp) / "runs")
                speedup = [a / b for a, b in zip(t["tutorial"], t["graphspec"], strict=True)]
                over = [a / b for a, b in zip(t["graphspec"], t["floor"], strict=True)]
                tut_floor = [a / b for a, b in zip(t["tutorial"], t["floor"], strict=True)]
                rows.append(
                    [
                        batch,
                        *(f"{median(t[n]):.2f} ({spread(t[n])})" for n in t),
                        f"{median(speedup):.2f} ({spread(speedup)})",
                        f"{median(over):.3f} ({spread(over)})",
                        f"{median(tut_floor):.2f}",
                    ]
                )
                want_speed, want_floor = TARGETS.get(batch, (None, None))
                if want_speed:
                    ok = median(speedup) >= want_speed and median(over) <= want_floor
                    verdicts.append(
                        f"**batch {batch}: graphspec {median(speedup):.2f}x faster than the "
                        f"tutorial (target >= {want_speed}), {median(over):.3f}x the compute floor "
                        f"(target <= {want_floor}): {'meets' if ok else 'misses'}**"
                    )
    header = [
        "batch",
        "tutorial s",
        "graphspec run s",
        "floor s",
        "tutorial / graphspec",
        "graphspec / floor",
        "tutorial / floor",
    ]
    body = machine_lines(
        before,
        [
            f"{args.images:,} random uint8 images in CIFAR-10's on-disk layout, read by "
            "torchvision's CIFAR10 class (its MD5 lists patched: the loader hook)",
            f"{args.rounds} rounds, the three sides rotating; one epoch each; torch threads "
            f"{torch.get_num_threads()}; medians (min-max)",
            "tutorial: ToTensor + Normalize per PIL image, DataLoader(shuffle, num_workers=2); "
            "graphspec: `graphspec run specs/cifar.yaml` at its defaults (in-memory uint8 path)",
        ],
    )
    body += ["", *table(header, rows), "", *verdicts]
    print("\n".join(body))
    if not args.no_record:
        record("CIFAR-shaped epoch (bench/cifar_epoch.py)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
