"""A text file for next-token prediction: characters, bytes or GPT-2 tokens, cut into blocks of
`block_size` ids; each block's target is the same block shifted by one (the next id at every
position), the labels a classifier over the vocabulary gets per token.

Characters are numbered in sorted order over the training and test text (nanoGPT's
shakespeare_char); bytes are 0..255; `gpt2` is tiktoken's GPT-2 encoding (50,257 ids), which
needs the `text` extra (`pip install 'graphspec[text]'`). Before torch is imported the file is
read and checked: that it is UTF-8 text and holds at least one block and its next token.
"""

from __future__ import annotations

from typing import Literal

from graphspec.core.codetext import in_docstring, literal, wrap_list
from graphspec.core.fields import Int, Probability, Size
from graphspec.data.base import Source, constraint, data_error, file_problem, split_lines

MAX_FILE_BYTES = 64 * 1024**2
VOCAB = {"bytes": 256, "gpt2": 50257}
"""Vocabulary sizes known without reading the text (characters: the text's own)."""


class TextData(Source):
    """A text file as ids (characters, bytes or GPT-2 tokens) in blocks of `block_size`, the
    target of each block the block shifted by one: next-token prediction."""

    reads_as = "text"
    source: Literal["text"]
    path_fields = ("path",)
    path: str
    """A UTF-8 text file, relative to the working folder."""
    block_size: Size
    """Ids per block: the model's input is (N, block_size) int64, so is its target."""
    encoding: Literal["chars", "bytes", "gpt2"] = "chars"
    """chars: one id per character (sorted); bytes: 0..255; gpt2: tiktoken's GPT-2 tokens."""
    stride: Size | None = None
    """Ids between the starts of two blocks; default: block_size (blocks do not overlap)."""
    test: str | None = None
    """A second text file for the test split (instead of `test_fraction`)."""
    test_fraction: Probability = 0.0
    """Blocks held out for the evaluation, drawn with `split_seed`."""
    split_seed: Int = 0

    @property
    def imports(self) -> tuple[str, ...]:  # type: ignore[override]
        """Only a gpt2 spec's code imports tiktoken."""
        return ("from pathlib import Path",) + (
            ("import tiktoken",) if self.encoding == "gpt2" else ()
        )

    def class_count(self) -> tuple[int | None, str]:
        known = VOCAB.get(self.encoding)
        return (known, f"data.encoding {self.encoding}") if known else (None, "")

    def gives_labels(self) -> bool:
        return True  # the next id at every position

    def label_shape(self) -> tuple[int | str, ...] | None:
        return (self.block_size,)

    def has_test(self) -> bool:
        return self.test is not None or self.test_fraction > 0

    def problems(self, pos_of) -> list:
        if self.test is not None and self.test_fraction > 0:
            return [constraint("give either a test: file or test_fraction, not both",
                               pos_of(("data", "test_fraction")))]  # fmt: skip
        return []

    def check_available(self, doc, *, fake_data: bool) -> None:
        for field, path in [("path", self.path), ("test", self.test)]:
            if path is not None:
                self._check_file(path, doc.pos(("data", field)))

    def _check_file(self, path: str, pos) -> None:
        problem = file_problem(path, pos, MAX_FILE_BYTES, "a UTF-8 text file")
        if problem is not None:
            raise problem
        with open(path, "rb") as f:
            raw = f.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise data_error(f"'{path}' is not UTF-8 text ({err})", pos,
                             "save it as UTF-8") from None  # fmt: skip
        ids = self._count(text, raw, pos)
        if ids < self.block_size + 1:
            raise data_error(
                f"'{path}' holds {ids:,} {self.encoding_noun()}, fewer than one block of "
                f"{self.block_size} and the id after it",
                pos,
                f"use a longer text or a block_size below {max(ids - 1, 1)}",
            )

    def _count(self, text: str, raw: bytes, pos) -> int:
        if self.encoding == "bytes":
            return len(raw)
        if self.encoding == "chars":
            return len(text)
        return len(_gpt2(pos).encode_ordinary(text))

    def encoding_noun(self) -> str:
        return {"chars": "characters", "bytes": "bytes", "gpt2": "GPT-2 tokens"}[self.encoding]

    def make_data(self) -> list[str]:
        stride = self.stride or self.block_size
        lines = [
            f'    """{self.encoding_noun().capitalize()} in blocks of {self.block_size}, '
            "the target the next id at every position, from",
            f'    {in_docstring(self.path)}"""',  # a line of its own: a path is one word to ruff
            *wrap_list("    paths = ", literal([p for p in (self.path, self.test) if p])),
            '    texts = [Path(p).read_text(encoding="utf-8") for p in paths]',
            *self._encode(),
            f"    block, stride = {self.block_size}, {stride}",
            "",
            "    def blocks(ids):",
            "        starts = torch.arange(0, len(ids) - block, stride)[:, None]",
            "        at = starts + torch.arange(block)",
            "        return (ids[at],), ids[at + 1]  # the target: the input shifted by one",
            "",
            "    (x,), target = blocks(encoded[0])",
        ]
        if self.test is not None:
            return lines + ["    return ((x,), target), blocks(encoded[1])"]
        return [*lines, "    inputs = (x,)", *split_lines(self.test_fraction, self.split_seed)]

    def _encode(self) -> list[str]:
        if self.encoding == "chars":
            return [
                '    chars = sorted(set("".join(texts)))  # the vocabulary: every character seen',
                "    index = {c: i for i, c in enumerate(chars)}",
                "    make_data.vocabulary = chars  # kept with the weights (preprocess.json)",
                "    encoded = [torch.tensor([index[c] for c in t], dtype=torch.int64) "
                "for t in texts]",
            ]
        if self.encoding == "bytes":
            return [
                "    encoded = [torch.tensor(list(t.encode('utf-8')), dtype=torch.int64) "
                "for t in texts]",
            ]
        return [
            "    gpt2 = tiktoken.get_encoding('gpt2')",
            "    encoded = [torch.tensor(gpt2.encode_ordinary(t), dtype=torch.int64) "
            "for t in texts]",
        ]

    def describe(self, train: int, test: int | None) -> str:
        counts = f"{train:,} train" + (f" / {test:,} test" if test is not None else "")
        return f"text {self.path}: blocks of {self.block_size} {self.encoding_noun()}, {counts}"


def _gpt2(pos):
    """tiktoken's GPT-2 encoding, or E-DATA saying how to get it."""
    try:
        import tiktoken
    except ImportError:
        raise data_error(
            "encoding: gpt2 needs the tiktoken package, which is not installed",
            pos,
            "pip install 'graphspec[text]' (or use encoding: chars or bytes)",
        ) from None
    try:
        return tiktoken.get_encoding("gpt2")
    except Exception as err:  # noqa: BLE001 - its files are fetched once and cached
        raise data_error(
            f"tiktoken could not load the gpt2 encoding ({err})",
            pos,
            "tiktoken downloads it once: run once with network access",
        ) from None
