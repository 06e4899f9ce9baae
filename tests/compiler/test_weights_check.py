"""`validate` compares a safetensors file with the model without torch: the header (8 bytes of
length, then JSON) against the state_dict the compiler infers. Each key that is missing,
unexpected, or of another shape is reported at the spec's `weights.from` line, naming the node,
with a hint; a `sha256:` pin is checked before any of the file is read."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

import pytest
import torch
from helpers.finetune import make_project, resnet18_state

from graphspec.cli import main
from graphspec.compiler import weights_check

NO_TORCH = (
    "import sys; sys.modules['torch'] = None; sys.modules['torchvision'] = None; "
    "from graphspec.cli import main; "
    "codes = [main(['validate', f]) for f in sys.argv[1:]]; "
    "print(codes, 'torch' in sys.modules and sys.modules['torch'] is not None)"
)


def _save(state: dict, path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, path)


def _header(text: bytes) -> bytes:
    return len(text).to_bytes(8, "little") + text


def _validate(spec) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["validate", str(spec)])
    return code, err.getvalue()


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path, make_project(tmp_path, freeze=[])


def test_validate_reports_a_wrong_shape_and_a_missing_key_without_torch(project):
    folder, spec = project
    bad = resnet18_state()
    del bad["layer1.0.bn1.running_var"]
    bad["layer2.0.conv1.weight"] = torch.zeros(128, 64, 5, 5)
    _save(bad, folder / "bad.safetensors")
    bad_spec = folder / "bad.yaml"
    bad_spec.write_text(spec.read_text().replace("resnet18.safetensors", "bad.safetensors"))
    proc = subprocess.run(
        [sys.executable, "-c", NO_TORCH, str(spec), str(bad_spec)],
        cwd=folder, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "[0, 2] False"  # the good file passes; no torch
    lines = [line for line in proc.stderr.splitlines() if "error[" in line]
    assert len(lines) == 2, proc.stderr
    shape, missing = lines
    assert shape.startswith(f"{bad_spec}:8:9: error[E-WEIGHTS]: 'layer2.0.conv1.weight'")
    weights = folder / "bad.safetensors"  # named as resolved: beside the spec, absolute
    assert "(128, 64, 3, 3) in the model" in shape and f"(128, 64, 5, 5) in {weights}" in shape
    assert "node 'layer2.0.conv1'" in shape and 'ignore: ["layer2.0.conv1.*"]' in shape
    assert missing.startswith(f"{bad_spec}:8:9: error[E-WEIGHTS]: 'layer1.0.bn1.running_var'")
    assert f"not in {weights}" in missing and "(node 'layer1.0.bn1')" in missing


def test_a_sha256_mismatch_stops_before_any_weight_is_read(project, monkeypatch):
    folder, spec = project
    pinned = spec.read_text().replace(
        "  ignore:", "  sha256: " + "0" * 64 + "\n  ignore:"
    )  # a pin that no file has
    spec.write_text(pinned)

    def read(*_):
        raise AssertionError("the header was read although the hash does not match")

    monkeypatch.setattr(weights_check, "read_safetensors_header", read)
    code, err = _validate(spec)
    assert code == 2 and "E-WEIGHTS" in err and "0" * 64 in err and "finetune.yaml:9:" in err
    monkeypatch.undo()
    monkeypatch.chdir(folder)
    good = weights_check.sha256_of("resnet18.safetensors")
    spec.write_text(pinned.replace("0" * 64, good))  # the control: the right pin passes
    assert _validate(spec)[0] == 0


def test_a_prefix_gets_a_rename_hint_and_rename_fixes_it(project):
    folder, spec = project
    _save(
        {f"backbone.{k}": v for k, v in resnet18_state().items()}, folder / "resnet18.safetensors"
    )
    code, err = _validate(spec)
    assert code == 2 and 'rename: {"^backbone\\.": ""}' in err
    spec.write_text(
        spec.read_text().replace("  ignore:", '  rename: {"^backbone\\\\.": ""}\n  ignore:')
    )
    assert _validate(spec) == (0, "")


def test_strict_false_loads_what_fits(project):
    folder, spec = project
    _save(
        {k: v for k, v in resnet18_state().items() if "layer4" not in k},
        folder / "part.safetensors",
    )
    spec.write_text(spec.read_text().replace("resnet18.safetensors", "part.safetensors"))
    code, err = _validate(spec)
    assert code == 2 and "'layer4.0.conv1.weight' of the model" in err
    spec.write_text(spec.read_text().replace("  ignore:", "  strict: false\n  ignore:"))
    assert _validate(spec) == (0, "")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x05\x00", "shorter than"),
        ((10**9).to_bytes(8, "little") + b"{}", "a header of"),
        ((2).to_bytes(8, "little") + b"[]", "not a JSON object"),
        (_header(b'{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}'),
         "outside the file"),
        (_header(b'{"a": {"dtype": "F32", "shape": "x", "data_offsets": [0, 0]}}'),
         "malformed"),
    ],
)  # fmt: skip
def test_a_malformed_header_is_an_input_error(project, content, reason):
    folder, spec = project
    (folder / "resnet18.safetensors").write_bytes(content)
    code, err = _validate(spec)
    assert code == 2 and "E-WEIGHTS" in err and reason in err


def test_a_freeze_or_group_pattern_that_matches_nothing_is_refused(project):
    _, spec = project
    spec.write_text(spec.read_text().replace("freeze: []", 'freeze: ["layer9.*"]'))
    code, err = _validate(spec)
    assert code == 2 and "E-REF" in err and "'layer9.*' matches no parameter" in err
    spec.write_text(spec.read_text().replace('params: "fc.*"', 'params: "head.*"'))
    assert "'head.*' matches no parameter" in _validate(spec)[1]


def test_weights_beside_the_spec_are_found_from_another_working_folder(project, monkeypatch):
    """`weights.from` is relative to the spec's folder, as data paths and `model: {from:}` are."""
    folder, spec = project
    _save(resnet18_state(), folder / "resnet18.safetensors")
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, err = _validate(spec)
    assert code == 0, err
    (folder / "resnet18.safetensors").unlink()
    code, err = _validate(spec)
    assert code == 2 and str(folder / "resnet18.safetensors") in err  # the path it tried
