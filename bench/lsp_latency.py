"""`graphspec lsp` latency, through the protocol, as an editor sees it.

One server process (`python -m graphspec lsp`) and pygls's client over stdio. For every shipped
spec (specs/*.yaml, specs/zoo/*.yaml): open it, then `--edits` times send a change (the text
with one more comment line) and time until the diagnostics for that version arrive (the
debounce pause included), `--pause` apart (a typist's 100 ms between keystrokes), and hover on
each model layer name and time the answer. Targets:
diagnostics within 100 ms of a change and hover within 50 ms, at the 95th percentile.

Then a generated 10,000-layer spec (bench/scale.py's shape): the first check's time; hovers sent
while a check of a change runs (each must be answered from the last finished check, not wait
for the running one: target p95 within 50 ms); and a burst of edits 5 ms apart, of which only
the last version may be published (a stale check is cancelled or dropped).

    .venv/bin/python bench/lsp_latency.py [--edits 20] [--layers 10000] [--no-record]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, load_average, machine_lines, record, table
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

sys.path.insert(0, str(ROOT))
from scale import spec_text  # noqa: E402

from graphspec.language.load import load_text  # noqa: E402
from graphspec.lsp.analysis import analyze  # noqa: E402

DIAG_TARGET_MS = 100.0
HOVER_TARGET_MS = 50.0


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


class Bench:
    def __init__(self) -> None:
        self.client = LanguageClient("lsp-bench", "1")
        self.published: dict[tuple[str, int | None], float] = {}
        self.versions: dict[str, list[int | None]] = {}

        @self.client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_publish(params: lsp.PublishDiagnosticsParams) -> None:
            self.published[(params.uri, params.version)] = time.perf_counter()
            self.versions.setdefault(params.uri, []).append(params.version)

    async def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        await self.client.start_io(sys.executable, "-m", "graphspec", "lsp", env=env)
        caps = lsp.ClientCapabilities(
            text_document=lsp.TextDocumentClientCapabilities(
                publish_diagnostics=lsp.PublishDiagnosticsClientCapabilities(version_support=True)
            )
        )
        await self.client.initialize_async(lsp.InitializeParams(capabilities=caps))
        self.client.initialized(lsp.InitializedParams())

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()

    async def published_at(self, uri: str, version: int, timeout: float = 60.0) -> float:
        deadline = time.perf_counter() + timeout
        while (uri, version) not in self.published:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{uri} version {version}")
            await asyncio.sleep(0.0005)
        return self.published[(uri, version)]

    def open(self, uri: str, text: str) -> None:
        item = lsp.TextDocumentItem(uri=uri, language_id="yaml", version=1, text=text)
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=item))

    def change(self, uri: str, text: str, version: int) -> float:
        sent = time.perf_counter()
        self.client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        return sent

    async def hover(self, uri: str, line: int, col: int) -> tuple[float, lsp.Hover | None]:
        sent = time.perf_counter()
        result = await self.client.text_document_hover_async(
            lsp.HoverParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                position=lsp.Position(line=line, character=col),
            )
        )
        return (time.perf_counter() - sent) * 1000, result


def layer_positions(text: str, file: str, limit: int) -> list[tuple[int, int]]:
    doc = load_text(text, file)
    found = [
        (pos.line - 1, pos.col - 1)
        for path, pos in doc.key_positions.items()
        if path[:2] == ("model", "layers") and len(path) == 3 and pos.file == file
    ]
    return found[:limit]


def in_process(text: str, file: str, rounds: int = 5) -> float:
    """The same check without the protocol, in this process: the compiler's share (median ms)."""
    times = []
    for k in range(rounds):
        start = time.perf_counter()
        analyze(text + f"# {k}\n", file)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def shipped(
    bench: Bench, specs: list[Path], edits: int, pause: float
) -> tuple[list, list, list]:
    rows, diag_ms, hover_ms = [], [], []
    for path in specs:
        text, uri = path.read_text(), path.as_uri()
        bench.open(uri, text)
        await bench.published_at(uri, 1)
        mine = []
        for k in range(edits):
            version = k + 2
            sent = bench.change(uri, text + f"# edit {k}\n", version)
            mine.append((await bench.published_at(uri, version) - sent) * 1000)
            await asyncio.sleep(pause)
        hovers = []
        for line, col in layer_positions(text, str(path), 30):
            ms, result = await bench.hover(uri, line, col)
            assert result is not None, (path, line)
            hovers.append(ms)
        diag_ms += mine
        hover_ms += hovers
        name = path.relative_to(ROOT)
        rows.append(
            (
                f"`{name}`",
                f"{in_process(text, str(path)):.1f}",
                f"{statistics.median(mine):.1f}",
                f"{p95(mine):.1f}",
                f"{statistics.median(hovers):.1f}",
                f"{p95(hovers):.1f}",
                len(hovers),
            )
        )
        print(*rows[-1], flush=True)
    return rows, diag_ms, hover_ms


