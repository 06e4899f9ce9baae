"""A pytest-lsp client for `python -m graphspec lsp`, that also records each diagnostics
notification with its version, so a test can wait for the check of the text it sent."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from lsprotocol import types as lsp
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, LanguageClient, register_lsp_features

ROOT = Path(__file__).resolve().parents[2]
MARKER = "PLANTED_CRASH_MARKER"


def _record(client: LanguageClient, params: lsp.PublishDiagnosticsParams) -> None:
    client.diagnostics[params.uri] = params.diagnostics
    client.published.setdefault(params.uri, []).append(params)


def make_client() -> LanguageClient:
    client = LanguageClient(converter_factory=default_converter)
    client.published = {}
    register_lsp_features(
        client, {**DEFAULT_CLIENT_FEATURES, lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: _record}
    )
    return client


def server_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env | extra


CONFIG = ClientServerConfig(
    server_command=[sys.executable, "-m", "graphspec", "lsp"],
    client_factory=make_client,
    server_env=server_env(GRAPHSPEC_LSP_PLANT_CRASH=MARKER),
)

CAPABILITIES = lsp.ClientCapabilities(
    text_document=lsp.TextDocumentClientCapabilities(
        publish_diagnostics=lsp.PublishDiagnosticsClientCapabilities(version_support=True),
        inlay_hint=lsp.InlayHintClientCapabilities(),
    ),
    general=lsp.GeneralClientCapabilities(position_encodings=[lsp.PositionEncodingKind.Utf16]),
)


async def start(client: LanguageClient) -> None:
    await client.initialize_session(
        lsp.InitializeParams(capabilities=CAPABILITIES, root_uri=ROOT.as_uri())
    )


async def diagnostics_for(
    client: LanguageClient, uri: str, version: int, timeout: float = 20.0, after: int = 0
) -> list[lsp.Diagnostic]:
    """The diagnostics published for `uri` at `version` (waiting for them), skipping the first
    `after` notifications for it (a version checked again)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for params in client.published.get(uri, [])[after:]:
            if params.version == version:
                return list(params.diagnostics)
        await asyncio.sleep(0.002)
    raise TimeoutError(f"no diagnostics for {uri} at version {version}")


def open_doc(client: LanguageClient, path: Path, text: str, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(uri=uri, language_id="yaml", version=version, text=text)
        )
    )
    return uri


def change_doc(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )
