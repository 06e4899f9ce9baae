"""CUDA checks: the emitted modules and `graphspec run` on a GPU, against the hand-written seeds.

The development machines have no GPU and CI never has one, so this is not a test: it is run by
hand on a machine with CUDA (`python bench/cuda_check.py`, graphspec importable), prints one line
per check and exits 1 if any fails. Results go to RESULTS.md by hand, with the machine.

- The emitted LeNet, CIFAR net and BERT block against the hand-written seeds, same weights, on
  the GPU: outputs and gradients equal (the same kernels in the same order).
- The BERT block against torch.nn.MultiheadAttention on the GPU (float32, TF32 off): <= 1e-5.
- `graphspec run` with `device: cuda`: digits (real data, accuracy), the CIFAR net on FakeData
  with amp, the sin fit with LBFGS (the optimum) and with the seed's GradientDescent (the seed
  loop's curve, run on the same GPU).
- The BERT training step, emitted against hand-written, median of interleaved CUDA-event timings.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from helpers import seed_programs as sp  # noqa: E402

from graphspec.compiler.pipeline import compile_file  # noqa: E402

DEV = torch.device(sys.argv[sys.argv.index("--device") + 1] if "--device" in sys.argv else "cuda")
"""`--device cpu` tries the script itself on a machine without a GPU (no timings then)."""
RESULTS: dict[str, dict] = {}


def check(name: str, ok: bool, **facts: object) -> None:
    RESULTS[name] = {"ok": bool(ok), **facts}
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {json.dumps(facts)}", flush=True)


def equal_models() -> None:
    cases = {"lenet": (sp.Net, (2, 1, 32, 32)), "cifar": (sp.CifarNet, (4, 3, 32, 32))}
    for name, (ref_cls, shape) in cases.items():
        torch.manual_seed(0)
        ref = ref_cls().to(DEV)
        model = compile_file(str(ROOT / "specs" / f"{name}.yaml")).build().to(DEV)
        model.load_state_dict(ref.state_dict(), strict=True)
        x = torch.randn(shape, device=DEV)
        outs, grads = [], []
        for m in (ref, model):
            out = m(x)
            out.square().sum().backward()
            outs.append(out)
            grads.append([p.grad for p in m.parameters()])
        same = torch.equal(*outs) and all(map(torch.equal, *grads))
        diff = (outs[0] - outs[1]).abs().max().item()
        check(f"{name}: emitted == hand-written", same, max_abs_diff=diff)


def bert_models() -> tuple[nn.Module, nn.Module, nn.Module]:
    torch.manual_seed(0)
    model = compile_file(str(ROOT / "specs" / "bert_attention.yaml")).build().to(DEV).eval()
    embedding, attention = sp.BertEmbedding().to(DEV), sp.MultiHeadAttention().to(DEV)
    embedding.load_state_dict(model.embed.state_dict(), strict=True)
    attention.load_state_dict(model.attention.state_dict(), strict=True)
    return model, embedding.eval(), attention.eval()


def bert_ids() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 30522, (8, 30), generator=g)
    ids[:, 22:] = 0
    segments = torch.randint(0, 2, (8, 30), generator=g)
    return ids.to(DEV), segments.to(DEV)


def bert() -> None:
    model, embedding, attention = bert_models()
    ids, segments = bert_ids()
    with torch.no_grad():
        out, attn = model(ids, segments)
        ref_out, ref_attn = sp.bert_attention(embedding, attention, ids, segments)
    mha_out, weights = sp.torch_attention(model, ids, segments)
    check(
        "bert: emitted == hand-written",
        torch.equal(out, ref_out) and torch.equal(attn, ref_attn),
        max_abs_diff=(out - ref_out).abs().max().item(),
    )
    d_out = (out - mha_out).abs().max().item()
    d_attn = (attn - weights).abs().max().item()
    check(
        "bert: vs nn.MultiheadAttention <= 1e-5", max(d_out, d_attn) <= 1e-5, out=d_out, attn=d_attn
    )
    pad = ids.eq(0)[:, None, None, :].expand_as(attn)
    check("bert: padded keys get exactly zero attention", bool(attn[pad].eq(0).all()))


def bert_step_ratio(rounds: int = 21, steps: int = 10) -> None:
    model, embedding, attention = bert_models()
    model.train(), embedding.train(), attention.train()
    ids, segments = bert_ids()

    def emitted() -> None:
        out, _ = model(ids, segments)
        out.square().mean().backward()

    def hand() -> None:
        out, _ = sp.bert_attention(embedding, attention, ids, segments)
        out.square().mean().backward()

    def timed(fn) -> float:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(steps):
            fn()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / steps

    for fn in (emitted, hand, emitted, hand):  # warm-up
        timed(fn)
    ratios, ms = [], []
    for _ in range(rounds):
        a, b = timed(emitted), timed(hand)
        ratios.append(a / b)
        ms.append((a, b))
    ratio = statistics.median(ratios)
    emitted_ms = statistics.median(a for a, _ in ms)
    hand_ms = statistics.median(b for _, b in ms)
    check(
        "bert step: emitted / hand-written <= 1.02",
        ratio <= 1.02,
        ratio=round(ratio, 4),
        emitted_ms=round(emitted_ms, 3),
        hand_ms=round(hand_ms, 3),
    )


def run(spec: str, *extra: str, runs: Path) -> tuple[int, str, dict, list[float]]:
    """`graphspec run` on cuda: exit code, stdout, meta.json's result, the logged losses."""
    args = [sys.executable, "-m", "graphspec", "run", str(ROOT / "specs" / spec)]
    args += ["--runs-dir", str(runs), "--set", f"device={DEV.type}", *extra]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=runs, timeout=600)
    if proc.returncode:
        print(proc.stdout[-2000:], proc.stderr[-3000:], sep="\n")
        return proc.returncode, proc.stdout, {}, []
    folder = Path(proc.stdout.strip().splitlines()[-1])
    folder = folder if folder.is_absolute() else runs / folder
    result = json.loads((folder / "meta.json").read_text())["result"]
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    curve = [r["loss"] for r in map(json.loads, lines) if "split" not in r]
    return 0, proc.stdout, result, curve