async def big(bench: Bench, layers: int, folder: Path) -> dict:
    path = folder / f"scale{layers}.yaml"
    text = spec_text(layers)
    path.write_text(text)
    uri = path.as_uri()
    start = time.perf_counter()
    bench.open(uri, text)
    first_check = await bench.published_at(uri, 1) - start
    positions = layer_positions(text, str(path), layers)
    picks = positions[:: max(1, len(positions) // 40)]
    await bench.hover(uri, *picks[0])  # builds the index for this check
    # hovers while a check of a change runs: answered from the finished check
    during = []
    sent = bench.change(uri, text + "# edit\n", 2)
    i = 0
    while (uri, 2) not in bench.published:
        ms, result = await bench.hover(uri, *picks[i % len(picks)])
        if (uri, 2) not in bench.published:
            during.append(ms)
        i += 1
        await asyncio.sleep(0.02)
    change_check = bench.published[(uri, 2)] - sent
    # a burst: versions 3..7 five ms apart; only 7 may be published
    for version in range(3, 8):
        sent = bench.change(uri, text + f"# burst {version}\n", version)
        await asyncio.sleep(0.005)
    burst = await bench.published_at(uri, 7) - sent
    await asyncio.sleep(0.2)
    stale = [v for v in bench.versions.get(uri, []) if v in (3, 4, 5, 6)]
    return {
        "layers": layers,
        "first_check_s": first_check,
        "change_check_s": change_check,
        "hovers_during": during,
        "burst_s": burst,
        "stale_published": stale,
    }


async def main_async(args: argparse.Namespace) -> list[str]:
    specs = sorted((ROOT / "specs").glob("*.yaml")) + sorted(
        (ROOT / "specs" / "zoo").glob("*.yaml")
    )
    bench = Bench()
    await bench.start()
    try:
        rows, diag_ms, hover_ms = await shipped(bench, specs[: args.specs], args.edits, args.pause)
        with tempfile.TemporaryDirectory() as tmp:
            scale = await big(bench, args.layers, Path(tmp))
    finally:
        await bench.stop()
    during = scale["hovers_during"]
    diag_p95, hover_p95 = p95(diag_ms), p95(hover_ms)
    during_p95 = p95(during) if during else float("nan")
    verdict = lambda ok: "meets" if ok else "misses"  # noqa: E731
    body = (
        table(
            (
                "spec",
                "check in-process, median ms",
                "diagnostics after a change, median ms",
                "p95 ms",
                "hover median ms",
                "p95 ms",
                "hovers",
            ),
            rows,
        )
        if rows
        else []
    )
    body += [
        "",
        f"All {len(specs)} shipped specs, {len(diag_ms)} changes and {len(hover_ms)} hovers:",
        "",
        f"**diagnostics after a change p95 = {diag_p95:.1f} ms (target <= {DIAG_TARGET_MS:.0f} ms: "
        f"{verdict(diag_p95 <= DIAG_TARGET_MS)})**",
        "",
        f"**hover p95 = {hover_p95:.1f} ms (target <= {HOVER_TARGET_MS:.0f} ms: "
        f"{verdict(hover_p95 <= HOVER_TARGET_MS)})**",
        "",
        f"Generated {scale['layers']:,}-layer spec (bench/scale.py's shape):",
        "",
        f"- first check (open to diagnostics): {scale['first_check_s']:.2f} s",
        f"- a change to its diagnostics: {scale['change_check_s']:.2f} s",
        f"- {len(during)} hovers sent while that check ran: median "
        f"{statistics.median(during) if during else float('nan'):.1f} ms, p95 {during_p95:.1f} ms, "
        f"max {max(during) if during else float('nan'):.1f} ms",
        f"- a burst of 5 edits 5 ms apart: the last published {scale['burst_s']:.2f} s after it; "
        f"stale versions published: {scale['stale_published'] or 'none'}",
        "",
        f"**10,000 layers: hover during a check p95 = {during_p95:.1f} ms (target <= "
        f"{HOVER_TARGET_MS:.0f} ms: {verdict(during_p95 <= HOVER_TARGET_MS)}); stale versions "
        f"published: {len(scale['stale_published'])} (target 0)**",
    ]
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20, help="changes per spec")
    parser.add_argument("--layers", type=int, default=10_000)
    parser.add_argument("--pause", type=float, default=0.1, help="seconds between edits")
    parser.add_argument("--specs", type=int, default=None, help="only the first N shipped specs")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    before = load_average()
    body = asyncio.run(main_async(args))
    extra = [
        f"{args.edits} changes per spec, {args.pause * 1000:.0f} ms apart; one server process, "
        "pygls client over stdio"
    ]
    body = machine_lines(before, extra) + [""] + body
    print("\n".join(body))
    if not args.no_record:
        record("LSP latency (bench/lsp_latency.py)", body)


if __name__ == "__main__":
    main()
