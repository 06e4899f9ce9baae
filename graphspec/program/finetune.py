"""Fine-tuning in the training program: `train.freeze` and `optimizer.groups` as generated
functions that `graphspec run` executes and `emit --train` writes (the same text), and the
script's own `load_weights()` for the `weights:` section (the run loads through
training/weights.py, which checks more and records what it loaded).

Patterns and names reach the source only as literals (core/codetext.py). Nothing here imports
torch.
"""

from __future__ import annotations

from typing import Any

from graphspec.core.codetext import literal, one_line
from graphspec.language.recipe import group_options, group_patterns

RUN_WEIGHTS = "weights.pt"


def groups_of(spec: Any) -> list[Any]:
    return list(getattr(spec.optimizer, "groups", None) or [])


def tunes(spec: Any) -> bool:
    """Whether the spec freezes parameters or groups them: then the program has freeze() and
    parameters(), and the optimizer takes parameters(net)."""
    return bool(spec.train.freeze or groups_of(spec))


def settings(spec: Any) -> list[str]:
    if not tunes(spec):
        return []
    groups = [(group_patterns(g), group_options(g)) for g in groups_of(spec)]
    shown = ", ".join(f"({literal(p)}, {_options(o)})" for p, o in groups)
    return [
        f"FREEZE = {literal(list(spec.train.freeze))}  # train.freeze",
        f"PARAM_GROUPS = [{shown}]  # optimizer.groups: (patterns, options)",
    ]


def _options(options: dict[str, Any]) -> str:
    items = ", ".join(f"{literal(k)}: {literal(v)}" for k, v in options.items())
    return "{" + items + "}"


FUNCTIONS = '''\
def matches(name, patterns):
    """Whether a state_dict key matches one of the fnmatch patterns (`fc.*`)."""
    import fnmatch

    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def freeze(net):
    """train.freeze: frozen parameters take no gradient; a BatchNorm whose every entry is
    frozen keeps its running statistics (it stays in eval mode whatever net.train() says)."""
    for name, p in net.named_parameters():
        if matches(name, FREEZE):
            p.requires_grad_(False)
    for name, module in net.named_modules():
        keys = [f"{name}.{key}" if name else key for key in module.state_dict()]
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and all(
            matches(key, FREEZE) for key in keys
        ):
            keep_in_eval(module)
    return net


def keep_in_eval(module):
    module.eval()
    module.train = lambda mode=True: module  # net.train() reaches it and changes nothing


def parameters(net):
    """The optimizer's parameter groups: each trainable parameter in the first group whose
    patterns it matches, the rest in a last group with the optimizer's own options."""
    groups = [{"params": [], **options} for _, options in PARAM_GROUPS] + [{"params": []}]
    for name, p in net.named_parameters():
        if not p.requires_grad:
            continue
        index = next(
            (i for i, (patterns, _) in enumerate(PARAM_GROUPS) if matches(name, patterns)),
            len(PARAM_GROUPS),
        )
        groups[index]["params"].append(p)
    return [group for group in groups if group["params"]]'''


def functions(spec: Any) -> list[str]:
    return [FUNCTIONS] if tunes(spec) else []


def imports(spec: Any) -> tuple[str, ...]:
    """The import lines the functions above write for `spec` (check_source allows these)."""
    lines: list[str] = []
    if tunes(spec) or spec.weights is not None:
        lines.append("import fnmatch")
    if spec.weights is not None:
        lines.append("import re")
        if spec.weights.torchvision_name() is not None:
            lines.append("import torchvision.models")
        elif spec.weights.from_.endswith(".safetensors"):
            lines.append("from safetensors.torch import load_file")
    return tuple(lines)


def load_weights(spec: Any) -> list[str]:
    """The script's `load_weights(net)` and its settings; [] without `weights:`."""
    weights = spec.weights
    if weights is None:
        return []
    name = weights.torchvision_name()
    if name is not None:
        read = [
            "    import torchvision.models",
            "",
            f"    entry = torchvision.models.get_weight({literal('.'.join(name))})",
            "    state = entry.get_state_dict(progress=False, check_hash=True)  # hub's cache",
        ]
    elif weights.from_.endswith(".safetensors"):
        read = ["    from safetensors.torch import load_file", "", "    state = load_file(WEIGHTS)"]
    else:
        read = ['    state = torch.load(WEIGHTS, map_location="cpu", weights_only=True)']
    path = weights.from_ if name is None else None
    if path is not None and not path.endswith((".safetensors", ".pt", ".pth")):
        path = f"{path.rstrip('/')}/{RUN_WEIGHTS}"  # a run folder: its final weights
    return [
        "\n".join([
            f"WEIGHTS = {literal(path)}  # weights.from: {one_line(weights.from_)}",
            f"RENAME = {literal([list(r) for r in weights.rename.items()])}  # weights.rename",
            f"IGNORE = {literal(list(weights.ignore))}  # weights.ignore",
            f"STRICT = {literal(weights.strict)}  # weights.strict",
        ]),
        "\n".join([
            "def load_weights(net):",
            '    """weights: what training starts from, renamed and ignored as the spec says."""',
            "    import fnmatch",
            "    import re",
            "",
            *read,
            "    renamed = {}",
            "    for key, value in state.items():",
            "        for pattern, replacement in RENAME:",
            "            key = re.sub(pattern, replacement, key)",
            "        if not any(fnmatch.fnmatchcase(key, p) for p in IGNORE):",
            "            renamed[key] = value",
            "    missing, unexpected = net.load_state_dict(renamed, strict=False)",
            "    missing = [k for k in missing",
            "               if not any(fnmatch.fnmatchcase(k, p) for p in IGNORE)]",
            "    if STRICT and (missing or unexpected):",
            '        raise RuntimeError(f"weights do not fit: missing {missing}, "',
            '                           f"unexpected {unexpected}")',
        ]),
    ]  # fmt: skip
