"""`graphspec run` on bad input (run names, existing or locked run folders, missing or unfit data,
bad checkpoints, resuming another spec, bad --set): one located error line, exit 2, nothing
written, nothing unpickled. NaN losses, signals and kill -9 are in training/test_resume.py."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from helpers.runhelp import SPECS, run_cli

from graphspec.training import checkpoint
from graphspec.training import run_folder as runs

SENTINEL = Path("/tmp/graphspec-pickle-sentinel")


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _error(res, code: str) -> str:
    assert res.code == 2, (res.out, res.err)
    lines = res.err.strip().splitlines()
    assert lines and all(f"error[{code}]" in line for line in lines), res.err
    return lines[0]


def _write_spec(tmp_path: Path, base: str = "regression.yaml", **changes) -> Path:
    data = yaml.safe_load((SPECS / base).read_text())
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            data[section][field] = value
        else:
            data[section] = value
    path = tmp_path / f"spec-{len(list(tmp_path.glob('spec-*')))}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished 6-step regression run with two checkpoints."""
    res = run_cli(
        SPECS / "regression.yaml",
        "--set",
        "train.steps=6",
        "--set",
        "train.checkpoint_every=3",
        "--quiet",
        runs=tmp_path_factory.mktemp("runs"),
    )
    assert res.code == 0, res.err
    return res.run_dir


def _copy_run(finished: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(finished, run, ignore=shutil.ignore_patterns(".lock"))
    return run


# -- run names that would leave the runs folder ----------------------------------------------------


@pytest.mark.parametrize("name", ["../../etc", "/abs/x", "..\\\\x", "a/b", ".hidden"])
def test_run_name_path_traversal(tmp_path, name):
    res = run_cli(SPECS / "regression.yaml", "--set", f"name={name}", runs=tmp_path / "runs")
    assert "run name" in _error(res, "E-PATH")
    assert not (tmp_path / "runs").exists() and list(tmp_path.iterdir()) == []


def test_run_name_with_a_nul_byte(tmp_path):
    spec = tmp_path / "nul.yaml"
    spec.write_text((SPECS / "lenet.yaml").read_text().replace("name: lenet", 'name: "a\\0b"'))
    assert "run name" in _error(run_cli(spec, runs=tmp_path / "runs"), "E-PATH")
    assert not (tmp_path / "runs").exists()


def test_symlinked_run_folder_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "regression").symlink_to(outside)
    res = run_cli(SPECS / "regression.yaml", runs=tmp_path / "runs")
    assert "symbolic link" in _error(res, "E-PATH")
    assert list(outside.iterdir()) == []


# -- existing and locked run folders ---------------------------------------------------------------


def test_out_folder_exists(tmp_path, finished):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    res = run_cli(SPECS / "lenet.yaml", "--out", out)
    assert "already exists" in _error(res, "E-EXISTS")
    res = run_cli(SPECS / "lenet.yaml", "--out", out, "--overwrite")
    assert "not a graphspec run folder" in _error(res, "E-EXISTS")
    assert (out / "notes.txt").read_text() == "keep me"
    run = _copy_run(finished, tmp_path)
    res = run_cli(SPECS / "lenet.yaml", "--out", run, "--overwrite", "--quiet")
    assert res.code == 0 and res.run_dir == run
    assert yaml.safe_load((run / "spec.yaml").read_text())["name"] == "lenet"


def test_locked_run_folder(tmp_path, finished):
    run = _copy_run(finished, tmp_path)
    lock = runs.Lock(run)  # as if another run were writing it
    try:
        res = run_cli("--resume", run, "--set", "train.steps=9")
        assert "in use by another graphspec run" in _error(res, "E-LOCKED")
    finally:
        lock.release()
    assert run_cli("--resume", run, "--set", "train.steps=9", "--quiet").code == 0


# -- data missing, too small, or not what the model takes ------------------------------------------


def test_too_few_rows_for_one_batch(tmp_path):
    """Known from the spec alone (checks.py): refused at validation, before torch."""
    spec = _write_spec(
        tmp_path,
        "lenet.yaml",
        data={
            "source": "random",
            "inputs": {"x": [3, 1, 32, 32]},
            "target": [3, 10],
            "batch_size": 4,
            "drop_last": True,
        },
    )
    assert "take no step" in _error(run_cli(spec, runs=tmp_path / "r"), "E-CONSTRAINT")
    assert not (tmp_path / "r").exists()


def test_too_few_images_for_one_batch(tmp_path):
    """Known only once the data is built: an image folder with 2 images, batch 4, drop_last."""
    from PIL import Image

    for name in ("a", "b"):
        (tmp_path / "img" / name).mkdir(parents=True)
        Image.new("RGB", (32, 32)).save(tmp_path / "img" / name / "0.png")
    spec = _write_spec(
        tmp_path,
        "cifar.yaml",
        data={
            "source": "ImageFolder",
            "root": str(tmp_path / "img"),
            "batch_size": 4,
            "drop_last": True,
        },
    )
    assert "gives no batch" in _error(run_cli(spec, runs=tmp_path / "r"), "E-DATA")
    assert not (tmp_path / "r").exists()