def runs(tmp: Path) -> None:
    code, out, result, _ = run("digits.yaml", "--set", "seed=0", runs=tmp)
    acc = result["correct"] / result["samples"] if result else 0.0
    check(
        "run digits: accuracy >= 0.9",
        code == 0 and acc >= 0.9 and f"device: {DEV.type}" in out,
        code=code,
        accuracy=round(acc, 4),
    )
    code, out, result, _ = run(
        "cifar.yaml", "--fake-data", "256", "--set", "train.amp=true", runs=tmp
    )
    tested = result.get("samples", 0)
    check("run cifar --fake-data with amp", code == 0 and tested > 0, tested=tested)

    code, _, result, _ = run("fit_sin.yaml", "--set", "seed=0", runs=tmp)
    x, y = (t.double() for t in sp.sin_data())
    features = torch.stack([x**k for k in (1, 3, 5, 7)], dim=1)
    coeffs = torch.linalg.lstsq(features, y[:, None]).solution
    best = ((features @ coeffs)[:, 0] - y).square().mean().item()
    loss = result.get("loss", float("inf"))
    check(
        "run fit_sin (LBFGS): <= 1.05x optimum",
        code == 0 and loss <= 1.05 * best,
        loss=loss,
        optimum=best,
    )

    seed_gd = [
        "--set",
        "seed=0",
        "--set",
        "optimizer={op: GradientDescent, lr: 1.0e-6}",
        "--set",
        "train.steps=4000",
        "--set",
        "train.log_every=1",
    ]
    code, _, _, ours = run("fit_sin.yaml", *seed_gd, runs=tmp)
    torch.manual_seed(0)  # the run draws the data (no randomness here), then a, b, c, d
    x, y = sp.sin_data()
    start = [c.detach().to(DEV).requires_grad_() for c in sp.sin_init()]
    ref = sp.sin_fit_loop(start, x.to(DEV), y.to(DEV), lr=1e-6, steps=4000)
    rel = (
        max(abs(a - b) / abs(b) for a, b in zip(ours, ref, strict=True))
        if len(ours) == 4000
        else None
    )
    check(
        "run fit_sin (the seed's GradientDescent) vs the seed loop, same device",
        rel is not None and rel <= 1e-6,
        max_rel=rel,
        bit_equal=ours == ref,
        final=ours[-1] if ours else None,
    )


def main() -> int:
    name = torch.cuda.get_device_name() if DEV.type == "cuda" else "cpu"
    print(f"device: {name}, torch {torch.__version__}", flush=True)
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 comparisons mean float32
    torch.backends.cudnn.allow_tf32 = False
    equal_models()
    bert()
    if DEV.type == "cuda":
        bert_step_ratio()
    with tempfile.TemporaryDirectory() as tmp:
        runs(Path(tmp))
    out = os.environ.get("OUT")
    if out:
        Path(out, "cuda_check.json").write_text(json.dumps(RESULTS, indent=1))
    return 0 if all(r["ok"] for r in RESULTS.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
