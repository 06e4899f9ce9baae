"""The protocol edge: pygls wiring, checks scheduled per buffer, positions in the client's units.

A change is checked at once when no check is running, else after a short pause (`DEBOUNCE_S`,
a leading-edge debounce: the edits typed while a check runs are coalesced); a newer change
cancels a check still waiting, and a check that finishes after a newer change is dropped
unpublished. Checks run
one at a time on a worker thread, so requests are answered from the last finished check while
one runs: no request waits for a stale check. Every handler is guarded: a bug in one request is
logged with its traceback and answered as an error, and the server goes on.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import os
import sys
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace.position_codec import PositionCodec, ServerTextPosition

from graphspec.core.errors import Problem
from graphspec.language import load
from graphspec.lsp import actions, complete, context, hover, navigate
from graphspec.lsp import text as tx
from graphspec.lsp.analysis import Analysis, analyze, looks_like_spec, planted
from graphspec.lsp.index import Index

log = logging.getLogger("graphspec.lsp")

DEBOUNCE_S = 0.01
"""How long a change made while a check runs waits for the next keystroke."""
GC_IDLE_S = 1.0
GC_MAX_PENDING = 1_000_000
"""The cyclic collector is off while serving: its automatic full passes (200-600 ms over every
object of the process on a loaded 2-core machine) stalled requests at random. What was
imported is frozen out of its reach at start-up, and it runs once the server has been idle for
GC_IDLE_S after a check, or at once when more than GC_MAX_PENDING objects wait (a 10,000-layer
spec leaves about 200,000 per check)."""
SOURCE = "graphspec"


@dataclass
class Buffer:
    uri: str
    file: str
    version: int | None = None
    pending: asyncio.Task | None = None
    latest: Analysis | None = None
    """The last finished check (perhaps of older text)."""
    good_data: Any = None
    """The data of the last check whose text loaded: what completion reads while the YAML is
    half typed."""
    published: set[str] = field(default_factory=set)
    """Other files' URIs this buffer's check published diagnostics for."""
    live: tuple[int | None, list[str]] | None = None
    """(version, lines) of the present text, split once per version."""


class SpecServer(LanguageServer):
    def __init__(self) -> None:
        from graphspec import __version__

        super().__init__("graphspec", __version__)
        self.buffers: dict[str, Buffer] = {}
        self.checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graphspec-check")
        self.warmer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graphspec-warm")
        self.sweep: asyncio.Task | None = None
        self.running = 0
        """Checks on the worker thread now: a change waits DEBOUNCE_S only while one runs."""

    @property
    def codec(self) -> PositionCodec:
        return self.workspace.position_codec

    # -- checks ------------------------------------------------------------------------------
    def schedule(self, uri: str, delay: float) -> None:
        doc = self.workspace.get_text_document(uri)
        buf = self.buffers.setdefault(uri, Buffer(uri, _file_of(uri)))
        buf.version = doc.version
        if buf.pending is not None and not buf.pending.done():
            buf.pending.cancel()  # a newer edit: the waiting check is stale
        buf.pending = asyncio.ensure_future(self._check(buf, doc.source, doc.version, delay))

    async def _check(self, buf: Buffer, text: str, version: int | None, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        if not looks_like_spec(text):  # not a spec: clear what an earlier text may have had
            buf.latest = None
            self.text_document_publish_diagnostics(
                lsp.PublishDiagnosticsParams(uri=buf.uri, diagnostics=[], version=version)
            )
            return
        loop = asyncio.get_running_loop()
        self.running += 1
        try:
            result = await loop.run_in_executor(self.checker, analyze, text, buf.file, version)
        finally:
            self.running -= 1
        if version != buf.version:
            return  # a newer change arrived while it ran: its own check publishes
        buf.latest = result
        if result.doc is not None:
            buf.good_data = result.doc.data
        self.publish(buf, result)
        loop.run_in_executor(self.warmer, warm, result)
        if self.sweep is not None:
            self.sweep.cancel()
        pending = gc.get_count()[0] > GC_MAX_PENDING
        self.sweep = asyncio.ensure_future(self._collect(0 if pending else GC_IDLE_S))

    async def _collect(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await asyncio.get_running_loop().run_in_executor(self.warmer, gc.collect)

    def publish(self, buf: Buffer, a: Analysis) -> None:
        try:
            per_file = diagnostics(a, self.codec)
        except Exception:  # a bug in turning problems into diagnostics: say so, keep serving
            log.error("diagnostics for %s failed:\n%s", buf.uri, traceback.format_exc())
            per_file = {a.file: [_crash_diagnostic("diagnostics", sys.exc_info()[1])]}
        own = per_file.pop(a.file, [])
        others = {from_fs_path(f) or f: d for f, d in per_file.items()}
        # other files first: a client that sees this buffer's version has all of them
        for uri in buf.published - others.keys():
            self.text_document_publish_diagnostics(
                lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            )
        for uri, diags in others.items():
            self.text_document_publish_diagnostics(
                lsp.PublishDiagnosticsParams(uri=uri, diagnostics=diags)
            )
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=buf.uri, diagnostics=own, version=a.version)
        )
        buf.published = set(others)
        self._refresh_hints()

    def _refresh_hints(self) -> None:
        caps = self.client_capabilities.workspace
        hints = caps.inlay_hint if caps is not None else None
        if hints is not None and hints.refresh_support:
            self.workspace_inlay_hint_refresh(None)

    async def analysis(self, uri: str) -> Analysis | None:
        """The last finished check; the first one's result if none has finished yet."""
        buf = self.buffers.get(uri)
        if buf is None:
            return None
        if buf.latest is None:
            await _settled(buf)
        if buf.latest is not None:
            planted(buf.latest.text)
        return buf.latest

    async def analysis_at(self, uri: str, line: int) -> Analysis | None:
        """The last finished check, if the cursor's line reads there as it does now; else (the
        text moved under the cursor since) the check of the present text."""
        a = await self.analysis(uri)
        if a is None or a.version == self.buffers[uri].version:
            return a
        if _line(a.lines, line) == _line(self.live_lines(uri), line):
            return a
        return await self.current(uri)

    def live_lines(self, uri: str) -> list[str]:
        doc = self.workspace.get_text_document(uri)
        buf = self.buffers.get(uri)
        if buf is None:
            return tx.lines_of(doc.source)
        if buf.live is None or buf.live[0] != doc.version:
            buf.live = (doc.version, tx.lines_of(doc.source))
        return buf.live[1]

    async def current(self, uri: str) -> Analysis | None:
        """A check of the buffer's present text (code actions edit at its positions)."""
        buf = self.buffers.get(uri)
        if buf is None:
            return None
        await _settled(buf)
        a = buf.latest
        return a if a is not None and a.version == buf.version else None

    # -- positions -----------------------------------------------------------------------------
    def to_range(self, lines: list[str], span: tx.Span) -> lsp.Range:
        start = self.codec.position_to_client_units(
            lines, ServerTextPosition(span.line, span.start)
        )
        end = self.codec.position_to_client_units(lines, ServerTextPosition(span.line, span.end))
        return lsp.Range(start, end)

    def from_position(self, uri: str, position: lsp.Position) -> tuple[list[str], int, int]:
        """The buffer's present lines and the position in code points."""
        doc = self.workspace.get_text_document(uri)
        lines = tx.lines_of(doc.source)
        pos = self.codec.position_from_client_units(lines or [""], position)
        return lines, pos.line, pos.character


