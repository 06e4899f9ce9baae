"""The `weights:` section, `train.freeze` and `optimizer.groups` are checked by pydantic like
every section: each mistake one FILE:LINE:COL line at its own value, all at once."""

from __future__ import annotations

import pytest

from graphspec.compiler.pipeline import compile_text
from graphspec.core.errors import SpecError

HEAD = """\
name: w
model:
  inputs: {x: [N, 4]}
  layers:
    fc: {op: Linear, out_features: 2}
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as err:
        compile_text(HEAD + text, "w.yaml")
    return [p.format() for p in err.value.problems]


def test_each_mistake_in_weights_is_located():
    found = _problems(
        "weights:\n"
        '  from: "torchvision:resnet18"\n'
        "  sha256: abc\n"
        '  rename: {"(": "x"}\n'
        '  ignor: ["fc.*"]\n'
    )
    assert len(found) == 4, found
    name, sha, regex, unknown = found
    assert name.startswith("w.yaml:7:9: error[E-CONSTRAINT]") and "torchvision weights name" in name
    assert sha.startswith("w.yaml:8:11:") and "64 lowercase hex digits" in sha
    assert regex.startswith("w.yaml:9:12:") and "not a regular expression" in regex
    assert unknown.startswith("w.yaml:10:3: error[E-UNKNOWN]") and "'ignore'" in unknown


def test_a_bad_group_reference_in_a_replacement_is_refused():
    (found,) = _problems('weights: {from: w.pt, rename: {"^a": "\\\\9"}}\n')
    assert "invalid group reference 9" in found and found.startswith("w.yaml:6:")


def test_groups_take_the_optimizers_own_options_only():
    ok = 'optimizer: {op: Adam, groups: [{params: "fc.*", lr: 0.1, betas: [0.8, 0.9]}]}\n'
    assert compile_text(HEAD + ok, "w.yaml").spec.optimizer.groups[0].lr == 0.1
    bad = 'optimizer: {op: Adam, groups: [{params: "fc.*", momentum: 0.9}]}\n'
    (found,) = _problems(bad)
    assert "E-UNKNOWN" in found and "momentum" in found
    (found,) = _problems('train: {freeze: ["fc9.*"]}\n')
    assert "E-REF" in found and "'fc9.*' matches no parameter" in found
