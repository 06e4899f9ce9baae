"""Outputs that cannot be written, and checkpoints that are damaged.

Real faults where the machine allows them: a missing folder, `ulimit -f` in a child (writes
fail with EFBIG: Python ignores SIGXFSZ), SIGKILL while a checkpoint is being written, a FIFO,
a flipped bit. A read-only file system and a full disk at one chosen file cannot be made here
without root tricks (and tests run as root, where chmod does not stop writes), so those are
injected at the OS calls (`os.open`, `os.mkdir`, `os.replace`) with the errno the kernel gives.

Every case: a clean exit code (2, or 1 only for a bug), one error line naming the path, no
traceback, no half-written file (no '.*.tmp' left), and the last good checkpoint still loads.
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers.runhelp import ROOT, SPECS, child_env, run_cli

from graphspec.cli import main
from graphspec.training import checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

QUICK = (SPECS / "lenet.yaml", "--set", "train.steps=6", "--set", "train.checkpoint_every=2")
"""LeNet for 6 steps, a checkpoint every 2: checkpoints of about 0.5 MB, the rest a few KB."""


def strays(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*.tmp")]


def cli(*argv: str | Path, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error(err: str, code: str, *texts: str) -> None:
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    errors = [line for line in lines if f"error[{code}]" in line]
    assert len(errors) == 1, err
    for text in texts:
        assert text in errors[0], err


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished LeNet run with three checkpoints (steps 2, 4, 6)."""
    res = run_cli(*QUICK, "--set", "train.keep_checkpoints=3", runs=tmp_path_factory.mktemp("r"))
    assert res.code == 0, res.err
    assert len(checkpoint.listing(res.run_dir)) == 3
    return res.run_dir


def copy_run(run: Path, dest: Path) -> Path:
    import shutil

    target = dest / "run"
    shutil.copytree(run, target)
    return target


# -- outputs that cannot be written ----------------------------------------------------------------


@pytest.mark.parametrize("command", ["emit", "render", "schema"])
def test_output_into_a_missing_folder_is_e_io(command, tmp_path, capsys):
    target = tmp_path / "missing" / {"emit": "x.py", "render": "x.dot", "schema": "x.json"}[command]
    argv = [command] + ([] if command == "schema" else [SPECS / "lenet.yaml"]) + ["-o", target]
    code, out, err = cli(*argv, capsys=capsys)
    assert code == 2, err
    one_error(err, "E-IO", str(target), "no such folder")
    assert not (tmp_path / "missing").exists()


def test_emit_into_a_folder_path_is_e_io(tmp_path, capsys):
    code, _, err = cli("emit", SPECS / "lenet.yaml", "-o", tmp_path, capsys=capsys)
    assert code == 2
    one_error(err, "E-IO", str(tmp_path))
    assert strays(tmp_path) == []


def test_emit_writes_when_the_folder_exists(tmp_path, capsys):
    """Positive control for the tests above: the same command into a real folder works."""
    code, _, err = cli("emit", SPECS / "lenet.yaml", "-o", tmp_path / "x.py", capsys=capsys)
    assert code == 0, err
    assert "class Net" in (tmp_path / "x.py").read_text()


def read_only(monkeypatch, root: Path) -> None:
    """Make `root` behave as a read-only file system (EROFS) for everything graphspec does."""
    top = str(root.resolve())

    def guard(path) -> None:
        if os.path.abspath(os.fspath(path)).startswith(top):
            raise OSError(errno.EROFS, "Read-only file system", os.fspath(path))

    real_open, real_mkdir, real_replace = os.open, os.mkdir, os.replace
    real_unlink, real_builtin_open = os.unlink, builtins.open
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def fake_open(path, flags, *args, **kwargs):
        if flags & writing:
            guard(path)
        return real_open(path, flags, *args, **kwargs)

    def fake_builtin_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax+"):
            guard(file)
        return real_builtin_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "mkdir", lambda p, *a, **k: (guard(p), real_mkdir(p, *a, **k))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (guard(b), real_replace(a, b))[1])
    monkeypatch.setattr(os, "unlink", lambda p, *a, **k: (guard(p), real_unlink(p, *a, **k))[1])
    monkeypatch.setattr(builtins, "open", fake_builtin_open)


