"""A folder of the user's own images, three ways: a hand-written torchvision loop, `graphspec
run` (which decodes each image once and transforms whole batches), and the compute floor.

3,000 random 32x32 PNGs (default) in 10 class folders are written to a temporary directory.

- **hand loop**: `ImageFolder(root, transform=Compose([ToTensor(), Normalize(...)]))`,
  `DataLoader(batch_size, shuffle=True)` at its default of 0 workers, the CIFAR tutorial's net
  and loop (tests/helpers/seed_programs.py `cifar_train`: SGD lr 0.001, momentum 0.9), the
  epochs timed, the dataset built before.
- **graphspec**: `graphspec run` on specs/cifar.yaml's model with `data: {source: ImageFolder}`
  and the same transforms (in-process, `--no-plots`): its "trained N steps in X s" line, plus
  the decode, timed apart as the program's own make_data() (the run decodes before its
  training clock starts); "graphspec + decode" is the sum. "checks" are what the run does to
  the folder before that (every image verified by PIL, the decode plan's headers), timed apart
  too and shown beside: the issue's targets count the decode, the last column counts both.
- **floor**: the same net's forward + backward + SGD step (+ `loss.item()`) on batches decoded
  and normalised before the clock starts, a fresh permutation per epoch.

Rounds rotate the three (A B C, B C A, ...); ratios are per round, by the median. The 30-epoch
target compares graphspec with the floor alone: `--no-hand` leaves the hand loop out (it takes
2.5x as long as the others), so that more rounds fit and the median settles.

    .venv/bin/python bench/image_folder.py [--images 3000] [--epochs 3] [--rounds 3] [--batch 32]
        [--no-hand]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
import yaml
from _common import ROOT, load_average, machine_lines, median, record, spread, table

sys.path.insert(0, str(ROOT))
from graphspec.cli import main as graphspec_main  # noqa: E402
from tests.helpers import seed_programs as sp  # noqa: E402
from tests.helpers.vision_files import write_image_folder  # noqa: E402

MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
TARGETS = (2.0, 1.25)  # hand loop / (graphspec + decode) >=, (graphspec + decode) / floor <=
LONG_EPOCHS, LONG_FLOOR = 30, 1.05  # from 30 epochs on, (graphspec + decode) / floor <= 1.05


def write_spec(folder: Path, root: Path, batch: int, epochs: int) -> Path:
    spec = yaml.safe_load((ROOT / "specs/cifar.yaml").read_text())
    spec["data"] = {
        "source": "ImageFolder",
        "root": str(root),
        "transforms": ["ToTensor", {"Normalize": {"mean": list(MEAN), "std": list(STD)}}],
        "batch_size": batch,
        "shuffle": True,
    }
    spec["train"] = {"epochs": epochs, "log_every": 2000}
    spec["device"] = "cpu"
    spec.pop("evaluate", None)
    path = folder / "folder.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def hand(root: Path, batch: int, epochs: int) -> float:
    import torchvision
    import torchvision.transforms as transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    trainset = torchvision.datasets.ImageFolder(root, transform=transform)
    loader = torch.utils.data.DataLoader(trainset, batch_size=batch, shuffle=True)
    net = sp.CifarNet()
    start = time.perf_counter()
    sp.cifar_train(net, loader, epochs=epochs)
    return time.perf_counter() - start


def graphspec(spec: Path, runs: Path) -> tuple[float, float, float]:
    """(the run's training time, the decode by its generated make_data(), the run's checks of
    the folder before it: every image verified, the decode plan taken afresh)."""
    from graphspec.compiler.pipeline import compile_file
    from graphspec.data import images
    from graphspec.training import program

    data = compile_file(str(spec)).spec.data
    start = time.perf_counter()
    images._check_folder(data.root, None)
    images._plan.cache_clear()
    images.decode_plan(data.root, data.test_root, data.transforms)
    checks = time.perf_counter() - start
    functions = program.load(compile_file(str(spec)).spec, "<bench>")
    start = time.perf_counter()
    with warnings.catch_warnings():  # torchvision.io's deprecation, as the run silences it
        warnings.simplefilter("ignore", DeprecationWarning)
        functions.make_data()
    decode = time.perf_counter() - start
    out = io.StringIO()
    argv = ["run", str(spec), "--no-plots", "--runs-dir", str(runs)]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = graphspec_main(argv)
    text = out.getvalue()
    match = re.search(r"trained [\d,]+ steps? in ([\d.]+) s", text)
    if code != 0 or match is None or "data path: in memory: each image decoded" not in text:
        raise SystemExit(f"graphspec run failed or took another path ({code}):\n{text[-2000:]}")
    return float(match.group(1)), decode, checks


def floor(root: Path, batch: int, epochs: int) -> float:
    import torchvision
    import torchvision.transforms as transforms

    folder = torchvision.datasets.ImageFolder(root, transform=transforms.PILToTensor())
    images = torch.stack([image for image, _ in folder]).float().div(255)
    images = transforms.Normalize(MEAN, STD)(images)
    labels = torch.tensor(folder.targets)
    net = sp.CifarNet()
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(labels))
        for i in range(0, len(labels), batch):
            pick = order[i : i + batch]
            optimizer.zero_grad()
            loss = criterion(net(images[pick]), labels[pick])
            loss.backward()
            optimizer.step()
            loss.item()
    return time.perf_counter() - start


def measure(spec: Path, root: Path, args, runs: Path) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {
        "hand": [], "graphspec": [], "decode": [], "checks": [], "floor": []
    }  # fmt: skip

    def run_graphspec() -> None:
        trained, decode, checks = graphspec(spec, runs)
        times["graphspec"].append(trained)
        times["decode"].append(decode)
        times["checks"].append(checks)

    sides = {
        "hand": lambda: times["hand"].append(hand(root, args.batch, args.epochs)),
        "graphspec": run_graphspec,
        "floor": lambda: times["floor"].append(floor(root, args.batch, args.epochs)),
    }
    if args.no_hand:
        del sides["hand"]
    names = list(sides)
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate who goes first
            sides[name]()
    return times


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--no-hand", action="store_true", help="graphspec and the floor only")
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--note", default="", help="a line added to the record (e.g. the load)")
    args = ap.parse_args()
    before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "images"
        write_image_folder(root, per_class=args.images // 10, classes=10, seed=0)
        spec = write_spec(Path(tmp), root, args.batch, args.epochs)
        graphspec(spec, Path(tmp) / "runs")  # warm-up: imports, the program's first compile
        t = measure(spec, root, args, Path(tmp) / "runs")
    total = [a + b for a, b in zip(t["graphspec"], t["decode"], strict=True)]
    hand = not args.no_hand  # without the hand loop: no figures for it
    speedup = [a / b for a, b in zip(t["hand"], total, strict=True)] if hand else []
    over = [a / b for a, b in zip(total, t["floor"], strict=True)]
    over_trained = [a / b for a, b in zip(t["graphspec"], t["floor"], strict=True)]
    checked = [a + b for a, b in zip(total, t["checks"], strict=True)]
    over_checked = [a / b for a, b in zip(checked, t["floor"], strict=True)]
    cell = lambda xs, digits=2: f"{median(xs):.{digits}f} ({spread(xs)})"  # noqa: E731
    header = ["hand loop s", "graphspec run s", "decode s", "graphspec + decode s", "floor s",
              "hand / (graphspec + decode)", "(graphspec + decode) / floor",
              "graphspec / floor", "checks s", "(graphspec + decode + checks) / floor"]  # fmt: skip
    row = [cell(t["hand"]) if hand else "-", cell(t["graphspec"]), cell(t["decode"], 3),
           cell(total), cell(t["floor"]), cell(speedup) if hand else "-", cell(over, 3),
           cell(over_trained, 3), cell(t["checks"], 3), cell(over_checked, 3)]  # fmt: skip
    want_speed, want_floor = TARGETS
    if args.epochs >= LONG_EPOCHS:
        want_floor = LONG_FLOOR
    ok = median(over) <= want_floor and (not hand or median(speedup) >= want_speed)
    versus_hand = (
        f"{median(speedup):.2f}x faster than the hand loop (target >= {want_speed}), "
        if hand else ""
    )  # fmt: skip
    verdict = (
        f"**graphspec (decode included) {versus_hand}{median(over):.3f}x the compute floor "
        f"(target <= {want_floor}): {'meets' if ok else 'misses'}**"
    )
    body = machine_lines(
        before,
        [
            f"{args.images // 10 * 10:,} random 32x32 PNGs (RGB, L and RGBA in turn) in 10 class "
            f"folders; batch {args.batch}, {args.epochs} epochs, the CIFAR tutorial net, SGD "
            "lr 0.001 momentum 0.9, ToTensor + Normalize",
            f"{args.rounds} rounds, the sides rotating{' (no hand loop)' * args.no_hand}; "
            "torch threads "
            f"{torch.get_num_threads()}; medians (min-max)",
            "hand loop: torchvision ImageFolder + DataLoader(shuffle, 0 workers); graphspec: "
            "`graphspec run` (decode-once path), its trained-in time + its make_data() timed "
            "apart; checks: the run's verify of every image and its decode plan, before it",
            *([args.note] if args.note else []),
        ],
    )
    body += ["", *table(header, [row]), "", verdict]
    print("\n".join(body))
    if not args.no_record:
        record("Image folder, decoded once (bench/image_folder.py)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
