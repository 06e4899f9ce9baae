"""A fuzz over corrupted data files of every format (tests/helpers/file_fuzz.py).

Each case damages one file of a sound dataset (npz, npy, .pt, safetensors, csv, text, PNG in
an ImageFolder), or swaps it for a FIFO or a link to /dev/zero, and takes the spec through
everything `graphspec run` does before its first step. The file is read or refused with a
graphspec error; never another exception, never past the time limit.

The default run checks a few cases per format; the soak (`-m soak`, GRAPHSPEC_FILE_FUZZ cases,
default 10,000) the same at scale, counting internal errors and hangs by kind.
"""

from __future__ import annotations

import os
import random
from collections import Counter

import pytest
from helpers import file_fuzz

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("fmt", sorted(file_fuzz.FORMATS))
def test_negative_control_the_sound_files_are_read(tmp_path, fmt):
    make, spec = file_fuzz.FORMATS[fmt]
    make(tmp_path)
    assert file_fuzz.exercise(tmp_path, spec) is None


def test_negative_control_the_check_flags_an_internal_error(tmp_path, monkeypatch):
    from graphspec.training import datasets

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(datasets, "from_spec", broken)
    make, spec = file_fuzz.FORMATS["npz"]
    make(tmp_path)
    found = file_fuzz.exercise(tmp_path, spec)
    assert found is not None and "KeyError" in found


@pytest.mark.parametrize("fmt", sorted(file_fuzz.FORMATS))
def test_corrupted_files(tmp_path, fmt):
    for seed in range(4):
        done, found = file_fuzz.one_case(tmp_path, fmt, seed)
        assert found is None, f"{fmt} seed {seed} ({done}): {found}"


# Cases the soak found (each was exit 1 before its fix), kept as regressions.
FOUND = [
    ("pt", 2458426670),  # a zip end record claiming several disks: BadZipFile from is_zipfile
    ("npy", 0),  # a zeroed .npy header: tokenize's TokenError from numpy's header parser
]


@pytest.mark.parametrize("fmt, seed", FOUND)
def test_cases_the_soak_found(tmp_path, fmt, seed):
    done, found = file_fuzz.one_case(tmp_path, fmt, seed)
    assert found is None, f"{fmt} seed {seed} ({done}): {found}"


@pytest.mark.soak
def test_file_fuzz_soak(tmp_path):
    count = int(os.environ.get("GRAPHSPEC_FILE_FUZZ", "10000"))
    rng = random.Random(os.environ.get("GRAPHSPEC_FILE_FUZZ_SEED", "files"))
    errors: Counter = Counter()
    examples: dict[str, tuple[str, int, str]] = {}
    formats = sorted(file_fuzz.FORMATS)
    for _ in range(count):
        fmt, seed = rng.choice(formats), rng.randrange(2**32)
        done, found = file_fuzz.one_case(tmp_path, fmt, seed)
        if found:
            errors[found[:200]] += 1
            examples.setdefault(found[:200], (fmt, seed, done))
    print(f"\nfile fuzz: {count} corrupted files, {sum(errors.values())} internal errors or hangs")
    for kind, n in errors.most_common():
        print(f"  {n} x {kind}  e.g. {examples[kind]}")
    assert not errors
