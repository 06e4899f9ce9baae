"""Static shape inference: one pass over a body's graph in topological order, no torch.

Each op's own rule (`resolve` then `infer`) gives its output types; this module walks the graph,
resolves references (`node` or `node.output`), types params and block calls, checks `shape:`
annotations and budgets, and turns `ShapeError`s into located problems. A node whose input already
failed is skipped, so one mistake gives one error, not a cascade.

Blocks are typed once, over their own declared inputs (symbols such as `N`, `L` are the block's);
a call unifies the declared inputs with the actual ones and substitutes into the outputs.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphspec.compiler import hazards, ties
from graphspec.compiler.graph import Graph, GraphNode, split_ref
from graphspec.core.errors import Pos, Problem, SpecError
from graphspec.core.shapes import Dim, TensorType, dims_product
from graphspec.language.spec import Call, Group, Share
from graphspec.ops.base import Op, ShapeError, body_sizes


class BlockFailed(ShapeError):
    """A call whose block has errors of its own (reported there): the call is not typed."""

    def __init__(self) -> None:
        super().__init__("block has errors")  # never reported: the block reports its own


MAX_PARAMS = 2_000_000_000
"""About 8 GB of float32 weights: beyond that, refuse before torch tries to allocate."""
MAX_DIM = 2**31 - 1


@dataclass
class TypedNode:
    node: GraphNode
    op: Op | None
    """The resolved op (inferred sizes filled in); for a `share:` node, the shared module's."""
    outs: dict[str, TensorType]
    """Named results, in order; most nodes have one, `out`."""
    params: int
    inner: TypedGraph | None = None
    """For a block call: the (first copy's) block's typed graph, in the block's own symbols."""
    copies: list[TypedGraph] = field(default_factory=list)
    """For a block call: each copy's specialization, in order (one unless `repeat:`)."""
    children: list[TypedNode] | None = None
    """For a group: its children in `nn.Sequential` order, named "0", "1", ..."""

    @property
    def name(self) -> str:
        return self.node.name

    def copy_keys(self) -> list[str]:
        """Each copy's key part under this node, as state_dict names it: none for one copy
        (`stem.conv1`), numbers for a `repeat:` (`layer1.0.conv1`), or the names `names:`
        gives (`denseblock1.denselayer1.conv1`)."""
        if not self.copies:
            return []
        named = self.node.spec.copy_names() if isinstance(self.node.spec, Call) else None
        if named is not None:
            return named
        return [str(i) for i in range(len(self.copies))] if len(self.copies) > 1 else [""]

    @property
    def out(self) -> TensorType:
        return next(iter(self.outs.values()))


@dataclass
class TypedGraph:
    class_name: str
    graph: Graph
    nodes: dict[str, TypedNode]
    """In topological order."""
    blocks: Any = None
    """The block typer (`compiler.blocks.Blocks`) this body's calls were typed with."""
    spec_key: tuple = ()
    """For a block: (name, arguments, concrete input sizes) of this specialization."""

    @property
    def outputs(self) -> list[TypedNode]:
        return [self.nodes[split_ref(ref)[0]] for ref in self.graph.outputs]

    def output_types(self) -> dict[str, TensorType]:
        """Each output by its port name: `norm` for `norm`, `weights` for `mha.weights`."""
        return {_port_name(ref): self.ref_type(ref) for ref in self.graph.outputs}

    def ref_type(self, ref: str) -> TensorType:
        name, port = split_ref(ref)
        return self.nodes[name].outs[port or next(iter(self.nodes[name].outs))]

    @property
    def inputs(self) -> list[TypedNode]:
        return [t for t in self.nodes.values() if t.node.is_input]

    @property
    def total_params(self) -> int:
        return sum(t.params for t in self.nodes.values())

    @property
    def digraph(self) -> Any:
        """The `networkx.DiGraph` that was walked; each node carries `node` and `typed`."""
        return self.graph.g

    def walk(self, prefix: str = "") -> Iterator[tuple[str, TypedNode, int]]:
        """Every node with its dotted path and nesting depth, block internals (every copy of
        a `repeat:`) and group children included."""
        for t in self.nodes.values():
            yield from _walk_node(t, prefix)


