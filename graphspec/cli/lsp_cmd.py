"""`graphspec lsp`: the language server on stdin/stdout, for editors (editors/ has the configs).

pygls is an optional extra (`pip install 'graphspec[lsp]'`); the server is imported only here,
when the command runs, so no other command pays for it.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    # Editors' launchers often pass --stdio; stdio is the only transport, so it is accepted.
    p.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default)")


def run(args: argparse.Namespace) -> int:
    from graphspec.core.errors import fail

    try:
        from graphspec.lsp.server import serve
    except ImportError as err:
        if err.name not in ("pygls", "lsprotocol") and not str(err.name).startswith("pygls."):
            raise
        raise fail(
            "E-USAGE",
            "graphspec lsp needs pygls, which is not installed",
            hint="pip install 'graphspec[lsp]'",
        ) from None
    serve()
    return 0
