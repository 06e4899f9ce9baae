"""The op registry (graphspec/ops/__init__.py): complete, named right, and lazy; the torch
name tables (spec_train.py) lazy too.

Laziness is checked in a fresh interpreter, the only place where "not imported" means anything.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import sys

import pytest
import yaml
from helpers.runhelp import ROOT

import graphspec.ops
from graphspec.ops import OPS, Op, Registry

FAMILIES = sorted(
    m.name for m in pkgutil.iter_modules(graphspec.ops.__path__) if m.name not in {"base", "layout"}
)


def test_every_name_resolves_to_the_op_of_that_name():
    for name in OPS:
        cls = OPS[name]
        assert issubclass(cls, Op)
        assert cls.model_fields["op"].annotation.__args__ == (name,)
        assert cls.__name__ == name


def test_every_op_class_in_a_family_module_is_registered():
    defined = {}
    for family in FAMILIES:
        module = importlib.import_module(f"graphspec.ops.{family}")
        for name, obj in vars(module).items():
            public = not name.startswith("_")  # `_Pool2d` and the like are shared bases
            own = inspect.isclass(obj) and obj.__module__ == module.__name__
            if public and own and issubclass(obj, Op):
                defined[name] = obj
    assert defined and set(defined) == set(OPS)
    assert all(OPS[name] is cls for name, cls in defined.items())
    assert sorted(graphspec.ops.FAMILIES) == FAMILIES  # the registry reads every family module


def test_registry_is_a_mapping_that_tests_can_patch():
    reg = Registry({"Linear": "linear", "relu": "activations"})
    assert list(reg) == ["Linear", "relu"] and len(reg) == 2
    assert "Linear" in reg and "Conv2d" not in reg and reg.get("Conv2d") is None
    with pytest.raises(KeyError):
        reg["Conv2d"]
    original = reg["relu"]
    reg["relu"] = OPS["tanh"]
    assert reg["relu"] is OPS["tanh"]
    reg["relu"] = original
    del reg["relu"]
    assert list(reg) == ["Linear"]


PROBE = r"""
import json, sys
from graphspec.cli import main
from graphspec.core.fields import StrictModel
code = main(["validate", sys.argv[1]])
print(json.dumps({"code": code,
                  "ops": sorted(m.rsplit(".", 1)[1] for m in sys.modules
                                if m.startswith("graphspec.ops.")),
                  "models": sorted(c.__name__ for c in StrictModel.__subclasses__())}))
"""


@pytest.mark.parametrize(
    ("spec", "families"),
    [
        ("lenet", {"conv", "linear", "pooling", "reshape", "activations"}),
        ("regression", {"linear", "activations"}),
        ("fit_sin", {"expr", "combine"}),  # expr's dtype rules live in combine
    ],
)
def test_validating_a_spec_imports_only_the_families_it_uses(spec, families):
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, f"specs/{spec}.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["code"] == 0, proc.stderr
    assert set(result["ops"]) - {"base", "layout"} == families
    # the loss and optimizer tables build only the rows the spec names (LazyUnion)
    data = yaml.safe_load((ROOT / "specs" / f"{spec}.yaml").read_text())
    named = {data["loss"], data["optimizer"]["op"]}
    tables = {"SGD", "Adam", "AdamW", "LBFGS", "MSELoss", "CrossEntropyLoss", "StepLR"}
    assert len(named) == 2 and set(result["models"]) & tables == named


def test_a_validated_member_is_accepted_back():
    """`FakeImages(transforms=spec.transforms)` passes models, not mappings (data.py does)."""
    from graphspec.data.images import FakeImages, VisionData

    vision = VisionData.model_validate(
        {
            "source": "CIFAR10",
            "transforms": ["ToTensor", {"Normalize": {"mean": [0.5], "std": [0.5]}}],
        }
    )
    fake = FakeImages(source="FakeData", transforms=vision.transforms)
    assert fake.transforms == vision.transforms
    with pytest.raises(ValueError, match="valid dictionary"):
        FakeImages(source="FakeData", transforms=[vision])


def test_op_modules_keep_their_annotations_evaluated():
    """No ops module defers its annotations (`from __future__ import annotations`): pydantic
    would evaluate each inherited string annotation again for every op class (start-up)."""
    modules = sorted((ROOT / "graphspec" / "ops").glob("*.py"))
    assert len(modules) > 10
    line = re.compile(r"^from __future__ import annotations$", re.M)
    deferred = [m.name for m in modules if line.search(m.read_text())]
    assert not deferred
