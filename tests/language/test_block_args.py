"""Block arguments, `if:`, per-copy arguments, groups, input sizes in fields, in-place refusal
and every block's errors at once: the language of issue 10, through the real pipeline."""

from __future__ import annotations

import textwrap

import pytest
import torch

from graphspec.compiler.pipeline import compile_document
from graphspec.core.errors import SpecError
from graphspec.language.load import load_text


def compile_text(text: str):
    return compile_document(load_text(textwrap.dedent(text), "t.yaml"))


def problems(text: str) -> list:
    with pytest.raises(SpecError) as err:
        compile_text(text)
    return err.value.problems


RES = """\
name: res
blocks:
  Res:
    args: {planes: int, stride: 1}
    inputs: {x: [N, C, H, W]}
    layers:
      conv: {op: Conv2d, out_channels: planes, kernel_size: 3, stride: stride, padding: 1}
      act: relu
      down:
        if: stride != 1 or C != planes
        in: x
        group:
          - {op: Conv2d, out_channels: planes, kernel_size: 1, stride: stride}
          - BatchNorm2d
      add: {op: add, in: [act, down]}
model:
  inputs: {x: [N, 8, H, W]}
  layers:
    same: {block: Res, args: {planes: 8}}
    stage: {block: Res, args: {planes: 16}, first: {stride: 2}, repeat: 3}
    listed: {block: Res, args: [{planes: 32, stride: 2}, {planes: 32}]}
"""


def test_arguments_conditions_and_copies_type_and_run():
    c = compile_text(RES)
    out = c.graph.outputs[0].out
    assert str(out) == "(N, 32, (H + 3)//4, (W + 3)//4)"
    classes = sorted(g.class_name for g in c.graph.nodes["stage"].copies)
    assert classes == ["Res_C16_planes16_stride1"] * 2 + ["Res_C8_planes16_stride2"]
    assert "down" not in c.graph.nodes["same"].inner.nodes  # if: false drops the node
    assert "down" in c.graph.nodes["stage"].copies[0].nodes
    model = c.build().eval()
    for h, w in ((9, 12), (16, 16)):
        y = model(torch.randn(2, 8, h, w))
        assert tuple(y.shape) == out.bind({"N": 2, "H": h, "W": w})
    keys = model.state_dict().keys()
    assert "stage.0.down.0.weight" in keys and "stage.0.down.1.running_mean" in keys
    assert "stage.1.down.0.weight" not in keys and "listed.1.conv.weight" in keys
    params = sum(p.numel() for p in model.parameters())
    assert params == c.graph.total_params


def test_dropped_node_passes_its_first_input_to_readers():
    model = compile_text(RES).build().eval()
    x = torch.randn(1, 8, 5, 5)
    same = model.same
    expected = torch.relu(same.conv(x)) + x  # no `down`: add reads `x`
    assert torch.equal(same(x), expected)


def test_shape_symbols_in_field_arithmetic():
    c = compile_text(
        """\
        name: widths
        constants: {heads: 4}
        blocks:
          Wide:
            inputs: {x: [N, L, C]}
            layers:
              up: {op: Linear, out_features: C * 2}
              split: {op: view, size: [N, L, heads, C * 2 // heads]}
        model:
          inputs: {x: [N, L, 12]}
          layers:
            a: {block: Wide}
            flat: {op: flatten, start_dim: 2}
            b: {block: Wide}
        """
    )
    assert str(c.graph.outputs[0].out) == "(N, L, 4, 12)"
    assert [n.inner.class_name for n in (c.graph.nodes["a"], c.graph.nodes["b"])] == [
        "Wide_C12",
        "Wide_C24",
    ]


def test_a_size_used_in_fields_must_be_concrete_at_the_call():
    found = problems(
        """\
        name: t
        blocks:
          Wide:
            inputs: {x: [N, C]}
            layers:
              up: {op: Linear, in_features: C, out_features: C * 2}
        model:
          inputs: {x: [N, D]}
          layers:
            a: {block: Wide}
        """
    )
    assert [p.code for p in found] == ["E-SHAPE"]
    assert "uses its input size 'C'" in found[0].message and "gives 'D'" in found[0].message


def test_argument_errors_name_the_call():
    base = RES.replace(
        "    listed: {block: Res, args: [{planes: 32, stride: 2}, {planes: 32}]}\n", ""
    )
    found = problems(base.replace("args: {planes: 8}", "args: {planes: 8, strde: 2}"))
    assert found[0].code == "E-REF" and "no argument 'strde'" in found[0].message
    assert found[0].hint == "did you mean 'stride'?" and found[0].node == "same"
    found = problems(base.replace("args: {planes: 8}", "args: {}"))
    assert found[0].code == "E-MISSING" and "needs the argument 'planes'" in found[0].message
    found = problems(base.replace("args: {planes: 8}", "args: {planes: 2.5}"))
    assert found[0].code == "E-TYPE"
    found = problems(
        base.replace("if: stride != 1 or C != planes", "if: stride != 1 or C != plane")
    )
    assert found[0].code == "E-REF" and found[0].hint == "did you mean 'planes'?"
    assert (found[0].pos.line, found[0].pos.col, found[0].node) == (10, 33, "Res.down")