def test_read_only_runs_dir_is_e_io(tmp_path, monkeypatch):
    read_only(monkeypatch, tmp_path)
    res = run_cli(*QUICK, runs=tmp_path / "runs")
    assert res.code == 2, res.err
    one_error(res.err, "E-IO", str(tmp_path / "runs"), "read-only file system")
    assert not (tmp_path / "runs").exists()


def test_read_only_out_is_e_io(tmp_path, monkeypatch):
    read_only(monkeypatch, tmp_path)
    res = run_cli(*QUICK, "--out", tmp_path / "here")
    assert res.code == 2, res.err
    one_error(res.err, "E-IO", "read-only file system")
    assert not (tmp_path / "here").exists()


def test_read_only_resume_is_e_io_and_the_run_is_untouched(finished, tmp_path, monkeypatch):
    run = copy_run(finished, tmp_path)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    read_only(monkeypatch, tmp_path)
    res = run_cli("--resume", run, "--set", "train.steps=8")
    assert res.code == 2, res.err
    one_error(res.err, "E-IO", "read-only file system")
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_read_only_control_the_same_resume_works(finished, tmp_path):
    """Positive control: without the fault, that resume trains on to step 8."""
    run = copy_run(finished, tmp_path)
    res = run_cli("--resume", run, "--set", "train.steps=8")
    assert res.code == 0, res.err
    assert checkpoint.listing(run)[0].name == "step-00000008.pt"


