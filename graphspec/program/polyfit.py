"""The polynomial fits' closing report: the seed's `Result: y = ...` line and the coefficients
beside the target's Taylor coefficients and the least-squares optimum (seed section 4).

The report is given only to a model that is, by construction, a polynomial in its one input with
its learnable scalars as coefficients: a single `expr` layer that is a sum of `p`, `p*x` or
`p*x**k` terms (k a non-negative integer literal, either factor order), each param used exactly
once, the powers all different, trained with MSELoss on `linspace` data. Its prediction is then
linear in the params, so the lowest possible MSE on the run's own points is a linear
least-squares problem, solved exactly (float64 `torch.linalg.lstsq` over the columns x**k).
Anything else (other terms, a subtraction, a constant factor, a second layer) gets no report
rather than a wrong one.

`detect` reads only the spec (no torch: `emit --train` uses it). `compare` runs in `graphspec
run` and is copied verbatim into the script `emit --train` writes, so both print the same lines.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any

#: target -> the Taylor coefficient of x**k at 0, for the targets whose series is known here.
_SERIES = {
    "sin(x)": lambda k: (-1) ** (k // 2) / math.factorial(k) if k % 2 else 0.0,
    "cos(x)": lambda k: 0.0 if k % 2 else (-1) ** (k // 2) / math.factorial(k),
    "exp(x)": lambda k: 1 / math.factorial(k),
}


@dataclass(frozen=True)
class Polynomial:
    """`a*x + b*x**3`: terms (("a", 1), ("b", 3)) over the input `x`, fitted to `target`."""

    variable: str
    terms: tuple[tuple[str, int], ...]
    target: str

    def taylor(self) -> list[tuple[str, float]] | None:
        """(label, coefficient) per term, e.g. ("-1/3!", -0.1667); None for other targets."""
        series = _SERIES.get(self.target.replace(" ", ""))
        if series is None:
            return None
        out = []
        for _, k in self.terms:
            value = series(k)
            label = "0" if value == 0 else f"{'-' if value < 0 else ''}1/{k}!"
            out.append((label, value))
        return out


def detect(spec: Any) -> Polynomial | None:
    """The spec's model as a polynomial in its input, or None when it is not one."""
    model, data = spec.model, spec.data
    if data is None or not data.fit or getattr(data, "target", None) is None:
        return None
    if spec.loss is None or spec.loss.op != "MSELoss" or len(model.inputs) != 1:
        return None
    if len(model.layers) != 1 or any(p.shape for p in model.params.values()):
        return None
    (name, layer), (variable,) = next(iter(model.layers.items())), list(model.inputs)
    if getattr(layer, "op", None) != "expr" or model.output_names != [name]:
        return None
    terms = _terms(ast.parse(layer.expr.strip(), mode="eval").body, variable, set(model.params))
    if terms is None or sorted(p for p, _ in terms) != sorted(model.params):
        return None
    if len({k for _, k in terms}) != len(terms):
        return None
    return Polynomial(variable, tuple(terms), data.target)


def _terms(node: ast.expr, variable: str, params: set[str]) -> list[tuple[str, int]] | None:
    """`a*x + b*x**3` -> [("a", 1), ("b", 3)]; None for anything else."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _terms(node.left, variable, params), _terms(node.right, variable, params)
        return None if left is None or right is None else left + right
    term = _term(node, variable, params)
    return None if term is None else [term]


def _term(node: ast.expr, variable: str, params: set[str]) -> tuple[str, int] | None:
    if isinstance(node, ast.Name) and node.id in params:
        return node.id, 0
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)):
        return None
    for coeff, factor in ((node.left, node.right), (node.right, node.left)):
        if isinstance(coeff, ast.Name) and coeff.id in params:
            power = _power(factor, variable)
            if power is not None:
                return coeff.id, power
    return None


def _power(node: ast.expr, variable: str) -> int | None:
    """`x` -> 1, `x**k` -> k (a non-negative integer literal)."""
    if isinstance(node, ast.Name) and node.id == variable:
        return 1
    if (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Pow)
        and isinstance(node.left, ast.Name)
        and node.left.id == variable
        and isinstance(node.right, ast.Constant)
        and type(node.right.value) is int
        and node.right.value >= 0
    ):
        return node.right.value
    return None


def compare(x, y, learned, terms, taylor, target):
    """The seed's Result line, then learned / Taylor / least-squares coefficients and their MSE.

    x, y: the run's points; learned: {param: value}; terms: [(param, power)]; taylor:
    [(label, value)] or None. Plain torch only: `emit --train` copies this function's source.
    """
    import torch  # here, not at the top: `graphspec emit` imports this module without torch

    def power(k):
        return "" if k == 0 else " x" if k == 1 else f" x^{k}"

    x64, y64 = x.double().reshape(-1), y.double().reshape(-1)
    features = torch.stack([x64**k for _, k in terms], dim=1)
    best = torch.linalg.lstsq(features, y64.unsqueeze(1)).solution.reshape(-1).tolist()

    def mse(coefficients):
        return (features @ torch.tensor(coefficients, dtype=torch.float64) - y64).pow(2).mean()

    columns = {"learned": [learned[name] for name, _ in terms]}
    if taylor is not None:
        columns[f"Taylor of {target}"] = [value for _, value in taylor]
    columns["least squares"] = best
    errors = {title: mse(values).item() for title, values in columns.items()}
    rows = [["", *columns], *([name + power(k)] for name, k in terms), ["MSE"]]
    for title, values in columns.items():
        for i, value in enumerate(values):
            cell = f"{value:.6g}"
            rows[i + 1].append(f"{taylor[i][0]} = {cell}" if title.startswith("Taylor") else cell)
        rows[-1].append(f"{errors[title]:.6g}")
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "Result: y = " + " + ".join(f"{learned[name]}{power(k)}" for name, k in terms),
        *(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        ),
        f"learned MSE / least-squares optimum: {errors['learned'] / errors['least squares']:.6g}"
        f" (float64 over the {len(x64)} points; optimum by torch.linalg.lstsq)",
    ]