def warm(a: Analysis) -> None:
    """What the first hover after a check would otherwise build: the index, the typed nodes by
    position, the costs. Off the protocol thread, after the diagnostics are out."""
    try:
        with load.gc_paused():
            _index(a)
            hover.node_costs(a)
    except Exception:  # the request that needs it will meet the bug again and answer an error
        log.error("warming %s failed:\n%s", a.file, traceback.format_exc())


def _line(lines: list[str], n: int) -> str | None:
    return lines[n] if 0 <= n < len(lines) else None


def _file_of(uri: str) -> str:
    return to_fs_path(uri) or uri


async def _settled(buf: Buffer) -> None:
    """Wait until no check of `buf` waits or runs. A check cancelled by a newer edit is no error
    for the request waiting on it: it waits for the newer one."""
    while buf.pending is not None and not buf.pending.done():
        pending = buf.pending
        try:
            await asyncio.shield(pending)
        except asyncio.CancelledError:
            if not pending.cancelled():
                raise  # the request itself was cancelled


# -- problems to diagnostics --------------------------------------------------------------------


def diagnostics(a: Analysis, codec: PositionCodec) -> dict[str, list[lsp.Diagnostic]]:
    """Each file's diagnostics: the buffer's own, and those of files its model came `from:`,
    each of which is also summed up at the `from:` line."""
    out: dict[str, list[lsp.Diagnostic]] = {a.file: []}
    if a.crash is not None:
        out[a.file].append(_crash_diagnostic("check", a.crash))
    for p in a.problems:
        file = p.pos.file if p.pos is not None else a.file
        lines = a.lines_of(file)
        span = tx.token_at(lines, p.pos) if p.pos is not None else tx.Span(0, 0, 0)
        out.setdefault(file, []).append(_diagnostic(p, _range(codec, lines, span)))
    elsewhere = [p for p in a.problems if p.pos is not None and p.pos.file != a.file]
    if elsewhere:
        first = elsewhere[0]
        found = context.from_value(a.lines)
        span = found[0] if found is not None else tx.Span(0, 0, 0)
        more = f" (and {len(elsewhere) - 1} more)" if len(elsewhere) > 1 else ""
        message = f"{first.pos}: {first.message}{more}"
        out[a.file].append(_diagnostic(Problem(first.code, message), _range(codec, a.lines, span)))
    return out


