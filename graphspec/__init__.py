"""graphspec: a YAML model spec, checked, shape-inferred, and emitted as a plain nn.Module.

The Python API (each resolved on first use, so `import graphspec` stays cheap):

    import graphspec
    compiled = graphspec.compile_file("specs/lenet.yaml")  # checked and typed; no torch yet
    compiled = graphspec.compile_text(yaml_text)          # the same from a string (notebooks)
    compiled.graph.outputs[0].out                         # (N, 10): every shape is inferred
    compiled.graph.digraph                                # the networkx.DiGraph of typed nodes
    print(compiled.source)                                # the emitted nn.Module source
    model = graphspec.build_module(compiled)              # the live nn.Module (imports torch)
    model = graphspec.build_module("specs/lenet.yaml")    # ... or straight from a path

A mistake in a spec raises `graphspec.SpecError`, whose `.problems` carry FILE:LINE:COL.
"""

__version__ = "0.1.0"

__all__ = ["Compiled", "SpecError", "build_module", "compile_file", "compile_text"]

_HOMES = {
    "Compiled": "graphspec.compiler.pipeline",
    "build_module": "graphspec.compiler.pipeline",
    "compile_file": "graphspec.compiler.pipeline",
    "compile_text": "graphspec.compiler.pipeline",
    "SpecError": "graphspec.core.errors",
}


def __getattr__(name: str):
    # Resolved on first use, so `import graphspec` (and every CLI command) stays cheap.
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'graphspec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])
