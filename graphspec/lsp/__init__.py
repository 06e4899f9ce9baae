"""`graphspec lsp`: the compiler in the editor, as a Language Server Protocol server on stdio.

The stage sits above the compiler and below the CLI, which imports it only when the `lsp`
command runs (pygls is an optional extra, `graphspec[lsp]`). Everything it says comes from the
compiler's own results: `analysis` runs the pipeline `graphspec validate` runs and keeps the
problems, the document and the typed graph; the feature modules (`index`, `hover`, `navigate`,
`complete`, `actions`) read those, and `text` and `context` read the raw text (token extents,
where the cursor is); `server` is the only module that speaks the protocol. Internally
positions are 0-based lines and code-point columns; `server` converts them to the client's
units (UTF-16 by default) at the edge.
"""
