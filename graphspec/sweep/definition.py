"""What a sweep is: the spec, its search spaces and fixed overrides, the metric, the budget.

The definition is checked torch-free before any trial runs (every space's extreme values are
applied to the spec and validated like a `--set`), written to `sweep.json` in the sweep folder,
and read back by every worker, so all of them run the same study.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from graphspec.core.errors import Pos, fail
from graphspec.language import overrides, search_space
from graphspec.language.load import Document, load_file
from graphspec.language.recipe import higher_is_better
from graphspec.language.search_space import Space

SAMPLERS = ("tpe", "random", "grid", "cmaes")
PRUNERS = ("median", "hyperband", "none")
METRIC_SPLITS = ("val", "test", "train")


@dataclass
class Definition:
    spec: str
    """The spec file, absolute: workers and a resumed sweep read the same one."""
    spaces: list[Space]
    fixed: list[str] = field(default_factory=list)
    """Plain overrides, the same for every trial."""
    trials: int = 10
    metric: str = "val.loss"
    direction: str = "minimize"
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int = 0
    spec_sha256: str = ""

    @property
    def key(self) -> str:
        """Names the study: the same command (spec text, spaces, metric, seed) is the same
        study, so rerunning it continues it and another machine joins it."""
        parts = [
            self.spec_sha256,
            *(s.text for s in self.spaces),
            *self.fixed,
            self.metric,
            self.direction,
            self.sampler,
            self.pruner,
            str(self.seed),
        ]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:10]

    def trial_seed(self, number: int) -> int:
        """Each trial's seed, from the sweep's seed and the trial's number."""
        digest = hashlib.sha256(f"{self.seed}:{number}".encode()).digest()
        return int.from_bytes(digest[:4], "little") % 2**31

    def to_json(self) -> str:
        data = asdict(self)
        data["spaces"] = [s.text for s in self.spaces]
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Definition:
        data = json.loads(text)
        data["spaces"] = [search_space.parse(t) for t in data["spaces"]]
        return cls(**data)


def build(spec: str, items: list[str], **options: Any) -> tuple[Definition, Document]:
    """The sweep of `spec` over `items` (spaces and plain overrides), checked: E-SWEEP or the
    spec's own error for a space whose values do not fit their field."""
    spaces = [search_space.parse(i) for i in items if search_space.is_space(i)]
    fixed = [i for i in items if not search_space.is_space(i)]
    if not spaces:
        _no_unknown_function(fixed)
        raise fail(
            "E-SWEEP",
            "nothing to search: no override gives a space",
            Pos("<command line>", 1, 1),
            hint="e.g. --set 'optimizer.lr=tag(log, interval(1e-4, 1e-1))'",
        )
    _no_twice(spaces, fixed)
    base = load_file(spec)
    doc = overrides.apply(base, overrides.parse(fixed))
    for space in spaces:
        _check_fits(doc, space)
    _fill_defaults(options, doc)
    defn = Definition(
        spec=str(Path(spec).resolve()),
        spaces=spaces,
        fixed=fixed,
        spec_sha256=hashlib.sha256(Path(spec).read_bytes()).hexdigest(),
        **options,
    )
    _check_metric(defn, doc)
    if defn.sampler == "grid" and any(s.kind == "float" and s.step is None for s in spaces):
        raise fail(
            "E-SWEEP",
            "--sampler grid needs countable spaces: choice() or range()",
            Pos("--sampler grid", 1, 1),
            hint="or use --sampler tpe",
        )
    return defn, doc


def _no_unknown_function(fixed: list[str]) -> None:
    """`lr=uniform(1, 2)` meant a space: say which functions there are, at its column."""
    for item in fixed:
        key, _, value = item.partition("=")
        match = search_space.CALL.match(value)
        if match:
            raise fail(
                "E-SWEEP",
                f"unknown search function '{match.group(1)}'",
                Pos(f"--set {item}", 1, len(key) + 2 + match.start(1)),
                hint=f"use one of {', '.join(search_space.FUNCTIONS)}",
            )


def _no_twice(spaces: list[Space], fixed: list[str]) -> None:
    seen: set[str] = set()
    for text in [s.text for s in spaces] + fixed:
        key = text.partition("=")[0].strip()
        if key in seen:
            raise fail("E-SWEEP", f"'{key}' is given twice", Pos(f"--set {text}", 1, 1))
        seen.add(key)


def _check_fits(doc: Document, space: Space) -> None:
    """Each extreme value of the space, applied alone, must validate as the spec's field."""
    from graphspec.compiler.pipeline import compile_document

    for value in space.extremes():
        item = f"{space.key}={json.dumps(value)}"  # JSON is YAML 1.2: the value exactly
        compile_document(overrides.apply(doc, overrides.parse([item])))


def _check_metric(defn: Definition, doc: Document) -> None:
    split, _, name = defn.metric.partition(".")
    where = Pos(f"--metric {defn.metric}", 1, 1)
    if split not in METRIC_SPLITS or not name:
        raise fail(
            "E-SWEEP",
            f"'{defn.metric}' is not SPLIT.NAME",
            where,
            hint="e.g. val.loss, val.accuracy, test.accuracy or train.loss",
        )
    has_validation = (doc.data.get("train") or {}).get("validation") is not None
    if split == "val" and not has_validation:
        raise fail(
            "E-SWEEP",
            f"--metric {defn.metric} needs train.validation in the spec",
            where,
            hint="add train: {validation: {split: 0.1}}, or use a test.* metric",
        )
    if defn.pruner != "none" and not has_validation:
        raise fail(
            "E-SWEEP",
            f"--pruner {defn.pruner} prunes at validations, and the spec has no train.validation",
            Pos(f"--pruner {defn.pruner}", 1, 1),
            hint="add train.validation, or pass --pruner none",
        )


def _fill_defaults(options: dict[str, Any], doc: Document) -> None:
    """Metric, direction, pruner and seed the command left out, from the spec as it will run."""
    validates = (doc.data.get("train") or {}).get("validation") is not None
    if options.get("metric") is None:
        options["metric"] = default_metric(doc)
    if options.get("direction") is None:
        options["direction"] = default_direction(options["metric"])
    if options.get("pruner") is None:
        options["pruner"] = "median" if validates else "none"
    if options.get("seed") is None:
        seed = doc.data.get("seed")
        options["seed"] = seed if isinstance(seed, int) and not isinstance(seed, bool) else 0


def default_metric(doc: Document) -> str:
    """The validation loss when the spec validates, else the test accuracy or loss."""
    data = doc.data
    if (data.get("train") or {}).get("validation") is not None:
        return "val.loss"
    evaluate = data.get("evaluate") or {}
    return (
        "test.accuracy" if isinstance(evaluate, dict) and evaluate.get("accuracy") else "train.loss"
    )


def default_direction(metric: str) -> str:
    return "maximize" if higher_is_better(metric.partition(".")[2]) else "minimize"
