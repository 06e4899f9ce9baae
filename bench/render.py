"""How long `graphspec render` takes on big graphs: a 1,000-node chain and a 12-block stack.

Timed, each a median after one warm-up:
- `compile_file` (the typed graph every command starts from);
- building the DOT text (`render.dot_source`: diagram, clusters, labels), in-process;
- graphviz's `dot -Tsvg` on that text;
- the whole `graphspec render SPEC -o FILE.svg` process, start-up included.

Specs: a generated chain of 1,000 layers (Linear, relu alternating, width 8); the 12-block BERT
attention stack (bench/specs/bert_stack12.yaml, `repeat: 12`), drawn folded (one copy marked ×12)
and with `--expand` (all twelve); and every shipped spec under `specs/` that has block calls.
Target: each finishes in seconds.

    .venv/bin/python bench/render.py [--repeats 5] [--no-record]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, load_average, machine_lines, median, record, table

sys.path.insert(0, str(ROOT))
from graphspec.compiler.pipeline import compile_file  # noqa: E402
from graphspec.render import diagram as render  # noqa: E402

STACK = ROOT / "bench" / "specs" / "bert_stack12.yaml"
"""Twelve BERT attention blocks (`repeat: 12`) over the blocks of specs/bert_attention.yaml."""


def chain_text(layers: int) -> str:
    lines = [f"name: chain{layers}", "model:", "  inputs:", "    x: [N, 8]", "  layers:"]
    for i in range(layers):
        lines.append(
            f"    l{i}: {{op: Linear, out_features: 8}}" if i % 2 == 0 else f"    r{i}: relu"
        )
    return "\n".join(lines) + "\n"


def timed(fn, repeats: int) -> tuple[float, object]:
    result = fn()  # warm-up: pydantic builds its schemas once per process
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return median(times), result


def measure(label: str, spec: Path, extra: list[str], repeats: int, out: Path) -> list[str]:
    compile_s, compiled = timed(lambda: compile_file(str(spec)), repeats)
    expand = "--expand" in extra
    build = lambda: render.dot_source(compiled.graph, title=compiled.spec.name, expand=expand)  # noqa: E731
    dot_s, text = timed(build, repeats)
    dot_exe = shutil.which("dot")
    graphviz_s, _ = timed(
        lambda: subprocess.run(
            [dot_exe, "-Tsvg"], input=text.encode(), capture_output=True, check=True
        ),
        max(1, repeats // 2),
    )
    argv = [sys.executable, "-m", "graphspec", "render", str(spec), "-o", str(out), *extra]
    process_s, _ = timed(
        lambda: subprocess.run(argv, cwd=ROOT, check=True, capture_output=True),
        max(1, repeats // 2),
    )
    nodes = len(render.diagram(compiled.graph, expand=expand).nodes)
    return [
        label,
        f"{len(compiled.graph.nodes):,}",
        f"{nodes:,}",
        f"{compile_s:.3f}",
        f"{dot_s:.3f}",
        f"{graphviz_s:.3f}",
        f"{process_s:.2f}",
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-record", action="store_true", help="print only; leave RESULTS.md")
    args = ap.parse_args()
    if shutil.which("dot") is None:
        print("bench/render.py needs graphviz's `dot` (apt-get install graphviz)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="graphspec-render-"))
    chain, stack = tmp / "chain.yaml", STACK
    chain.write_text(chain_text(1000))
    cases = [
        ("chain, 1,000 layers", chain, []),
        ("12-block stack, folded", stack, []),
        ("12-block stack, --expand", stack, ["--expand"]),
    ]
    cases += [
        (f"specs/{p.name}", p, [])
        for p in sorted((ROOT / "specs").glob("*.yaml"))
        if "block:" in p.read_text()
    ]
    load_before = load_average()
    rows = []
    for label, spec, extra in cases:
        rows.append(measure(label, spec, extra, args.repeats, tmp / "out.svg"))
        print(" | ".join(rows[-1]), flush=True)
    header = [
        "spec",
        "typed nodes (top level)",
        "drawn nodes",
        "compile_file s",
        "DOT text s",
        "dot -Tsvg s",
        "`graphspec render -o x.svg` process s",
    ]
    notes = [
        f"medians of {args.repeats} (graphviz and process: {max(1, args.repeats // 2)}) "
        "after one warm-up",
        f"graphviz: {_dot_version()}",
    ]
    body = [*machine_lines(load_before, notes), "", *table(header, rows)]
    print("\n".join(body))
    if not args.no_record:
        record("render (bench/render.py)", body)
    return 0


def _dot_version() -> str:
    done = subprocess.run(["dot", "-V"], capture_output=True, text=True)
    return (done.stderr or done.stdout).strip()


if __name__ == "__main__":
    sys.exit(main())
