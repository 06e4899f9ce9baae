"""The export formats: one class each, saving a module to a file and loading that file back.

Each format's `load` returns a plain callable over torch tensors, so the output check treats
every format alike: what is compared is what was read back from the file, not an object kept
in memory.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import warnings
from collections.abc import Callable
from typing import Any

import torch

Example = tuple[torch.Tensor, ...]
Runner = Callable[..., Any]


class Format:
    name: str
    suffix: str
    needs: tuple[str, ...] = ()
    """Python packages the format needs beyond torch (the `export` extra)."""

    def missing(self) -> list[str]:
        return [m for m in self.needs if importlib.util.find_spec(m) is None]

    def save(self, model, example: Example, names: Names, dynamic: dict, path: str) -> None:
        raise NotImplementedError

    def load(self, path: str, device: str) -> Runner:
        raise NotImplementedError

    def static_axes(self, path: str) -> set[tuple[str, int]]:
        """(input, axis) pairs the saved file holds at a fixed size (where the format says)."""
        return set()


class Names:
    """Input and output names, kept in the exported file where the format has them, and the
    metadata a served model needs (class names, normalisation, vocabulary: metadata.py)."""

    def __init__(
        self, inputs: list[str], outputs: list[str], metadata: dict[str, str] | None = None
    ) -> None:
        self.inputs, self.outputs = inputs, outputs
        self.metadata = metadata or {}


class PT2(Format):
    """torch.export: an ExportedProgram with the symbolic sizes as `torch.export.Dim`s."""

    name, suffix = "pt2", ".pt2"

    def save(self, model, example, names, dynamic, path):
        program = torch.export.export(model, example, dynamic_shapes=dynamic)
        # the metadata as the pt2's extra files: torch.export.load(path, extra_files={...})
        torch.export.save(program, path, extra_files=names.metadata)

    def load(self, path, device):
        return torch.export.load(path).module()


class TorchScript(Format):
    """torch.jit.script: sizes stay dynamic by construction (deprecated by torch, still used
    by C++ deployments through libtorch)."""

    name, suffix = "torchscript", ".pt"

    def save(self, model, example, names, dynamic, path):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*torch\.jit.* is deprecated")
            torch.jit.save(torch.jit.script(model), path, _extra_files=names.metadata)

    def load(self, path, device):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*torch\.jit.* is deprecated")
            return torch.jit.load(path, map_location=device)


class ONNX(Format):
    """torch.onnx (the dynamo exporter, opset from torch's default), run back by onnxruntime."""

    name, suffix = "onnx", ".onnx"
    needs = ("onnx", "onnxscript", "onnxruntime")

    def save(self, model, example, names, dynamic, path):
        # The exporter reports its progress on stdout; a command's stdout stays the user's.
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*axis name.*")
            program = torch.onnx.export(
                model.cpu(),
                tuple(t.cpu() for t in example),
                dynamic_shapes=dynamic,
                input_names=names.inputs,
                output_names=names.outputs,
                dynamo=True,
                verbose=False,
            )
            program.save(path)
        if names.metadata:  # the model's metadata_props: onnxruntime's custom_metadata_map
            import onnx

            proto = onnx.load(path)
            onnx.helper.set_model_props(proto, names.metadata)
            onnx.save(proto, path)

    def load(self, path, device):
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        inputs = [i.name for i in session.get_inputs()]

        def run(*args: torch.Tensor) -> list[torch.Tensor]:
            feed = {n: a.detach().cpu().numpy() for n, a in zip(inputs, args, strict=True)}
            return [torch.from_numpy(v) for v in session.run(None, feed)]

        return run

    def static_axes(self, path):
        # The dynamo exporter may specialise an axis without raising: read what it wrote.
        import onnx

        graph = onnx.load(path, load_external_data=False).graph
        return {
            (value.name, axis)
            for value in graph.input
            for axis, dim in enumerate(value.type.tensor_type.shape.dim)
            if dim.HasField("dim_value")
        }


FORMATS: dict[str, Format] = {f.name: f for f in (PT2(), TorchScript(), ONNX())}


def available() -> list[str]:
    """Formats whose packages are installed here."""
    return [name for name, f in FORMATS.items() if not f.missing()]
