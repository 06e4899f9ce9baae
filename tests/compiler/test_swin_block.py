"""A shifted-window attention block (Swin) written as a spec, against torchvision's own
SwinTransformerBlock: pad to whole windows, `roll`, window partition (view/permute), a
relative position bias read from a learned table through a saved index (a persistent buffer
computed from the window size), an attention mask built from the padded H and W (a
non-persistent buffer of region ids, compared with `ne`), and the reverse. The module loads
torchvision's state_dict by name with strict=True (the index buffer included) and gives its
outputs; the buffers and the comparison ops are each checked against torch on their own.
"""

from __future__ import annotations

import re

import pytest
import torch

from graphspec.compiler.pipeline import compile_text
from graphspec.core.errors import SpecError

# dim 32, 2 heads, 4x4 windows shifted by 2, over a 6x6 map padded to 8x8 (2x2 windows)
SPEC = """\
name: swin_block
constants: {ws: 4, shift: 2, side: 8, nw: 2}   # window, shift, padded side, windows per side
blocks:
  ShiftedWindowAttention:         # torchvision.models.swin_transformer.ShiftedWindowAttention
    inputs: {x: [N, 6, 6, 32]}
    params:
      relative_position_bias_table: {shape: [49, 2], init: {fn: normal, std: 0.02}}
    buffers:
      relative_position_index:    # (ws*ws)^2 pairs of window positions -> row of the table
        shape: [256]
        dtype: int64
        value: "(i // 16 // ws - i % 16 // ws + ws - 1) * (2 * ws - 1) + i // 16 % ws - i % 16 % ws + ws - 1"
      region:                     # which of the 3x3 shifted regions each window position is in
        shape: [4, 16]
        dtype: int64
        persistent: false
        value: "3 * (clamp(i // nw * ws + j // ws - (side - ws) + 1, 0, 1) + clamp(i // nw * ws + j // ws - (side - shift) + 1, 0, 1)) + clamp(i % nw * ws + j % ws - (side - ws) + 1, 0, 1) + clamp(i % nw * ws + j % ws - (side - shift) + 1, 0, 1)"
    layers:
      padded: {op: pad, pad: [0, 0, 0, 2, 0, 2], in: x}
      shifted: {op: roll, shifts: [-2, -2], dims: [1, 2]}
      grid: {op: view, size: [N, 2, 4, 2, 4, 32]}
      windows: {op: permute, dims: [0, 1, 3, 2, 4, 5]}
      tokens: {op: reshape, size: [-1, 16, 32]}
      qkv: {op: Linear, out_features: 96}
      heads: {op: reshape, size: [-1, 16, 3, 2, 16]}
      split: {op: permute, dims: [2, 0, 3, 1, 4]}
      qkv3: {op: chunk, chunks: 3, dim: 0}
      q: {op: mul, other: 0.25, in: qkv3.out0}
      kt: {op: transpose, dim0: -2, dim1: -1, in: qkv3.out1}
      scores: {op: matmul, in: [q, kt]}
      table: {op: embedding, in: [relative_position_index, relative_position_bias_table]}
      bias_nn: {op: view, size: [16, 16, 2]}
      bias: {op: permute, dims: [2, 0, 1]}
      biased: {op: add, in: [scores, bias]}
      per_window: {op: view, size: [-1, 4, 2, 16, 16], in: biased}
      col: {op: unsqueeze, dim: 1, in: region}
      row: {op: unsqueeze, dim: 2, in: region}
      across: {op: ne, in: [col, row]}
      mask: {op: mul, other: -100.0}
      mask_heads: {op: unsqueeze, dim: 1}
      masked: {op: add, in: [per_window, mask_heads]}
      flat: {op: view, size: [-1, 2, 16, 16]}
      weights: {op: softmax, dim: -1}
      mixed: {op: matmul, in: [weights, qkv3.out2]}
      by_token: {op: transpose, dim0: 2, dim1: 3}
      merged: {op: reshape, size: [-1, 16, 32]}
      proj: {op: Linear, out_features: 32}
      back_grid: {op: view, size: [-1, 2, 2, 4, 4, 32]}
      back: {op: permute, dims: [0, 1, 3, 2, 4, 5]}
      image: {op: reshape, size: [N, 8, 8, 32]}
      unshifted: {op: roll, shifts: [2, 2], dims: [1, 2]}
      out: {op: pad, pad: [0, 0, 0, -2, 0, -2]}
model:
  class: SwinBlock
  inputs: {x: [N, 6, 6, 32]}
  layers:
    norm1: {op: LayerNorm, eps: 1.0e-5}
    attn: {block: ShiftedWindowAttention}
    stochastic_depth: {op: StochasticDepth, p: 0.1, mode: row}
    res1: {op: add, in: [x, stochastic_depth]}
    norm2: LayerNorm
    mlp:
      group: [{op: Linear, out_features: 128}, GELU, {op: Dropout, p: 0.0}, {op: Linear, out_features: 32}, {op: Dropout, p: 0.0}]
    mlp_depth: {share: stochastic_depth}
    res2: {op: add, in: [res1, mlp_depth]}
"""  # noqa: E501 - the buffers' values and the MLP group read best on one line each


def _reference():
    from torchvision.models.swin_transformer import SwinTransformerBlock

    torch.manual_seed(0)
    block = SwinTransformerBlock(32, 2, [4, 4], [2, 2], stochastic_depth_prob=0.1)
    with torch.no_grad():
        for p in block.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # norms and biases away from their init
    return block.eval()