def _walk_node(t: TypedNode, prefix: str) -> Iterator[tuple[str, TypedNode, int]]:
    yield prefix + t.name, t, prefix.count(".")
    # every copy, named as state_dict names it
    for key, inner in zip(t.copy_keys(), t.copies, strict=True):
        yield from inner.walk(f"{prefix}{t.name}." + (f"{key}." if key else ""))
    for child in t.children or ():
        yield from _walk_node(child, f"{prefix}{t.name}.")


def _port_name(ref: str) -> str:
    name, port = split_ref(ref)
    return port or name


FieldPos = dict[tuple[str, str], Pos]
"""(node, field) -> position of that field's value, for errors about one argument."""


def infer(
    graph: Graph,
    class_name: str,
    field_pos: FieldPos,
    blocks: Any = None,
    label: str = "",
) -> TypedGraph:
    """Type every node; `label` prefixes node names in messages (`Attention.scores`); `blocks`
    types the block calls (`compiler.blocks.Blocks`)."""
    hazards.check_writes(graph)
    typed: dict[str, TypedNode] = {}
    problems: list[Problem] = []
    failed = False
    sizes = {n.name: TensorType.of(n.spec.shape) for n in graph.nodes.values() if n.is_input}
    tapped = group_taps(graph)
    with body_sizes(sizes):  # fields may name the body's input sizes (`expand: [N, -1]`)
        for node in graph.order():
            if any(split_ref(ref)[0] not in typed for ref in node.inputs):
                continue  # an input failed already; its error is reported
            try:
                typed[node.name] = _infer_node(node, typed, blocks, tapped.get(node.name, ()))
                graph.g.nodes[node.name]["typed"] = typed[node.name]
            except BlockFailed:
                failed = True  # the block's own errors are reported, located inside it
            except ShapeError as err:
                pos = field_pos.get((node.name, err.field or ""), node.pos)
                message = err.message + _inputs_note(err, node, typed)
                problems.append(Problem(err.code, message, pos, label + node.name, err.hint))
    result = TypedGraph(class_name, graph, typed, blocks)
    if not problems and not failed:
        problems += _check_outputs(result, graph) or ties.check(result, label) or _budget(result)
        problems += hazards.autograd_problems(result, in_block=bool(label), label=label)
    if problems or failed:
        err = SpecError(problems)
        err.partial = result  # what could be typed: `render` draws it, the failure marked
        raise err
    return result


def _inputs_note(err: ShapeError, node: GraphNode, typed: dict[str, TypedNode]) -> str:
    """Name the producers and their types, so a mismatch shows both ends."""
    if err.code not in ("E-SHAPE", "E-DTYPE") or not node.inputs:
        return ""
    parts = []
    for ref in node.inputs:
        name, port = split_ref(ref)
        t = typed[name].outs.get(port or "") or typed[name].out
        parts.append(f"'{ref}' {t}" + ("" if t.dtype == "float32" else f" {t.dtype}"))
    return f"; input{'s' if len(parts) > 1 else ''}: {', '.join(parts)}"


def group_taps(graph: Graph) -> dict[str, list[int]]:
    """The children of each group that the body reads by number (`features.4`), in order."""
    refs = [ref for node in graph.nodes.values() for ref in node.inputs] + list(graph.outputs)
    taps: dict[str, set[int]] = {}
    for ref in refs:
        name, port = split_ref(ref)
        node = graph.nodes.get(name)
        if port is not None and port.isdigit() and node is not None and node.kind == "group":
            taps.setdefault(name, set()).add(int(port))
    return {name: sorted(ports) for name, ports in taps.items()}


