"""BERT attention: static shape inference against torch's meta device, and the training step
of the emitted block against the hand-written one (issue 4, done-when 3).

1. Shape inference of bench/specs/bert_stack12.yaml (embedding + 12 stacked attention blocks).
   Timed, "graph + infer": typing the blocks (call order, one graph build and one inference
   per block) plus the model's graph build and inference. That is `compile_document` without
   the YAML load, constants, pydantic validation, cross-section checks and codegen, and it
   yields every node's shape. For reference, the whole `compile_document` (no YAML load) and
   `compile_file` (load included) are timed too. Against: the built module's forward on the
   `meta` device with ids (8, 30), once with autograd on (parameters require grad, as a model
   does) and once under no_grad. Medians over interleaved rounds, after a warm-up (the first
   compile pays pydantic's deferred schema build). Target: meta forward / graph + infer >= 20,
   taken against the faster meta variant.
2. Training step of specs/bert_attention.yaml with ids (8, 30): zero_grad + forward + MSE of
   the output against a fixed target + backward + SGD step. The emitted module and
   tests/helpers/seed_programs.py's BertEmbedding + MultiHeadAttention share weights
   (load_state_dict) and are checked equal before timing. Steps alternate one by one
   (A B B A ...), each timed alone. Target: median per-round ratio emitted / seed <= 1.02.

    .venv/bin/python bench/bert.py [--rounds 31] [--infer-rounds 41] [--threads 1] [--no-record]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable

import torch
from _common import ROOT, load_average, machine_lines, median, record, spread, table
from torch import nn

sys.path.insert(0, str(ROOT))
from graphspec.compiler import pipeline as gcompile  # noqa: E402
from graphspec.compiler.blocks import Blocks  # noqa: E402
from graphspec.compiler.graph import build_graph  # noqa: E402
from graphspec.compiler.infer import infer  # noqa: E402
from graphspec.compiler.positions import field_positions, node_positions  # noqa: E402
from graphspec.language.load import load_file  # noqa: E402
from tests.helpers import seed_programs as seed  # noqa: E402

STACK = str(ROOT / "bench" / "specs" / "bert_stack12.yaml")
BLOCK = str(ROOT / "specs" / "bert_attention.yaml")
INFER_TARGET, STEP_TARGET = 20.0, 1.02


def _ids() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 30522, (8, 30), generator=g)
    ids[:, 22:] = 0  # trailing padding, as in tests/e2e/test_bert.py
    return ids, torch.randint(0, 2, (8, 30), generator=g)


# -- 1. shape inference -----------------------------------------------------------------------


def graph_and_infer(doc, spec) -> Callable[[], object]:
    """The timed part of compile_document: from a validated Spec to every node's shape."""
    data, model = doc.data, spec.model

    constants = gcompile._constants(data, doc)

    def run():
        typer = Blocks(data, doc, constants, gcompile._all_names(data))
        where = node_positions(("model",), model, doc)
        graph = build_graph(model, where, typer.input_names())
        fields = field_positions(("model",), data, doc)
        return infer(graph, model.class_, fields, typer)

    return run


def meta_forward(grad: bool) -> Callable[[], object]:
    with torch.device("meta"):
        model = gcompile.compile_file(STACK).build()
    ids = torch.zeros(8, 30, dtype=torch.long, device="meta")

    def run():
        with torch.set_grad_enabled(grad):
            return model(ids, ids)

    return run


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_infer(rounds: int) -> tuple[list[list[object]], float]:
    doc = load_file(STACK)
    compiled = gcompile.compile_document(doc)  # warm-up: pydantic builds its schemas once
    typed = graph_and_infer(doc, compiled.spec)()
    assert typed.ref_type("encoder.attn").shape == compiled.graph.ref_type("encoder.attn").shape
    fns = {
        "graph + infer (timed target)": graph_and_infer(doc, compiled.spec),
        "compile_document (validate + graph + infer + checks)": lambda: gcompile.compile_document(
            doc
        ),
        "compile_file (+ YAML load)": lambda: gcompile.compile_file(STACK),
        "meta forward, autograd on": meta_forward(True),
        "meta forward, no_grad": meta_forward(False),
    }
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():  # warm-up
        fn()
    for i in range(rounds):
        order = list(fns.items())
        for name, fn in order if i % 2 else reversed(order):
            times[name].append(timed(fn))
    base = median(times["graph + infer (timed target)"])
    rows = [
        [name, f"{median(t) * 1e3:.2f}", spread([x * 1e3 for x in t]), f"{median(t) / base:.1f}"]
        for name, t in times.items()
    ]
    fastest_meta = min(
        median(times["meta forward, autograd on"]), median(times["meta forward, no_grad"])
    )
    return rows, fastest_meta / base