def test_sample_shape_differs_from_model_input(tmp_path):
    spec = _write_spec(
        tmp_path,
        "digits.yaml",
        model={
            "inputs": {"x": ["N", 1, 28, 28]},
            "layers": {
                "flat": {"op": "flatten", "start_dim": 1},
                "fc": {"op": "Linear", "out_features": 10},
            },
        },
    )
    line = _error(run_cli(spec, runs=tmp_path / "r"), "E-DATA")
    assert "(1, 8, 8)" in line and "(N, 1, 28, 28)" in line


def test_labels_out_of_range(tmp_path):
    """Class labels of an image folder are known only once it is read: 3 classes, 2 outputs."""
    from PIL import Image

    for name in ("a", "b", "c"):
        (tmp_path / "img" / name).mkdir(parents=True)
        Image.new("RGB", (32, 32)).save(tmp_path / "img" / name / "0.png")
    spec = _write_spec(
        tmp_path,
        "cifar.yaml",
        data={"source": "ImageFolder", "root": str(tmp_path / "img"), "batch_size": 1},
    )
    spec.write_text(spec.read_text().replace("out_features: 10", "out_features: 2"))
    line = _error(run_cli(spec, runs=tmp_path / "r"), "E-DATA")
    assert "labels run from 0 to 2" in line and "2 classes" in line


def test_image_size_differs_from_model_input(tmp_path):
    from PIL import Image

    (tmp_path / "img" / "a").mkdir(parents=True)
    Image.new("RGB", (28, 28)).save(tmp_path / "img" / "a" / "0.png")
    spec = _write_spec(
        tmp_path,
        "cifar.yaml",
        data={"source": "ImageFolder", "root": str(tmp_path / "img"), "batch_size": 1},
    )
    line = _error(run_cli(spec, runs=tmp_path / "r"), "E-DATA")
    assert "(3, 28, 28)" in line and "(N, 3, 32, 32)" in line


def test_target_shape_would_broadcast(tmp_path):
    """(N, 1) output against a (N,) target: refused at validation (checks.py)."""
    spec = _write_spec(tmp_path, data__target="x**2", data__column=False)
    line = _error(run_cli(spec, runs=tmp_path / "r"), "E-LOSS")
    assert "does not match the target" in line


def test_corrupt_dataset_files(tmp_path):
    """Files where torchvision looks, but not CIFAR-10's: torchvision's refusal, as E-DATA."""
    folder = tmp_path / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]:
        (folder / name).write_bytes(b"not a pickle")
    res = run_cli(
        SPECS / "cifar.yaml",
        "--set",
        f"data.root={tmp_path / 'data'}",
        "--set",
        "data.download=false",
        runs=tmp_path / "r",
    )
    assert re.search(r"CIFAR10 .*could not be loaded", _error(res, "E-DATA"))
    assert not (tmp_path / "r").exists()


def test_missing_dataset_without_download(tmp_path):
    res = run_cli(
        SPECS / "cifar.yaml",
        "--set",
        f"data.root={tmp_path}",
        "--set",
        "data.download=false",
        runs=tmp_path / "r",
    )
    line = _error(res, "E-DATA")
    assert "download is false" in line and "--fake-data" in line


def test_missing_image_folder(tmp_path):
    spec = _write_spec(
        tmp_path,
        "cifar.yaml",
        data={"source": "ImageFolder", "root": str(tmp_path / "nope"), "batch_size": 4},
    )
    assert "does not exist" in _error(run_cli(spec, runs=tmp_path / "r"), "E-DATA")


def test_spec_without_data(tmp_path):
    data = yaml.safe_load((SPECS / "lenet.yaml").read_text())
    for key in ("data", "loss", "optimizer"):
        del data[key]
    spec = tmp_path / "nodata.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    assert "no `data:` section" in _error(run_cli(spec, runs=tmp_path / "r"), "E-DATA")


# -- bad checkpoints -------------------------------------------------------------------------------


def _newest(run: Path) -> Path:
    return checkpoint.listing(run)[0]


def test_truncated_checkpoint(tmp_path, finished):
    run = _copy_run(finished, tmp_path)
    newest = _newest(run)
    newest.write_bytes(newest.read_bytes()[:200])
    line = _error(run_cli("--resume", run), "E-CKPT")
    assert "not a readable checkpoint" in line and "--fallback" in line
    res = run_cli("--resume", run, "--fallback", "--set", "train.steps=9", "--quiet")
    assert res.code == 0, res.err


