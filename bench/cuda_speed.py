"""On a GPU: eager float32 against amp (bf16, fp16 with a GradScaler), channels_last and
torch.compile, training steps of the CIFAR net at batch 4 and 64, the BERT block and the zoo
ResNet-18 (224x224, batch 32), as bench/precision.py measures them on the CPU. Records the card.

    python bench/cuda_speed.py [--rounds 5] [--steps 10]

Exits 2 with one line when there is no CUDA device. Not run on the development machines (no GPU).
"""

from __future__ import annotations

import argparse
import sys

import torch
from _common import load_average, machine_lines, record, table
from precision import measure

MODELS = {
    "CIFAR net, batch 4": ("specs/cifar.yaml", lambda: (torch.randn(4, 3, 32, 32),)),
    "CIFAR net, batch 64": ("specs/cifar.yaml", lambda: (torch.randn(64, 3, 32, 32),)),
    "BERT block, ids (8, 30)": (
        "specs/bert_attention.yaml",
        lambda: (torch.randint(1, 1000, (8, 30)), torch.randint(0, 2, (8, 30))),
    ),
    "zoo ResNet-18, batch 32, 3x224x224": (
        "specs/zoo/resnet18.yaml",
        lambda: (torch.randn(32, 3, 224, 224),),
    ),
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("bench/cuda_speed.py: no CUDA device (torch.cuda.is_available() is False)",
              file=sys.stderr)  # fmt: skip
        return 2
    before = load_average()
    torch.backends.cudnn.benchmark = True
    variants = ["eager", "amp bf16", "amp fp16", "channels_last", "compile"]
    rows = []
    for name in MODELS:
        rows += measure(name, args.rounds, args.steps, variants, "cuda", MODELS)
    card = torch.cuda.get_device_name(0)
    body = machine_lines(
        before,
        [f"GPU: {card}, CUDA {torch.version.cuda}; {args.rounds} rounds of {args.steps} steps"],
    )
    header = ["model", "variant", "ms/step (median)", "first 2 steps s", "/ eager (min-max)"]
    body += ["", *table(header, rows)]
    print("\n".join(body))
    if not args.no_record:
        record("CUDA: compile, amp, channels_last (bench/cuda_speed.py)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
