"""`graphspec emit SPEC --train`: a standalone script that prints what `graphspec run` prints.

The script is emitted from the run folder's spec.yaml (the spec as run, seed included), run with
plain `python` in a process where importing graphspec fails, and its output compared line by
line with the run's: the loss curve, "Finished Training" and the evaluation.
"""

from __future__ import annotations

import contextlib
import io

import pytest
from helpers.runhelp import ROOT, SPECS, python_child, run_cli

from graphspec.cli import main

RUN_ONLY = ("model: ", "data: ", "data path: ", "batches: ", "train: ", "wrote: ")
NO_GRAPHSPEC = (
    "import runpy, sys; sys.modules['graphspec'] = None; "
    "runpy.run_path(sys.argv[1], run_name='__main__')"
)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _emit(spec, out) -> str:
    with contextlib.redirect_stderr(io.StringIO()):
        assert main(["emit", str(spec), "--train", "-o", str(out)]) == 0
    return out.read_text()


@pytest.mark.parametrize(
    ("spec", "sets"),
    [
        ("regression.yaml", ["--set", "train.log_every=1"]),
        ("lenet.yaml", ["--set", "train.steps=3"]),
        # shuffled: a run that ignored its seed when shuffling would print other losses
        ("digits.yaml", ["--set", "train.epochs=2", "--set", "train.log_every=5"]),
        # log_every left out: about ten lines an epoch (45 batches: every 4th), in both
        ("digits.yaml", ["--set", "train.epochs=2", "--set", "train.log_every=null"]),
    ],
    ids=["regression", "lenet", "digits", "digits-default-log"],
)
def test_script_prints_the_same_run(tmp_path, spec, sets):
    run = run_cli(SPECS / spec, "--set", "seed=11", *sets, runs=tmp_path / "runs")
    assert run.code == 0, run.err
    script = tmp_path / "train.py"
    text = _emit(run.run_dir / "spec.yaml", script)
    assert "graphspec" not in "".join(
        line for line in text.splitlines() if line.startswith(("import", "from"))
    )
    proc = python_child("-c", NO_GRAPHSPEC, str(script), cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    expected = [line for line in run.out.splitlines()[:-1] if not line.startswith(RUN_ONLY)]
    assert proc.stdout.splitlines() == expected
    steps = {"regression.yaml": 200, "lenet.yaml": 3}
    if spec in steps:
        assert sum(line.startswith("step ") for line in expected) == steps[spec]
    else:  # epochs: the tutorial's "[epoch, batch] loss" lines
        every = 5 if "train.log_every=5" in sets else 45 // 10
        assert sum(line.startswith("[") for line in expected) == 2 * (45 // every)
    assert (tmp_path / f"{spec.split('.')[0]}_net.pth").exists()  # saved, then reloaded


def test_emit_train_is_torch_free_and_refuses_untrainable_specs(tmp_path):
    spec = tmp_path / "model_only.yaml"
    text = (SPECS / "lenet.yaml").read_text().split("\ndata:")[0] + "\n"
    spec.write_text(text)
    script = (
        "import contextlib, io, sys\nfrom graphspec.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    ok = main(['emit', 'specs/cifar.yaml', '--train'])\n"
        f"bad = main(['emit', '{spec}', '--train'])\n"
        "print(ok, bad, 'torch' in sys.modules)\n"
    )
    proc = python_child("-c", script, cwd=ROOT, timeout=60)
    assert proc.stdout.split() == ["0", "2", "False"], proc.stderr
    assert "error[E-DATA]: emit --train needs a spec with data:" in proc.stderr


def test_cifar_script_reads_like_the_tutorial(tmp_path):
    text = _emit(SPECS / "cifar.yaml", tmp_path / "cifar_train.py")
    compile(text, "cifar_train.py", "exec")
    for piece in (
        'torchvision.datasets.CIFAR10(root="data", train=True, download=True',
        "transforms.Normalize(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))",
        "criterion = nn.CrossEntropyLoss()",
        "optimizer = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)",
        "for epoch in range(EPOCHS):  # loop over the dataset multiple times",
        'print(f"[{epoch + 1}, {i + 1:5d}] loss: {running_loss / LOG_EVERY:.3f}")',
        "net.load_state_dict(torch.load(PATH, weights_only=True))",
        'print("GroundTruth: ", ',
        "BATCH_SIZE = 4",
        # the uint8 images in memory, transformed a batch at a time (no DataLoader, no workers)
        "return images_of(trainset), images_of(testset)",
        "yield (transform_batch(take(inputs[0], pick)),), take(target, pick)",
    ):
        assert piece in text, piece


def test_emit_train_takes_set(tmp_path):
    """--set changes the emitted script as it changes a run, and its regenerate line says so."""
    out = tmp_path / "train.py"
    with contextlib.redirect_stderr(io.StringIO()):
        code = main(["emit", str(SPECS / "regression.yaml"), "--train", "-o", str(out),
                     "--set", "optimizer.lr=0.05", "--set", "train.steps=7"])  # fmt: skip
    assert code == 0
    text = out.read_text()
    assert "lr=0.05" in text and "STEPS = 7" in text
    assert "--train --set optimizer.lr=0.05 --set train.steps=7`" in text
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert (
            main(["emit", str(SPECS / "regression.yaml"), "--train", "--set", "optimizer.lr=-1"])
            == 2
        )
    assert "E-RANGE" in err.getvalue() or "lr" in err.getvalue()