def _range(codec: PositionCodec, lines: list[str], span: tx.Span) -> lsp.Range:
    lines = lines or [""]
    start = codec.position_to_client_units(lines, ServerTextPosition(span.line, span.start))
    end = codec.position_to_client_units(lines, ServerTextPosition(span.line, span.end))
    return lsp.Range(start, end)


def _diagnostic(p: Problem, where: lsp.Range) -> lsp.Diagnostic:
    message = p.message + (f" (node '{p.node}')" if p.node else "")
    if p.hint:
        message += f"\nhint: {p.hint}"
    return lsp.Diagnostic(
        range=where,
        message=message,
        severity=lsp.DiagnosticSeverity.Error,
        code=p.code,
        source=SOURCE,
        data={"hint": p.hint} if p.hint else None,
    )


def _crash_diagnostic(stage: str, err: Any) -> lsp.Diagnostic:
    return lsp.Diagnostic(
        range=lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)),
        message=f"graphspec crashed in its {stage} (a bug, not a mistake in the spec): {err}; "
        "the language server's log holds the traceback",
        severity=lsp.DiagnosticSeverity.Error,
        code="crash",
        source=SOURCE,
    )


# -- the server and its features --------------------------------------------------------------

server = SpecServer()


def guarded(handler: Callable) -> Callable:
    """Log a bug with its traceback, then let pygls answer the request with an error."""

    @functools.wraps(handler)
    async def run(ls: SpecServer, params: Any) -> Any:
        try:
            # the collector's passes over a big spec's objects cost more than the request
            with load.gc_paused():
                return await handler(ls, params)
        except Exception:
            log.error("%s failed:\n%s", handler.__name__, traceback.format_exc())
            raise

    return run


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: SpecServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, 0)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: SpecServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, DEBOUNCE_S if ls.running else 0)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: SpecServer, params: lsp.DidSaveTextDocumentParams) -> None:
    """A saved file is checked again, and so is every open spec that takes its model `from:` it
    (they read it from disk)."""
    saved = os.path.realpath(_file_of(params.text_document.uri))
    for uri, buf in list(ls.buffers.items()):
        doc = buf.latest.doc if buf.latest is not None else None
        uses = doc is not None and saved in {os.path.realpath(f) for f in doc.includes}
        if uri == params.text_document.uri or uses:
            ls.schedule(uri, 0)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: SpecServer, params: lsp.DidCloseTextDocumentParams) -> None:
    buf = ls.buffers.pop(params.text_document.uri, None)
    if buf is not None and buf.pending is not None:
        buf.pending.cancel()
    for uri in [params.text_document.uri, *(buf.published if buf else ())]:
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


def _index(a: Analysis) -> Index:
    if "index" not in a.cache:
        a.cache["index"] = Index(a)
    return a.cache["index"]


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
@guarded
async def on_hover(ls: SpecServer, params: lsp.HoverParams) -> lsp.Hover | None:
    a = await ls.analysis_at(params.text_document.uri, params.position.line)
    if a is None:
        return None
    pos = ls.codec.position_from_client_units(a.lines or [""], params.position)
    found = hover.hover(a, _index(a), pos.line, pos.character)
    if found is None:
        return None
    text, span = found
    contents = lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text)
    return lsp.Hover(contents=contents, range=ls.to_range(a.lines, span))


