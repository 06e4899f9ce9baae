"""The fuzzer's engine: mutations of real specs, and the one check every spec must pass.

`exercise(text)` runs a spec's text through what `validate`, `summary`, `emit` (model and
`--train`), `render` and the cost model do, in this process and torch-free. It returns None when
the spec is fine or was refused properly (a `SpecError` whose every problem has a real position
inside the file), or a one-line description of what went wrong: an internal error.

`mutate(data, rng)` changes a parsed spec the way a hurried user or an attacker would: a key
deleted, a value retyped, a reference renamed, an edge that closes a cycle, a size set to 0, a
reserved name, an op swapped; `mutate_text` adds what only text can hold (tags, aliases, tabs,
cut-off files, duplicate keys). Both take a `random.Random`, so a failing seed replays exactly.
"""

from __future__ import annotations

import copy
import random
import traceback
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
"""libyaml's dumper where PyYAML has it: the same text as the pure-Python one (checked over 400
mutants), about 4x faster, and dumping was ~40% of a mutant's time in test_mutated_specs."""
SPECS = sorted((ROOT / "specs").rglob("*.yaml"))

# Values a field may be retyped to: every YAML type, bounds, reserved words, control characters.
VALUES: list[Any] = [
    0, -1, 1, 2, 3, 7, 10**30, -(10**30), 2**63, 2**64 + 1, 0.0, -0.5, 1.5, 1e308, 1e-300,
    True, False, None, "", "N", "x", "relu", "Linear", "def", "None", "self", "nn", "F",
    "parameters", "state_dict", "to", "__class__", "os.system", "torch.nn.Linear", "a\nb",
    "MSE\nLoss", "d_model / ", "__import__('os').system('id')", "9**9**9", "1/0", "[N, 3]",
    [], [1], [0, 0], ["N", -1], ["Linear"], [[1, 2]], {}, {"a": 1}, {"op": {"a": 1}},
    {"op": ["Linear"]}, {"op": "Linear"}, {"op": "relu"}, "cuda:7", "float128", "x" * 300,
]  # fmt: skip
NAMES = [
    "def", "None", "nn", "F", "torch", "super", "self", "parameters", "to", "train", "eval",
    "apply", "state_dict", "forward", "x", "a b", "1abc", "_private", "ok_name", "main", "print",
]  # fmt: skip


def exercise(text: str, file: str = "spec.yaml") -> str | None:
    """None if `text` compiles or is refused with located errors; else what broke (one line)."""
    from graphspec.compiler import summary
    from graphspec.compiler.cost import cost_of
    from graphspec.compiler.pipeline import compile_document
    from graphspec.core.codetext import check_source
    from graphspec.core.errors import SpecError
    from graphspec.language.load import load_text
    from graphspec.program.script import generate
    from graphspec.render.diagram import dot_source

    n_lines = text.count("\n") + 2
    try:
        compiled = compile_document(load_text(text, file))
        compiled.source  # noqa: B018 - generating the model checks it (codegen: check_source)
        summary.as_dict(compiled.graph, compiled.spec.name)
        cost_of(compiled.graph)
        dot_source(compiled.graph, title=compiled.spec.name)
        if compiled.spec.data is not None:
            check_source(generate(compiled), compiled.spec.data.imports)
    except SpecError as err:
        if not err.problems:
            return "a SpecError without a problem: exit 2, and nothing printed"
        for p in err.problems:
            if p.pos is None or not (1 <= p.pos.line <= _lines_of(p.pos.file, file, n_lines)):
                return f"unlocated {p.format()}"
            if p.pos.col < 1:
                return f"unlocated {p.format()}"
            if "\n" in p.format():
                return f"two-line error {p.format()!r}"
        if err.partial is not None:  # render draws a graph up to the error
            try:
                dot_source(err.partial, problems=err.problems)
            except Exception:  # noqa: BLE001
                return _crash("render of a partial graph")
        return None
    except Exception:  # noqa: BLE001 - anything else is the bug we are looking for
        return _crash("internal error")
    return None


def _lines_of(where: str, file: str, n_lines: int) -> int:
    """How many lines the file an error points into has: the mutant's own, or a file it takes
    a model from (`from:`), whose errors are located there."""
    if where == file:
        return n_lines
    path = Path(where)
    if not path.is_file():
        return n_lines  # a --set or <environment> label: judged against the mutant
    return path.read_text(errors="replace").count("\n") + 2


def _crash(what: str) -> str:
    last = traceback.format_exc().strip().splitlines()
    where = next((ln.strip() for ln in reversed(last) if ln.strip().startswith("File ")), "")
    return f"{what}: {last[-1]} at {where}"