def _infer_node(
    node: GraphNode, typed: dict[str, TypedNode], blocks: dict, taps: Sequence[int] = ()
) -> TypedNode:
    spec = node.spec
    if getattr(spec, "inplace", False) is True and any(_is_tap(r, typed) for r in node.inputs):
        raise ShapeError(
            "an in-place write into a group child's output changes what the group's next "
            "child read (and may have kept for backward)",
            code="E-INPLACE",
            field="in_",
            hint="write inplace: false",
        )
    args = [_ref(ref, typed) for ref in node.inputs]
    if getattr(spec, "tie", None) is not None and node.kind != "op":
        raise ShapeError("tie: only a module op can tie its weight", code="E-REF", field="tie")
    match node.kind:  # the node kinds: GraphNode's docstring
        case "input":
            return TypedNode(node, None, {"out": TensorType.of(spec.shape, spec.dtype)}, 0)
        case "param":
            t = TensorType.of(spec.shape, getattr(spec, "dtype", "float32"))
            count = 0 if node.is_buffer else dims_product(t.shape).value
            return TypedNode(node, None, {"out": t}, count)
        case "share":
            return _infer_share(node, spec, args, typed)
        case "call":
            return _infer_call(node, spec, args, blocks)
        case "group":
            return _infer_group(node, spec, args, blocks, taps)
    _check_arity(spec, len(args))
    op = spec.resolve(args)
    outs = _named(op, op.infer(args))
    _check_annotation(spec, next(iter(outs.values())))
    return TypedNode(node, op, outs, ties.own_params(op) if spec.tie else op.param_count())


def _is_tap(ref: str, typed: dict[str, TypedNode]) -> bool:
    name, port = split_ref(ref)
    return port is not None and port.isdigit() and typed[name].children is not None


def _ref(ref: str, typed: dict[str, TypedNode]) -> TensorType:
    name, port = split_ref(ref)
    outs = typed[name].outs
    if port is None:
        return next(iter(outs.values()))
    if port not in outs:
        raise ShapeError(
            f"'{name}' has no output '{port}'; it has {', '.join(outs)}",
            code="E-REF",
            field="in_",
            hint=_port_hint(port, list(outs)),
        )
    return outs[port]


def _named(op: Op, result: TensorType | tuple[TensorType, ...]) -> dict[str, TensorType]:
    results = result if isinstance(result, tuple) else (result,)
    return dict(zip(op.outputs, results, strict=True))


def _infer_share(node: GraphNode, spec: Share, args: list[TensorType], typed: dict) -> TypedNode:
    owner = typed.get(spec.share)
    if owner is None or owner.op is None:
        raise ShapeError(f"shared module '{spec.share}' could not be typed", code="E-REF")
    op = owner.op
    _check_arity(op, len(args))
    if op.resolve(args) != op:
        raise ShapeError(
            f"'{spec.share}' was built for {typed[split_ref(owner.node.inputs[0])[0]].out} and "
            f"cannot take {args[0]}",
            hint="a shared module's inferred sizes must fit every call",
        )
    outs = _named(op, op.infer(args))
    _check_annotation(spec, next(iter(outs.values())))
    return TypedNode(node, op, outs, 0)  # its parameters are counted once, at the owner


def _infer_call(node: GraphNode, spec: Call, args: list[TensorType], blocks: Any) -> TypedNode:
    """Each copy is typed as its own specialization; copy k's first output feeds copy k+1."""
    sets = spec.copy_args()
    listed = isinstance(spec.args, list) and "repeat" in spec.model_fields_set
    if listed and spec.repeat != len(sets):
        raise ShapeError(
            f"repeat is {spec.repeat} but args lists {len(sets)} argument sets",
            code="E-CONSTRAINT",
            field="repeat",
            hint="give one argument set per copy, or leave repeat out",
        )
    copies: list[TypedGraph] = []
    current = list(args)
    outs: dict[str, TensorType] = {}
    for i, given in enumerate(sets):
        inner = blocks.call(spec, given, current)
        outs = _call_outputs(spec, inner, current, i)
        copies.append(inner)
        current = [next(iter(outs.values())), *current[1:]]
    _check_annotation(spec, next(iter(outs.values())))
    params = sum(c.total_params for c in copies)
    return TypedNode(node, None, outs, params, copies[0], copies)


def _call_outputs(spec: Call, inner: TypedGraph, args: list[TensorType], copy: int) -> dict:
    declared = [t.out for t in inner.inputs]
    bindings: dict[str, Dim] = {}
    for name, want, got in zip([t.name for t in inner.inputs], declared, args, strict=True):
        try:
            _unify(want, got, bindings, f"block '{spec.block}' input '{name}'")
        except ShapeError as err:
            if copy == 0 or name != inner.inputs[0].name:
                raise
            raise ShapeError(
                f"repeat: copy {copy}'s first output {_typed(got)} must fit copy "
                f"{copy + 1}'s first input {_typed(want)} to feed it",
                field="repeat",
                hint="drop `repeat:`, or make the block's first output fit its first input",
            ) from err
    return {k: _substitute(t, bindings) for k, t in inner.output_types().items()}