@server.feature(lsp.TEXT_DOCUMENT_INLAY_HINT)
@guarded
async def on_inlay_hint(ls: SpecServer, params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
    a = await ls.analysis(params.text_document.uri)
    if a is None:
        return []
    found = hover.inlay_hints(a, params.range.start.line, params.range.end.line)
    live = ls.live_lines(params.text_document.uri)
    out = []
    for line, col, label in found:
        if _line(live, line) != a.lines[line]:
            continue  # edited since the last check: its hint comes with the next one
        where = ls.codec.position_to_client_units(a.lines, ServerTextPosition(line, col))
        out.append(
            lsp.InlayHint(
                position=where, label=label, kind=lsp.InlayHintKind.Type, padding_left=True
            )
        )
    return out


def _location(ls: SpecServer, a: Analysis, file: str, span: tx.Span) -> lsp.Location:
    return lsp.Location(uri=from_fs_path(file) or file, range=ls.to_range(a.lines_of(file), span))


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
@guarded
async def on_definition(ls: SpecServer, params: lsp.DefinitionParams) -> lsp.Location | None:
    a = await ls.analysis_at(params.text_document.uri, params.position.line)
    if a is None:
        return None
    pos = ls.codec.position_from_client_units(a.lines or [""], params.position)
    found = navigate.definition(_index(a), pos.line, pos.character)
    return _location(ls, a, *found) if found else None


@server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
@guarded
async def on_references(ls: SpecServer, params: lsp.ReferenceParams) -> list[lsp.Location] | None:
    a = await ls.analysis_at(params.text_document.uri, params.position.line)
    if a is None:
        return None
    pos = ls.codec.position_from_client_units(a.lines or [""], params.position)
    declaration = params.context.include_declaration
    found = navigate.references(_index(a), pos.line, pos.character, declaration)
    return [_location(ls, a, f, s) for f, s in found] if found is not None else None


_KINDS = {
    "module": lsp.CompletionItemKind.Class,
    "function": lsp.CompletionItemKind.Function,
    "field": lsp.CompletionItemKind.Field,
    "node": lsp.CompletionItemKind.Variable,
    "block": lsp.CompletionItemKind.Module,
    "name": lsp.CompletionItemKind.EnumMember,
    "arg": lsp.CompletionItemKind.Property,
}


@server.feature(
    lsp.TEXT_DOCUMENT_COMPLETION,
    lsp.CompletionOptions(trigger_characters=[":", " ", "[", ",", "{"]),
)
@guarded
async def on_completion(ls: SpecServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    uri = params.text_document.uri
    lines, line, col = ls.from_position(uri, params.position)
    planted("\n".join(lines))
    buf = ls.buffers.get(uri)
    data = buf.good_data if buf is not None else None
    items = [
        lsp.CompletionItem(
            label=i.label,
            kind=_KINDS.get(i.kind),
            detail=i.detail or None,
            insert_text=i.insert,
        )
        for i in complete.complete(lines, line, col, data)
    ]
    return lsp.CompletionList(is_incomplete=False, items=items)


@server.feature(
    lsp.TEXT_DOCUMENT_CODE_ACTION,
    lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]),
)
@guarded
async def on_code_action(ls: SpecServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    uri = params.text_document.uri
    a = await ls.current(uri)
    if a is None:
        return []
    wanted = params.range
    out = []
    for p in a.problems:
        if p.pos is None or p.pos.file != a.file:
            continue
        fix = actions.fix_for(p, a.lines)
        if fix is None:
            continue
        where = ls.to_range(a.lines, fix.span)
        if where.end.line < wanted.start.line or where.start.line > wanted.end.line:
            continue
        edit = lsp.WorkspaceEdit(changes={uri: [lsp.TextEdit(range=where, new_text=fix.new_text)]})
        out.append(
            lsp.CodeAction(
                title=fix.title,
                kind=lsp.CodeActionKind.QuickFix,
                diagnostics=[_diagnostic(p, where)],
                edit=edit,
                is_preferred=True,
            )
        )
    return out


_SYMBOL_KINDS = {
    "namespace": lsp.SymbolKind.Namespace,
    "constant": lsp.SymbolKind.Constant,
    "class": lsp.SymbolKind.Class,
    "field": lsp.SymbolKind.Field,
    "function": lsp.SymbolKind.Function,
}


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
@guarded
async def on_symbols(ls: SpecServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
    a = await ls.analysis(params.text_document.uri)
    if a is None:
        return []

    def convert(s: navigate.Symbol) -> lsp.DocumentSymbol:
        last = a.lines[s.last_line] if s.last_line < len(a.lines) else ""
        whole = tx.Span(s.span.line, s.span.start, s.span.end)
        start = ls.to_range(a.lines, whole).start
        end = ls.codec.position_to_client_units(a.lines, ServerTextPosition(s.last_line, len(last)))
        return lsp.DocumentSymbol(
            name=s.name,
            kind=_SYMBOL_KINDS[s.kind],
            detail=s.detail or None,
            range=lsp.Range(start, end),
            selection_range=ls.to_range(a.lines, s.span),
            children=[convert(c) for c in s.children],
        )

    return [convert(s) for s in navigate.symbols(a)]


@server.feature(lsp.TEXT_DOCUMENT_FOLDING_RANGE)
@guarded
async def on_folding(ls: SpecServer, params: lsp.FoldingRangeParams) -> list[lsp.FoldingRange]:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    planted(doc.source)
    found = navigate.folding(tx.lines_of(doc.source))
    return [lsp.FoldingRange(start_line=s, end_line=e) for s, e in found]


SWITCH_INTERVAL_S = 0.0005
"""How often a running check hands the interpreter lock to the protocol thread (Python's default
is 5 ms, and a request needs several hand-offs: a hover waited 70 ms on a 10,000-layer check)."""


def serve() -> None:
    """Serve on stdin/stdout until the client says exit."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.collect()
    gc.freeze()  # modules, schemas, the op registry: never garbage (see GC_IDLE_S)
    gc.disable()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s: %(message)s")
    server.start_io()