def test_errors_in_two_blocks_are_all_reported():
    found = problems(
        """\
        name: two
        blocks:
          A:
            inputs: {x: [N, 4]}
            layers:
              fc: {op: Linear, in_features: 5, out_features: 4}
          B:
            inputs: {x: [N, 4]}
            layers:
              fc: {op: Linear, in_features: 6, out_features: 4}
        model:
          inputs: {x: [N, 4]}
          layers:
            a: {block: A}
            b: {block: B, in: x}
            s: {op: add, in: [a, b]}
            bad: {op: Linear, in_features: 7, out_features: 4, in: x}
          outputs: [s, bad]
        """
    )
    assert sorted((p.node, p.pos.line) for p in found) == [
        ("A.fc", 6),
        ("B.fc", 10),
        ("bad", 17),
    ]


def test_inplace_op_whose_input_is_read_elsewhere_is_refused():
    found = problems(
        """\
        name: inpl
        model:
          inputs: {x: [N, 4]}
          layers:
            fc: {op: Linear, out_features: 4}
            r: {op: ReLU, inplace: true}
            s: {op: add, in: [fc, r]}
        """
    )
    assert [p.code for p in found] == ["E-INPLACE"]
    assert found[0].node == "r" and "'s' also reads" in found[0].message
    # through a view, too: `v` shares fc's storage
    found = problems(
        """\
        name: inpl
        model:
          inputs: {x: [N, 4]}
          layers:
            fc: {op: Linear, out_features: 4}
            v: {op: view, size: [-1, 2, 2]}
            r: {op: ReLU, inplace: true}
            f: {op: flatten, start_dim: 1}
            s: {op: add, in: [fc, f]}
        """
    )
    assert [p.code for p in found] == ["E-INPLACE"] and "'s' also reads" in found[0].message
    # a chain where the in-place op is its input's only reader is fine
    compile_text(
        """\
        name: ok
        model:
          inputs: {x: [N, 4]}
          layers:
            fc: {op: Linear, out_features: 4}
            r: {op: ReLU, inplace: true}
        """
    )


def test_group_children_are_modules_and_numbered():
    found = problems(
        """\
        name: g
        model:
          inputs: {x: [N, 4]}
          layers:
            seq:
              group: [{op: Linear, out_features: 4}, relu]
        """
    )
    assert "is a function" in found[0].message and "ReLU, not relu" in found[0].hint
    c = compile_text(
        """\
        name: g
        constants: {depth: 1}
        model:
          inputs: {x: [N, 4]}
          layers:
            seq:
              group:
                - {op: Linear, out_features: 8}
                - {op: Linear, out_features: 8, if: depth > 1}
                - ReLU
                - {group: [{op: Linear, out_features: 2}, Sigmoid]}
        """
    )
    keys = list(c.build().state_dict())
    assert keys == ["seq.0.weight", "seq.0.bias", "seq.2.0.weight", "seq.2.0.bias"]


def test_an_equality_that_cannot_be_proven_shows_both_expressions():
    found = problems(
        """\
        name: skip
        blocks:
          Up:
            inputs: {x: [N, C, H, W], skip: [N, S, H2, W2]}
            layers:
              up: {op: ConvTranspose2d, out_channels: 4, kernel_size: 2, stride: 2, in: x}
              cat: {op: cat, dim: 1, in: [skip, up]}
        model:
          inputs: {x: [N, 8, H, W], s: [N, 4, 2*H, 2*W]}
          layers:
            up: {block: Up, in: {x: x, skip: s}}
        """
    )
    assert "(N, 4, H2, W2)" in found[0].message and "(N, 4, 2*H, 2*W)" in found[0].message
    # stated as the block needs it, the same call is proven
    fixed = compile_text(
        """\
        name: skip
        blocks:
          Up:
            inputs: {x: [N, C, H, W], skip: [N, S, 2*H, 2*W]}
            layers:
              up: {op: ConvTranspose2d, out_channels: 4, kernel_size: 2, stride: 2, in: x}
              cat: {op: cat, dim: 1, in: [skip, up]}
        model:
          inputs: {x: [N, 8, H, W], s: [N, 4, 2*H, 2*W]}
          layers:
            up: {block: Up, in: {x: x, skip: s}}
        """
    )
    assert str(fixed.graph.outputs[0].out) == "(N, 8, 2*H, 2*W)"


def test_summary_input_sizes_are_checked(tmp_path, capsys):
    from graphspec import cli

    spec = tmp_path / "res.yaml"
    spec.write_text(RES)
    assert cli.main(["summary", str(spec), "--input", "x=2,8,20,12"]) == 0
    assert "(2, 32, 5, 3)" in capsys.readouterr().out
    assert cli.main(["summary", str(spec), "--input", "x=2,3,20,12"]) == 2
    assert "does not fit the declared (N, 8, H, W)" in capsys.readouterr().err
    assert cli.main(["summary", str(spec), "--input", "y=2,8,20,12"]) == 2
    assert "no input 'y'" in capsys.readouterr().err
    assert cli.main(["summary", str(spec), "--input", "x=2,8,a"]) == 2
    assert "positive integers" in capsys.readouterr().err


def test_a_size_expression_in_a_shape_is_checked():
    found = problems(
        """\
        name: t
        model:
          inputs: {x: [N, 2**h]}
          layers:
            fc: {op: Linear, out_features: 2}
        """
    )
    assert found and found[0].pos.line == 3