def test_checkpoint_of_another_spec(tmp_path, finished):
    run = _copy_run(finished, tmp_path)
    lenet = run_cli(SPECS / "lenet.yaml", "--quiet", runs=tmp_path / "other")
    shutil.copy(_newest(lenet.run_dir), checkpoint.path_for(run, 99))
    assert "belongs to a different spec" in _error(run_cli("--resume", run), "E-CKPT")


def test_checkpoint_from_a_newer_graphspec(tmp_path, finished):
    run = _copy_run(finished, tmp_path)
    ckpt = torch.load(_newest(run), weights_only=True)
    ckpt["format"] = checkpoint.FORMAT + 1
    torch.save(ckpt, _newest(run))
    assert "newer than this graphspec reads" in _error(run_cli("--resume", run), "E-CKPT")


def test_no_checkpoints(tmp_path, finished):
    run = _copy_run(finished, tmp_path)
    shutil.rmtree(run / "checkpoints")
    assert "no checkpoints to resume from" in _error(run_cli("--resume", run), "E-CKPT")


class _Payload:
    def __reduce__(self):
        return (SENTINEL.write_text, ("pwned",))


def test_pickle_payload_is_never_executed(tmp_path, finished):
    SENTINEL.unlink(missing_ok=True)
    run = _copy_run(finished, tmp_path)
    ckpt = torch.load(_newest(run), weights_only=True)
    ckpt["rng"]["torch"] = _Payload()
    torch.save(ckpt, checkpoint.path_for(run, 99))
    line = _error(run_cli("--resume", run), "E-CKPT")
    assert "refused, never unpickled" in line
    assert not SENTINEL.exists()


def test_stray_temp_files_are_removed(tmp_path, finished):
    run = _copy_run(finished, tmp_path)
    stray = run / "checkpoints" / ".step-00000009.pt.abc.tmp"
    stray.write_bytes(b"half a checkpoint")
    res = run_cli("--resume", run, "--set", "train.steps=9")
    assert res.code == 0, res.err
    assert not stray.exists() and "removed 1 unfinished" in res.err


# -- resuming with another spec --------------------------------------------------------------------


def test_resume_with_changed_spec(tmp_path, finished):
    run = _copy_run(finished, tmp_path)
    line = _error(run_cli("--resume", run, "--set", "optimizer.lr=0.5"), "E-RESUME")
    assert "(optimizer)" in line
    line = _error(run_cli(SPECS / "lenet.yaml", "--resume", run), "E-RESUME")
    assert "differs" in line


def test_resume_a_folder_that_is_not_a_run(tmp_path):
    assert "not a graphspec run folder" in _error(run_cli("--resume", tmp_path), "E-RESUME")


# -- --set and devices -----------------------------------------------------------------------------


def test_set_errors_point_at_the_set(tmp_path):
    res = run_cli(
        SPECS / "regression.yaml",
        "--set",
        "optimizer.lr=-1",
        "--set",
        "trian.steps=3",
        runs=tmp_path,
    )
    assert res.code == 2
    lines = res.err.strip().splitlines()
    assert any(x.startswith("--set optimizer.lr:1:1: error[E-RANGE]") for x in lines)
    assert any("--set trian.steps" in x and "did you mean 'train'?" in x for x in lines)
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_set_is_typed_like_the_file(tmp_path):
    line = _error(
        run_cli(SPECS / "regression.yaml", "--set", "train.steps=1.5", runs=tmp_path), "E-TYPE"
    )
    assert line.startswith("--set train.steps")
    line = _error(
        run_cli(SPECS / "regression.yaml", "--set", "train.steps=ten", runs=tmp_path), "E-REF"
    )  # integer fields take expressions over constants
    assert "unknown name 'ten'" in line
    assert "not key=value" in _error(run_cli(SPECS / "lenet.yaml", "--set", "seed"), "E-SET")


def test_set_expands_shorthand_and_replaces_mappings(tmp_path):
    res = run_cli(
        SPECS / "regression.yaml",
        "--set",
        "loss.reduction=sum",
        "--set",
        "optimizer={op: Adam, lr: 0.01}",
        "--set",
        "train.steps=3",
        "--quiet",
        runs=tmp_path,
    )
    assert res.code == 0, res.err
    resolved = yaml.safe_load((res.run_dir / "spec.yaml").read_text())
    assert resolved["loss"] == {"op": "MSELoss", "reduction": "sum"}
    assert resolved["optimizer"] == {"op": "Adam", "lr": 0.01}


@pytest.mark.parametrize("device", ["cuda:7", "mps"])
def test_absent_device(tmp_path, device):
    if (
        device == "mps"
        and getattr(torch.backends, "mps", None)
        and torch.backends.mps.is_available()
    ):
        pytest.skip("this machine has mps")
    res = run_cli(SPECS / "lenet.yaml", "--set", f"device={device}", runs=tmp_path)
    assert "is not available" in _error(res, "E-DEVICE")
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []
