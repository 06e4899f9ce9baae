"""scikit-learn's 8x8 digits: a real classification set that ships inside scikit-learn, so a
spec trains offline (the quick start's `specs/digits.yaml`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from graphspec.core.codetext import literal
from graphspec.core.fields import Int, Probability
from graphspec.data.base import Source

CLASSES = 10
SAMPLES = 1797


class DigitsData(Source):
    """scikit-learn's 8x8 digits (1,797 images, ships with scikit-learn, works offline), scaled
    to [0, 1] and shaped (N, 1, 8, 8)."""

    counted_as: ClassVar[str] = "images"

    can_reconstruct = True
    source: Literal["digits"]
    test_fraction: Probability = 0.2
    split_seed: Int = 0
    """The train/test split is fixed by this, not by the run's seed, so runs compare."""
    target: Literal["label", "input"] = "label"
    """label: the digit (classification); input: the image itself (an autoencoder)."""

    imports = ("from sklearn.datasets import load_digits",)

    def class_count(self) -> tuple[int | None, str]:
        return (None, "") if self.reconstructs() else (CLASSES, "digits")

    def class_names(self) -> list[str] | None:
        return None if self.reconstructs() else [str(i) for i in range(CLASSES)]

    def reconstructs(self) -> bool:
        return self.target == "input"

    def target_shape(self) -> tuple[int, ...] | None:
        return (SAMPLES, 1, 8, 8) if self.reconstructs() else None

    def has_test(self) -> bool:
        return self.test_fraction > 0

    def make_data(self) -> list[str]:
        return [
            '    """scikit-learn\'s 8x8 digits scaled to [0, 1], split by a fixed seed."""',
            "    digits = load_digits()",
            "    images = torch.tensor(digits.data, dtype=torch.float32) / 16.0",
            "    images = images.reshape(-1, 1, 8, 8)",
            "    labels = torch.tensor(digits.target, dtype=torch.int64)",
            *(
                ["    labels = images  # reconstruction: the target is the image"]
                if self.reconstructs()
                else []
            ),  # fmt: skip
            "    split = torch.randperm(len(labels), "
            f"generator=torch.Generator().manual_seed({self.split_seed}))",
            f"    n_test = round(len(labels) * {literal(self.test_fraction)})",
            "    test, train = split[:n_test], split[n_test:]",
            "    return ((images[train],), labels[train]), ((images[test],), labels[test])",
        ]

    def describe(self, train: int, test: int | None) -> str:
        return f"scikit-learn digits, 8x8: {train:,} train / {test or 0:,} test"