# -- 2. training step ------------------------------------------------------------------------


class SeedBert(nn.Module):
    """The hand-written block, named so that its state_dict keys match the emitted module's."""

    def __init__(self):
        super().__init__()
        self.embed, self.attention = seed.BertEmbedding(), seed.MultiHeadAttention()

    def forward(self, ids, segments):
        return seed.bert_attention(self.embed, self.attention, ids, segments)


def stepper(model: nn.Module, ids, segments, target) -> Callable[[], float]:
    opt, loss_fn = torch.optim.SGD(model.parameters(), lr=0.01), nn.MSELoss()

    def step() -> float:
        start = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(model(ids, segments)[0], target)
        loss.backward()
        opt.step()
        return time.perf_counter() - start

    return step


def bench_step(rounds: int, steps: int) -> tuple[list[object], float]:
    torch.manual_seed(0)
    emitted, hand = gcompile.compile_file(BLOCK).build(), SeedBert()
    hand.load_state_dict(emitted.state_dict(), strict=True)
    ids, segments = _ids()
    with torch.no_grad():
        a, b = emitted(ids, segments), hand(ids, segments)
    if not (torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])):
        raise SystemExit("emitted and hand-written BERT blocks differ")
    target = torch.randn(8, 30, 768, generator=torch.Generator().manual_seed(2))
    step_a, step_b = stepper(emitted, ids, segments, target), stepper(hand, ids, segments, target)
    for _ in range(2):
        step_a(), step_b()
    ta, tb = [], []
    gc.collect()
    gc.disable()  # a collection would land on whichever side allocated last
    try:
        for i in range(rounds):
            sa = sb = 0.0
            for k in range(steps):  # A B B A ...: neither side always runs first
                if (i + k) % 2:
                    sb += step_b()
                    sa += step_a()
                else:
                    sa += step_a()
                    sb += step_b()
            ta.append(sa / steps)
            tb.append(sb / steps)
    finally:
        gc.enable()
    ratios = [x / y for x, y in zip(ta, tb, strict=True)]
    row = [
        f"{median(ta) * 1e3:.2f}",
        f"{median(tb) * 1e3:.2f}",
        f"{median(ratios):.3f}",
        spread(ratios),
    ]
    return row, median(ratios)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=31, help="training-step rounds")
    ap.add_argument("--steps", type=int, default=2, help="step pairs per round")
    ap.add_argument("--infer-rounds", type=int, default=41)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (see step_time.py)")
    ap.add_argument("--no-record", action="store_true", help="print only; leave RESULTS.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load_before = load_average()
    infer_rows, speedup = bench_infer(args.infer_rounds)
    print("\n".join(table(["what", "median ms", "min-max ms", "x graph + infer"], infer_rows)))
    step_row, ratio = bench_step(args.rounds, args.steps)
    print(" | ".join(map(str, step_row)), flush=True)
    infer_ok = "meets" if speedup >= INFER_TARGET else "MISSES"
    step_ok = "meets" if ratio <= STEP_TARGET else "MISSES"
    extra = [
        f"torch threads {torch.get_num_threads()}; shape inference: {args.infer_rounds} "
        f"interleaved rounds; training step: {args.rounds} rounds of {args.steps} step pairs, "
        "alternating one by one, after 2 warm-up pairs",
    ]
    body = [
        *machine_lines(load_before, extra),
        "",
        "Shape inference, bench/specs/bert_stack12.yaml (12 stacked blocks), ids (8, 30) on meta:",
        "",
        *table(["what", "median ms", "min-max ms", "x graph + infer"], infer_rows),
        "",
        f"**meta forward (faster variant) / graph + infer = {speedup:.1f}x "
        f"(target >= {INFER_TARGET:.0f}x: {infer_ok})**",
        "",
        "Training step, specs/bert_attention.yaml, ids (8, 30), MSE + SGD:",
        "",
        *table(
            ["emitted ms/step", "hand-written ms/step", "ratio (median)", "ratio min-max"],
            [step_row],
        ),
        "",
        f"**median ratio emitted / hand-written = {ratio:.3f} "
        f"(target <= {STEP_TARGET}: {step_ok})**",
    ]
    verdicts = [line for line in body if line.startswith("**")]
    print("\n".join(verdicts), flush=True)  # run_all.py collects them
    if not args.no_record:
        record("BERT attention (bench/bert.py)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