def _typed(t: TensorType) -> str:
    return f"{t}" if t.dtype == "float32" else f"{t} {t.dtype}"


def _infer_group(
    node: GraphNode, spec: Group, args: list[TensorType], blocks: Any, taps: Sequence[int] = ()
) -> TypedNode:
    """Children in sequence, one tensor in and out, numbered as nn.Sequential numbers them;
    the children in `taps` are outputs too (`features.4`)."""
    if len(args) != 1:
        raise ShapeError(f"a group takes 1 input, got {len(args)}", code="E-ARITY", field="in_")
    children: list[TypedNode] = []
    x, source = args[0], node.inputs[0]
    for i, child in enumerate(spec.group):
        if child is None:
            continue  # left out by its `if:`
        for one in _expanded(child, i):
            name = str(len(children))
            t = _infer_child(GraphNode(name, node.pos, one, [source]), x, blocks, i)
            children.append(t)
            x, source = t.out, name
    if not children:
        raise ShapeError("every child of the group is left out by its `if:`", field="group")
    _check_annotation(spec, x)
    params = sum(c.params for c in children)
    outs = {"out": x, **{str(i): _tap(node.name, children, i) for i in taps}}
    return TypedNode(node, None, outs, params, children=children)


def _tap(group: str, children: list[TypedNode], i: int) -> TensorType:
    """Child i's output, read beside the group's own (a backbone feeding two heads)."""
    if i >= len(children):
        raise ShapeError(
            f"group '{group}' has {len(children)} children (0 to {len(children) - 1}), "
            f"no child {i}",
            code="E-REF",
            field="in_",
            hint="number the children from 0, as nn.Sequential does; a child left out by its "
            "`if:` is not counted",
        )
    after = children[i + 1] if i + 1 < len(children) else None
    while after is not None and after.children:
        after = after.children[0]
    if after is not None and after.op is not None and getattr(after.op, "inplace", False):
        raise ShapeError(
            f"'{group}.{i}' is overwritten by the next child, {after.op.op} with inplace: true",
            code="E-INPLACE",
            field="in_",
            hint=f"write inplace: false in child {i + 1}, or read another child",
        )
    return children[i].out


def _expanded(child: Any, index: int) -> list[Any]:
    """A block call with several copies counts one child per copy (torchvision's append)."""
    if isinstance(child, Call) and len(child.copy_args()) > 1:
        sets = child.copy_args()
        return [child.model_copy(update={"args": a, "first": {}, "repeat": 1}) for a in sets]
    return [child]


def _infer_child(node: GraphNode, x: TensorType, blocks: Any, index: int) -> TypedNode:
    spec = node.spec
    where = f"group child {index}"
    if getattr(spec, "in_", None) is not None:
        hint = "a group's children read the one before; drop `in:`"
        raise ShapeError(f"{where} has `in:`", field="group", hint=hint)
    if isinstance(spec, Share):
        raise ShapeError(f"{where}: share: cannot sit in a group", field="group")
    if getattr(spec, "tie", None) is not None:
        hint = "tie a module that is a node of its own (a group numbers its children)"
        raise ShapeError(f"{where}: tie: cannot sit in a group", field="group", hint=hint)
    if isinstance(spec, Op) and spec.kind != "module":
        raise ShapeError(
            f"{where}: '{spec.op}' is a function; a group (nn.Sequential) holds modules",
            field="group",
            hint="use the module form (ReLU, not relu; Flatten, not flatten), or move it "
            "out of the group",
        )
    if isinstance(spec, Call) and spec.names is not None:
        hint = "a group numbers its children; drop `names:`, or call the block outside the group"
        message = f"{where}: `names:` cannot name a group's children"
        raise ShapeError(message, field="group", hint=hint)
    if isinstance(spec, Call):
        typed = _infer_call(node, spec, [x], blocks)
        if len(typed.outs) != 1 or len(typed.inner.inputs) != 1:
            raise ShapeError(
                f"{where}: block '{spec.block}' must take one input and give one output "
                "to sit in a group",
                field="group",
            )
        return typed
    name, port = split_ref(node.inputs[0])
    typed = _infer_node(node, {name: TypedNode(node, None, {port or "out": x}, 0)}, blocks)
    if typed.op is not None and not typed.op.fits_sequential():
        raise ShapeError(
            f"{where}: '{typed.op.op}' needs code around its module call, which a group "
            "(nn.Sequential) does not run",
            field="group",
            hint="move it out of the group, or write it so its module does all the work "
            "(LayerNorm with dim: 1 over (N, C, H, W) is torchvision's LayerNorm2d)",
        )
    return typed


