"""graphspec: a YAML model spec, checked, shape-inferred, and emitted as a plain nn.Module."""

__version__ = "0.1.0"