def test_disk_full_while_drawing_is_e_io(tmp_path, monkeypatch):
    """ENOSPC at loss.png (the training is done and checkpointed): E-IO, no loss.png, no .tmp."""
    real_replace = os.replace

    def full(src, dst):
        if str(dst).endswith("loss.png"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", full)
    res = run_cli(*QUICK, runs=tmp_path)
    assert res.code == 2, res.err
    one_error(res.err, "E-IO", "loss.png", "no space left")
    [run] = tmp_path.glob("lenet/*")
    assert not (run / "loss.png").exists() and strays(tmp_path) == []
    checkpoint.load(
        checkpoint.listing(run)[0], json.loads((run / "meta.json").read_text())["spec_hash"]
    )


def child(*argv: str | Path, fsize_kb: int | None = None, timeout: float = 300):
    """`graphspec ARGV` in a child process, optionally under `ulimit -f` (in KiB)."""
    limit = f"({fsize_kb * 1024},) * 2" if fsize_kb else ""
    pre = f"import resource; resource.setrlimit(resource.RLIMIT_FSIZE, {limit}); "
    code = (pre if fsize_kb else "") + "import sys; from graphspec.cli import main; "
    code += "sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, argv)],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_file_size_limit_at_a_checkpoint_keeps_the_last_good_one(finished, tmp_path):
    """ulimit -f below a checkpoint's size: the resumed run's first checkpoint fails with E-IO
    (exit 2), nothing half-written stays, and the checkpoint before it still loads and resumes."""
    run = copy_run(finished, tmp_path)
    size_kb = checkpoint.listing(run)[0].stat().st_size // 1024
    proc = child("run", "--resume", run, "--set", "train.steps=10", fsize_kb=size_kb // 2)
    assert proc.returncode == 2, proc.stderr
    one_error(proc.stderr, "E-IO", "step-00000008.pt", "file too large")
    assert strays(run) == [] and checkpoint.listing(run)[0].name == "step-00000006.pt"
    again = run_cli("--resume", run, "--set", "train.steps=10")  # without the limit: it goes on
    assert again.code == 0, again.err


def test_file_size_limit_control_above_the_checkpoint_size(finished, tmp_path):
    """Negative control: the same child with a limit above every file finishes (exit 0)."""
    run = copy_run(finished, tmp_path)
    proc = child("run", "--resume", run, "--set", "train.steps=8", fsize_kb=64 * 1024)
    assert proc.returncode == 0, proc.stderr


def test_crash_log_at_one_kilobyte_is_one_line(tmp_path):
    """A bug while nothing can be written (ulimit -f 1 KiB, a traceback longer than that): exit
    1 and one line naming the error, no traceback on the screen."""
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))\n"
        "from graphspec import cli\n"
        "class Broken:\n"
        "    def add_arguments(p): p.add_argument('spec')\n"
        "    def run(args): raise RuntimeError('a bug\\n' + 'x' * 5000)\n"
        "cli._command = lambda name: Broken\n"
        "sys.exit(cli.main(['validate', 'x']))\n"
    )
    env = dict(child_env(), TMPDIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert "internal error" in line and "RuntimeError: a bug\\n" in line and "no crash log" in line
    assert list(tmp_path.iterdir()) == []  # no crash log cut short
    # control: with room to write, the same bug names a crash log holding the traceback
    proc = subprocess.run(
        [sys.executable, "-c", code.replace("(1024, 1024)", "(1 << 30, 1 << 30)")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "details in" in proc.stderr
    [log] = tmp_path.iterdir()
    assert "Traceback" in log.read_text()


# -- damaged checkpoints: truncated, special files, flipped bits -----------------------------------


def flip_a_weight_bit(path: Path) -> None:
    """Flip one bit inside the bytes of conv1.weight, wherever torch's zip stored them."""
    ckpt = torch.load(path, weights_only=True)
    data = ckpt["model"]["conv1.weight"].contiguous().view(-1).view(torch.uint8).numpy().tobytes()
    raw = bytearray(path.read_bytes())
    at = raw.find(data[:64])
    assert at > 0, "the weight's bytes are stored as they are"
    raw[at + 10] ^= 0x04
    path.write_bytes(bytes(raw))


def test_a_flipped_bit_is_e_ckpt_and_fallback_resumes(finished, tmp_path):
    run = copy_run(finished, tmp_path)
    newest = checkpoint.listing(run)[0]
    flip_a_weight_bit(newest)
    res = run_cli("--resume", run, "--set", "train.steps=8")
    assert res.code == 2, res.err
    one_error(res.err, "E-CKPT", newest.name, "checksum")
    res = run_cli("--resume", run, "--set", "train.steps=8", "--fallback")
    assert res.code == 0, res.err
    assert "step-00000004.pt" in res.out  # resumed from the one before


def test_flipped_bit_control_loads_silently_without_the_checksum(finished, tmp_path, monkeypatch):
    """Negative control: the flip lands in tensor data, which torch.load alone does not notice."""
    run = copy_run(finished, tmp_path)
    newest = checkpoint.listing(run)[0]
    before = torch.load(newest, weights_only=True)["model"]["conv1.weight"].clone()
    flip_a_weight_bit(newest)
    after = torch.load(newest, weights_only=True)["model"]["conv1.weight"]
    assert not torch.equal(before, after)


def test_a_fifo_checkpoint_does_not_hang(finished, tmp_path):
    run = copy_run(finished, tmp_path)
    newest = checkpoint.listing(run)[0]
    newest.unlink()
    os.mkfifo(newest)
    proc = child("run", "--resume", run, "--set", "train.steps=8", timeout=120)
    assert proc.returncode == 2, proc.stderr
    one_error(proc.stderr, "E-CKPT", "not a regular file")
    proc = child("run", "--resume", run, "--set", "train.steps=8", "--fallback", timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_a_symlinked_checkpoint_is_refused(finished, tmp_path):
    run = copy_run(finished, tmp_path)
    newest = checkpoint.listing(run)[0]
    outside = tmp_path / "outside.pt"
    newest.rename(outside)
    newest.symlink_to(outside)
    res = run_cli("--resume", run, "--set", "train.steps=8")
    assert res.code == 2
    one_error(res.err, "E-CKPT", "symbolic link")


def test_an_oversized_checkpoint_is_refused(finished, tmp_path, monkeypatch):
    run = copy_run(finished, tmp_path)
    monkeypatch.setattr(checkpoint, "MAX_BYTES", 1000)
    monkeypatch.setattr(checkpoint.open_regular, "__defaults__", (1000,))
    res = run_cli("--resume", run, "--set", "train.steps=8")
    assert res.code == 2
    one_error(res.err, "E-CKPT", "more than the 1,000")


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[1, 2]", b'{"status": "running"}', b"\xff\xfe", b'{"graphspec": "0", '
     b'"spec_hash": "x", "status": "odd"}'],
    ids=["syntax", "list", "fields-missing", "not-utf8", "unknown-status"],
)  # fmt: skip
def test_a_corrupt_meta_json_is_an_error(finished, tmp_path, content):
    run = copy_run(finished, tmp_path)
    (run / "meta.json").write_bytes(content)
    res = run_cli("--resume", run, "--set", "train.steps=8")
    assert res.code == 2, res.err
    one_error(res.err, "E-RESUME", "meta.json")


def test_a_fifo_meta_json_does_not_hang(finished, tmp_path):
    run = copy_run(finished, tmp_path)
    (run / "meta.json").unlink()
    os.mkfifo(run / "meta.json")
    proc = child("run", "--resume", run, timeout=120)
    assert proc.returncode == 2, proc.stderr
    one_error(proc.stderr, "E-RESUME", "meta.json")


BIG = """\
name: big
model:
  inputs:
    x: [N, 1500]
  layers:
    fc: {op: Linear, out_features: 1500}
data: {source: random, inputs: {x: [8, 1500]}, target: [8, 1500], batch_size: 8}
loss: MSELoss
optimizer: {op: SGD, lr: 0.001, momentum: 0.9}
train: {steps: 2000, checkpoint_every: 3, keep_checkpoints: 2, seed: 1}
"""
"""Checkpoints of 18 MB (weights and momentum), written every 3 steps: a kill lands inside one."""


def test_sigkill_while_a_checkpoint_is_written(tmp_path):
    spec = tmp_path / "big.yaml"
    spec.write_text(BIG.replace("  seed: 1", "").replace(", seed: 1", ""))
    argv = [sys.executable, "-m", "graphspec", "run", spec, "--runs-dir", tmp_path / "runs", "-q"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, text=True)
    folder = None
    end = time.monotonic() + 120
    try:
        while time.monotonic() < end and proc.poll() is None:
            found = list((tmp_path / "runs").glob("big/*/checkpoints"))
            folder = found[0] if found else None
            if folder and checkpoint.listing(folder.parent) and any(folder.glob(".*.tmp")):
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, "no checkpoint caught mid-write"
    run = folder.parent
    assert any(folder.glob(".*.tmp")), "killed while a checkpoint was half-written"
    spec_hash = json.loads((run / "meta.json").read_text())["spec_hash"]
    checkpoint.load(checkpoint.listing(run)[0], spec_hash)  # the last committed one verifies
    res = run_cli("--resume", run, "--set", "train.steps=30")
    assert res.code == 0, res.err
    assert "removed 1 unfinished checkpoint file" in res.err + res.out
    assert strays(run) == []


def test_an_allocation_failure_is_e_oom_not_a_bug(monkeypatch, capsys):
    """Past a raised budget, torch's allocator may fail: exit 2 and one line, not a crash log."""
    from graphspec import cli

    class Broken:
        @staticmethod
        def add_arguments(p):
            p.add_argument("spec")

        @staticmethod
        def run(args):
            raise RuntimeError("[enforce fail]\nDefaultCPUAllocator: can't allocate memory: 1e12")

    monkeypatch.setattr(cli, "_command", lambda name: Broken)
    assert cli.main(["validate", "x"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error[E-OOM]: out of memory") and "--budget-mem" in line
    # control: any other RuntimeError stays a bug (exit 1)
    Broken.run = staticmethod(lambda args: (_ for _ in ()).throw(RuntimeError("other")))
    assert cli.main(["validate", "x"]) == 1