def _unify(want: TensorType, got: TensorType, bindings: dict[str, Dim], what: str) -> None:
    if want.rank != got.rank or want.dtype != got.dtype:
        raise ShapeError(
            f"{what} is declared {want} {want.dtype}, got {got} {got.dtype}",
            code="E-DTYPE" if want.rank == got.rank else "E-SHAPE",
            field="in_",
            hint=f"connect a {want.rank}-d {want.dtype} tensor, or change the "
            "block's declared input",
        )
    for w, g in zip(want.shape, got.shape, strict=True):
        if w.symbol is not None and w.symbol not in bindings:
            bindings[w.symbol] = g
        elif w.subs(bindings) != g:
            raise ShapeError(
                f"{what} is declared {want}, got {got}",
                field="in_",
                hint=f"connect a tensor of shape {want}: a size named twice "
                "must be the same size in both places",
            )


def _substitute(t: TensorType, bindings: dict[str, Dim]) -> TensorType:
    return t.subs(bindings)


def _check_arity(op: Op, n: int) -> None:
    low, high = op.arity
    if n < low or (high is not None and n > high):
        want = f"{low}" if low == high else f"{low} or more" if high is None else f"{low} to {high}"
        raise ShapeError(f"{op.op} takes {want} input(s), got {n}", code="E-ARITY", field="in_")


def _check_annotation(spec: Op | Share | Call, out: TensorType) -> None:
    if spec.shape is None:
        return
    want = tuple(Dim.of(d) for d in spec.shape)
    if want != out.shape:
        stated = "(" + ", ".join(map(str, want)) + ")"
        raise ShapeError(
            f"the stated shape {stated} differs from the inferred {out}",
            field="shape",
            hint=f"write shape: [{', '.join(map(str, out.shape))}], or fix the layers before it",
        )


def _check_outputs(graph: TypedGraph, g: Graph) -> list[Problem]:
    problems = []
    for ref in g.outputs:
        name, port = split_ref(ref)
        if port is not None and port not in graph.nodes[name].outs:
            node = graph.nodes[name]
            problems.append(
                Problem(
                    "E-REF",
                    f"'{name}' has no output '{port}'; it has {', '.join(node.outs)}",
                    g.outputs_pos or node.node.pos,
                    name,
                    _port_hint(port, list(node.outs)),
                )
            )
    return problems


def _port_hint(port: str, known: list[str]) -> str:
    close = difflib.get_close_matches(port, known, n=1)
    return f"did you mean '{close[0]}'?" if close else f"refer to one of: {', '.join(known)}"


def _budget(graph: TypedGraph) -> list[Problem]:
    problems = []
    total = graph.total_params
    if total > MAX_PARAMS:
        biggest = max(graph.nodes.values(), key=lambda t: t.params)
        problems.append(
            Problem(
                "E-BUDGET",
                f"the model has {total:,} parameters (limit {MAX_PARAMS:,}; "
                f"about {total * 4 / 1e9:.0f} GB in float32)",
                biggest.node.pos,
                biggest.name,
                hint="check the sizes of the largest layer",
            )
        )
    over: set[str] = set()
    for t in graph.nodes.values():
        big = [d for d in t.out.shape if d.is_static and d.value > MAX_DIM]
        if big:
            over.add(t.name)
        if big and not any(split_ref(ref)[0] in over for ref in t.node.inputs):  # not a cascade
            problems.append(
                Problem("E-BUDGET", f"dimension {big[0]} exceeds {MAX_DIM:,}", t.node.pos, t.name)
            )
    return problems