def test_the_spec_loads_torchvisions_swin_block_and_gives_its_outputs():
    reference = _reference()
    compiled = compile_text(SPEC)
    model = compiled.build().eval()
    state = reference.state_dict()
    assert "attn.relative_position_index" in state  # a buffer, saved and loaded by name
    model.load_state_dict(state, strict=True)
    assert "attn.region" not in model.state_dict()  # the non-persistent buffer
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in reference.parameters()
    )
    x = torch.randn(3, 6, 6, 32)
    with torch.no_grad():
        want, got = reference(x), model(x)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    # negative control: without the mask the outputs differ (the shift wraps regions around)
    with torch.no_grad():
        model.attn.region.zero_()
        assert not torch.allclose(model(x), want, atol=1e-3)


def test_the_buffers_are_torchvisions_index_and_mask():
    from torchvision.models.swin_transformer import ShiftedWindowAttention

    attn = ShiftedWindowAttention(32, [4, 4], [2, 2], 2)
    model = compile_text(SPEC).build()
    assert torch.equal(model.attn.relative_position_index, attn.relative_position_index)
    # the mask torchvision builds in forward, from slices of the padded 8x8 map
    marks = torch.zeros(8, 8)
    count = 0
    for h in ((0, -4), (-4, -2), (-2, None)):
        for w in ((0, -4), (-4, -2), (-2, None)):
            marks[h[0] : h[1], w[0] : w[1]] = count
            count += 1
    marks = marks.view(2, 4, 2, 4).permute(0, 2, 1, 3).reshape(4, 16)
    assert torch.equal(model.attn.region.float(), marks)


def test_its_static_cost_is_what_torch_measures():
    """Parameters, buffers (the non-persistent mask too), MACs and saved bytes of a step."""
    from helpers.cost_oracle import inputs_for, measure

    from graphspec.compiler.cost import cost_of

    compiled = compile_text(SPEC)
    model = compiled.build()
    static = cost_of(compiled.graph, {"N": 2})
    assert static.total("params") == sum(p.numel() for p in model.parameters())
    assert static.total("buffers") == sum(b.numel() for b in model.buffers()) == 256 + 64
    torch.manual_seed(0)
    flops, saved = measure(model, inputs_for(compiled.graph, static.sizes))
    assert (2 * static.total("macs"), static.activation_bytes) == (flops, saved)


def test_summary_lists_the_buffers_as_buffers():
    from graphspec.compiler.summary import as_dict

    compiled = compile_text(SPEC)
    rows = {n["name"]: n for n in as_dict(compiled.graph, "swin")["nodes"]}
    assert rows["attn.relative_position_index"]["op"] == "buffer"
    assert rows["attn.relative_position_index"]["dtype"] == "int64"
    assert rows["attn.relative_position_bias_table"]["op"] == "param"


def test_it_trains():
    model = compile_text(SPEC).build().train()
    loss = model(torch.randn(2, 6, 6, 32)).square().mean()
    loss.backward()
    assert model.attn.relative_position_bias_table.grad.abs().sum() > 0
    assert not model.attn.relative_position_index.requires_grad


def test_a_buffer_value_is_checked_where_it_is_written():
    """A value naming no index, a buffer of rank 5 and an unknown name are refused, pointing
    at the buffer; torch never sees them."""
    cases = [
        (re.sub(r'value: "\(i // 16.*"', 'value: "ws * 2"', SPEC), "names no index"),
        (SPEC.replace("shape: [256]", "shape: [256, 1, 1, 1, 1]"), "at most 4 dims"),
        (SPEC.replace('value: "(i // 16', 'value: "(q // 16'), "unknown name 'q'"),
    ]
    for text, message in cases:
        with pytest.raises(SpecError, match=message) as err:
            compile_text(text)
        assert 8 <= err.value.problems[0].pos.line <= 18  # in the block's buffers


def test_a_block_buffer_uses_the_calls_arguments_and_sizes():
    """Each specialization builds its own buffer: `i % ws` over the input's length L."""
    spec = """\
name: bufarg
blocks:
  B:
    args: {ws: int}
    inputs: {x: [N, L]}
    buffers:
      r: {shape: [L], value: "i % ws"}
    layers:
      y: {op: expr, expr: "x + r"}
model:
  inputs: {x: [N, 6]}
  layers:
    a: {block: B, args: {ws: 2}}
    b: {block: B, args: {ws: 3}, in: a}
"""
    model = compile_text(spec).build()
    assert model.a.r.tolist() == [0, 1, 0, 1, 0, 1]
    assert model.b.r.tolist() == [0, 1, 2, 0, 1, 2]
    assert torch.equal(model(torch.zeros(1, 6)), (model.a.r + model.b.r).unsqueeze(0))


def test_an_in_place_write_into_a_buffer_is_refused():
    spec = """\
name: bufip
model:
  inputs: {x: [N, 4]}
  buffers:
    b: {shape: [4], init: ones}
  layers:
    r: {op: ReLU, inplace: true, in: b}
    y: {op: add, in: [x, r]}
"""
    with pytest.raises(SpecError, match="E-INPLACE.*the buffer 'b' that the module keeps"):
        compile_text(spec)
    compile_text(spec.replace("inplace: true", "inplace: false"))  # the control