# -- mutations of the parsed tree ----------------------------------------------------------------


def _slots(data: Any, path: tuple = ()) -> list[tuple]:
    """Every (container path, key) in the tree: where a mutation can act."""
    found = []
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, value in items:
        found.append((path, key))
        found += _slots(value, (*path, key))
    return found


def _at(data: Any, path: tuple) -> Any:
    for key in path:
        data = data[key]
    return data


def _layer_tables(data: Any) -> list[dict]:
    tables = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "layers" and isinstance(value, dict) and value:
                tables.append(value)
            tables += _layer_tables(value)
    return tables


def _delete(data: Any, rng: random.Random) -> None:
    slots = _slots(data)
    if slots:
        path, key = rng.choice(slots)
        container = _at(data, path)
        del container[key]


def _retype(data: Any, rng: random.Random) -> None:
    slots = _slots(data)
    if slots:
        path, key = rng.choice(slots)
        _at(data, path)[key] = copy.deepcopy(rng.choice(VALUES))


def _rewire(data: Any, rng: random.Random) -> None:
    """A reference renamed, or pointed at a later node (a cycle), or at itself."""
    tables = _layer_tables(data)
    if not tables:
        return
    layers = rng.choice(tables)
    names = list(layers)
    i = rng.randrange(len(names))
    target = rng.choice([*names[i:], "nowhere", f"{names[0]}.weights", names[0]])
    node = layers[names[i]]
    if isinstance(node, dict):
        node["in"] = target if rng.random() < 0.7 else [target, rng.choice(names)]
    else:
        layers[names[i]] = {"op": node, "in": target}


def _rename(data: Any, rng: random.Random) -> None:
    """A node, block or class given a name the generated code cannot hold (or a fine one)."""
    tables = _layer_tables(data)
    if rng.random() < 0.3 and isinstance(data.get("model"), dict):
        data["model"]["class"] = rng.choice(NAMES)
        return
    if not tables:
        return
    layers = rng.choice(tables)
    old = rng.choice(list(layers))
    new = rng.choice(NAMES)
    if new in layers:
        return
    rebuilt = {(new if k == old else k): v for k, v in layers.items()}
    layers.clear()
    layers.update(rebuilt)


def _resize(data: Any, rng: random.Random) -> None:
    """An integer somewhere set to 0, -1, 1, or far beyond any machine."""
    slots = [(p, k) for p, k in _slots(data) if isinstance(_at(data, p)[k], int)]
    if slots:
        path, key = rng.choice(slots)
        _at(data, path)[key] = rng.choice([0, -1, 1, 2, 10**5, 10**12, 2**63])


def _swap_op(data: Any, rng: random.Random) -> None:
    """A node's op replaced by another registered one, its fields kept."""
    from graphspec.ops import OPS

    tables = _layer_tables(data)
    if not tables:
        return
    layers = rng.choice(tables)
    name = rng.choice(list(layers))
    op = rng.choice(list(OPS))
    node = layers[name]
    layers[name] = {**node, "op": op} if isinstance(node, dict) else op


def _insert(data: Any, rng: random.Random) -> None:
    """A new node of a random registered op with random fields, somewhere in a layer table."""
    from graphspec.ops import OPS

    tables = _layer_tables(data)
    if not tables:
        return
    layers = rng.choice(tables)
    names = list(layers)
    at = rng.randrange(len(names) + 1)
    fields = ["dim", "out_features", "kernel_size", "size", "dim0", "dim1", "other", "p"]
    node: dict[str, Any] = {"op": rng.choice(list(OPS))}
    for key in rng.sample(fields, rng.randrange(3)):
        node[key] = copy.deepcopy(rng.choice(VALUES[:12] + [[2, -1], ["N", 4]]))
    items = list(layers.items())
    items.insert(at, (f"fz{rng.randrange(1000)}", node))
    layers.clear()
    layers.update(items)


