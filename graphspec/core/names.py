"""Names a spec may not give, because the generated code could not hold them (E-NAME).

A node, input or param name becomes a submodule or parameter of the emitted `nn.Module`, so a
`state_dict` key: it may be any name PyTorch takes there (`block1-0`, `0`, `self`, `input`,
`class`); compiler/pynames.py names the generated locals and attributes apart from it. Only
an attribute of `torch.nn.Module` is refused (a Linear named `parameters` would replace the
method; torch's own `add_module` refuses it too). A model or block class name becomes a global
of the emitted file and of the `emit --train` script, so it must not be a Python keyword or a
name the generated code itself uses (`nn`, `F`, the script's `main`, `DEVICE`, ...).

Torch-free: `NN_MODULE_ATTRIBUTES` is `dir(torch.nn.Module)` written out once (public names,
plus the `training` flag every instance carries); tests/test_names.py checks it still matches the
installed torch, and that every name the generated module and script use is listed here.
"""

from __future__ import annotations

import builtins
import keyword

from graphspec.core.codetext import BANNED_NAMES

NN_MODULE_ATTRIBUTES = frozenset(
    {
        "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init",
        "children", "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr",
        "float", "forward", "get_buffer", "get_extra_state", "get_parameter", "get_submodule",
        "half", "ipu", "load_state_dict", "modules", "mtia", "named_buffers", "named_children",
        "named_modules", "named_parameters", "parameters", "register_backward_hook",
        "register_buffer", "register_forward_hook", "register_forward_pre_hook",
        "register_full_backward_hook", "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
        "register_module", "register_parameter", "register_state_dict_post_hook",
        "register_state_dict_pre_hook", "requires_grad_", "set_extra_state", "set_submodule",
        "share_memory", "state_dict", "to", "to_empty", "train", "type", "xpu", "zero_grad",
        "training",
    }
)  # fmt: skip
"""Public attributes of torch.nn.Module (torch 2.14), and the instance flag `training`."""

FORWARD_NAMES = frozenset({"self", "torch", "nn", "F", "math", "super", "layer"})
"""Names the emitted module's code uses besides the spec's own (imports, `self`, `super`, the
`repeat:` loop's `layer`): a node of one of these names gets a local variable of another."""

SCRIPT_GLOBALS = frozenset(
    {
        "torch", "nn", "F", "math", "torchvision", "transforms", "load_digits", "BATCH_SIZE",
        "DEVICE", "DROP_LAST", "EPOCHS", "LOG_EVERY", "NUM_WORKERS", "PATH", "SEED", "SHUFFLE",
        "STEPS", "batches", "compare", "evaluate", "main", "make_data", "size", "epoch_order",
        "train_step", "prepare", "take", "images_of", "transform_batch", "CORES", "SCALER",
        "MEAN_1", "STD_1", "MEAN_2", "STD_2", "MEAN_3", "STD_3",
        "MAX_STEPS", "TOLERANCE", "PATIENCE", "DTYPE", "cast",
        "split_validation", "validate", "validation_line", "improved", "VAL_SPLIT", "VAL_EVERY",
        "VAL_BATCH_SIZE", "MONITOR", "MIN_DELTA", "VAL_PATIENCE", "FINAL_WEIGHTS", "EARLY_LINE",
        "BEST_LINE", "LOSS", "TASK", "THRESHOLD", "TEST_METRICS", "test_metrics", "binary_auroc",
        "prf", "make_scheduler",
        "GradientDescent",
        "np", "csv", "Path", "tiktoken", "safetensors",  # the data sources' imports
    }
)  # fmt: skip
"""Top-level names of the `emit --train` script (constants, functions, imports, copied classes)."""


def node_name_problem(name: str) -> str | None:
    """Why `name` cannot name a node, input or param; None when it can."""
    if name in NN_MODULE_ATTRIBUTES:
        return f"'{name}' is an attribute of torch.nn.Module: a node of that name would replace it"
    return None


def reserved_in_forward(name: str) -> bool:
    """Whether a node named `name` needs a local variable of another name in `forward`: not an
    identifier, a keyword, or a name the generated code uses or check_source refuses."""
    return (
        not name.isidentifier()
        or keyword.iskeyword(name)
        or name in FORWARD_NAMES
        or name in BANNED_NAMES
    )


def class_name_problem(name: str) -> str | None:
    """Why `name` cannot name the model or a block (a class of the generated file)."""
    common = _common(name)
    if common is None and (name in SCRIPT_GLOBALS or hasattr(builtins, name)):
        return f"'{name}' is a name the generated file and training script use"
    return common


def _common(name: str) -> str | None:
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"'{name}' is a Python keyword"
    if name in FORWARD_NAMES:
        return f"'{name}' is a name the generated code uses"
    if name in BANNED_NAMES:
        # check_source refuses these in any generated text, so they are refused here first
        return f"'{name}' is a name generated code may not hold (it is checked before it runs)"
    return None
