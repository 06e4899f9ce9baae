"""graphspec: a YAML model spec, checked, shape-inferred, and emitted as a plain nn.Module.

import graphspec
compiled = graphspec.compile_file("specs/lenet.yaml")   # checked and typed; no torch yet
model = graphspec.build_module("specs/lenet.yaml")      # the emitted nn.Module, built
"""

__version__ = "0.1.0"

__all__ = ["build_module", "compile_file"]


def __getattr__(name: str):
    # Resolved on first use, so `import graphspec` (and every CLI command) stays cheap, and
    # `graphspec schema` can still configure the spec models before they are imported.
    if name in __all__:
        from graphspec.compiler import pipeline as _compile

        return getattr(_compile, name)
    raise AttributeError(f"module 'graphspec' has no attribute {name!r}")