# The fields added since the first round, each with values a user might write (right or wrong).
NEW_FIELDS: list[tuple[tuple, list[Any]]] = [
    (("train", "validation"), [{"split": 0.2}, {"split": "test"}, {"split": 1.5}, {"every": 0},
                               {"split": 0.1, "patience": -1}, "yes", 0.2]),
    (("train", "dtype"), ["float32", "float64", "bfloat16", "float128", 3]),
    (("train", "amp"), [True, False, "bf16", None]),
    (("train", "compile"), [True, False, "max-autotune", 1]),
    (("train", "stop"), [{"loss_below": 0.01}, {"loss_below": -1}, {"nope": 1}, "early", []]),
    (("data",), [
        {"source": "arrays", "path": "d.npz", "inputs": ["x"], "target": "y"},
        {"source": "npy", "inputs": ["x.npy"], "target": "y.npy"},
        {"source": "tensors", "path": "d.safetensors", "inputs": ["x"], "target": "y"},
        {"source": "tensors", "path": "d.pt", "inputs": ["x"], "target": "input"},
        {"source": "table", "path": "t.csv", "target": "label"},
        {"source": "text", "path": "t.txt", "block_size": 8},
        {"source": "ImageFolder", "root": "imgs", "transforms": ["ToTensor"]},
        {"source": "arrays", "path": "d.npz", "inputs": ['x"""\nimport os'], "target": 5},
        {"source": "tensors", "path": "/dev/zero", "test_fraction": 2},
    ]),
    (("loss",), [{"op": "MSELoss", "reduction": "none"}, {"op": "BCEWithLogitsLoss"},
                 {"op": "CrossEntropyLoss", "label_smoothing": 1.5}]),
    (("model", "from"), ["zoo/resnet18.yaml", "nope.yaml", "/dev/zero", "../../etc/passwd", 5]),
    (("constants",), [{}, {"n": 3}, {"n": "m + 1", "m": "n + 1"}, []]),
]  # fmt: skip


def _new_field(data: Any, rng: random.Random) -> None:
    """One of the newer fields (validation, dtype, amp, compile, stop, a data source and its
    fields, from:, constants:) set to a value a user might write, right or wrong; or a block's
    `args:`/`if:` touched."""
    if rng.random() < 0.25 and isinstance(data.get("blocks"), dict) and data["blocks"]:
        block = data["blocks"][rng.choice(list(data["blocks"]))]
        if isinstance(block, dict):
            key = rng.choice(["args", "if"])
            block[key] = copy.deepcopy(rng.choice(
                [{"k": 3}, {"k": "x"}, [], "n > 1", "__import__('os')", True, {"if": 1}]
            ))  # fmt: skip
            return
    path, values = rng.choice(NEW_FIELDS)
    node = data
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = copy.deepcopy(rng.choice(values))


TREE_MUTATIONS = [_delete, _retype, _rewire, _rename, _resize, _swap_op, _insert, _new_field]


def mutate(data: Any, rng: random.Random) -> Any:
    data = copy.deepcopy(data)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        if isinstance(data, dict):
            rng.choice(TREE_MUTATIONS)(data, rng)
    return data


# -- mutations of the text -----------------------------------------------------------------------

TEXT_PAYLOADS = [
    ' !!python/object/apply:os.system ["touch SENTINEL"]', " &a", " *a", " !custom", "\t",
    " <<: *b", " ~", " !!binary aGk=", " [", " {", " '", ' "\\x00"', " 1:30", " 010", " yes",
    " 1e-3", " .nan", " -.inf", " " + "9" * 5000,
]  # fmt: skip


def mutate_text(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    if not lines:
        return text
    i = rng.randrange(len(lines))
    kind = rng.randrange(5)
    if kind == 0:  # a payload after a key
        line = lines[i]
        colon = line.find(":")
        lines[i] = (line[: colon + 1] if colon >= 0 else line) + rng.choice(TEXT_PAYLOADS)
    elif kind == 1:  # a duplicated line (a duplicate key, mostly)
        lines.insert(i, lines[i])
    elif kind == 2:  # one character gone
        if lines[i]:
            j = rng.randrange(len(lines[i]))
            lines[i] = lines[i][:j] + lines[i][j + 1 :]
    elif kind == 3:  # cut off
        return "\n".join(lines[:i]) + "\n" + lines[i][: rng.randrange(len(lines[i]) + 1)]
    else:  # a line indented one step more or less
        lines[i] = lines[i][2:] if lines[i].startswith("  ") else "  " + lines[i]
    return "\n".join(lines) + "\n"


def shipped() -> list[tuple[str, Any]]:
    """(file name, parsed data) of every shipped spec (specs/ and specs/zoo/)."""
    return [(str(p.relative_to(ROOT)), yaml.safe_load(p.read_text())) for p in SPECS]


def mutated_text(source: Any, rng: random.Random) -> str:
    """One mutant of a shipped spec: two in three change the tree, one in three the text."""
    name, data = source
    if rng.random() < 2 / 3:
        return yaml.dump(mutate(data, rng), Dumper=DUMPER, sort_keys=False, allow_unicode=True)
    return mutate_text((ROOT / name).read_text(), rng)
