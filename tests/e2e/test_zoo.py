"""specs/zoo/: well-known models written as specs, each exact against its reference.

torchvision's resnet18, mobilenet_v2 and vgg11 (weights=None, BatchNorm statistics and affine
parameters randomised) load into the emitted module by name with strict=True and give the same
eval outputs; the GPT's attention is causal and it trains; every zoo spec validates, summarises
and renders.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from graphspec import cli
from graphspec.compiler.pipeline import compile_file

ZOO = Path(__file__).resolve().parents[2] / "specs" / "zoo"
ZOO_SPECS = sorted(ZOO.glob("*.yaml"))


def _randomised(model: torch.nn.Module) -> torch.nn.Module:
    """BatchNorm's statistics and affine parameters made non-trivial, so outputs are not ~0."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)
    return model.eval()


@pytest.mark.parametrize(
    ("spec", "factory", "size"),
    [("resnet18", "resnet18", 64), ("mobilenet_v2", "mobilenet_v2", 64), ("vgg11", "vgg11", 32)],
)
def test_torchvision_state_dict_loads_strict_and_outputs_agree(spec, factory, size):
    import torchvision

    torch.manual_seed(0)
    reference = _randomised(getattr(torchvision.models, factory)(weights=None))
    compiled = compile_file(str(ZOO / f"{spec}.yaml"))
    model = compiled.build().eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    count = sum(p.numel() for p in reference.parameters())
    assert sum(p.numel() for p in model.parameters()) == count == compiled.graph.total_params
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        want, got = reference(x), model(x)
    assert want.abs().mean() > 1e-3  # a real signal, not BatchNorm's zeros
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_resnet_at_any_resolution_has_the_shapes_summary_predicts(capsys):
    compiled = compile_file(str(ZOO / "resnet18.yaml"))
    assert [str(d) for d in compiled.graph.inputs[0].out.shape] == ["N", "3", "H", "W"]
    model = compiled.build().eval()
    for side in (224, 160):
        code = cli.main(
            ["summary", "--json", str(ZOO / "resnet18.yaml"), "--input", f"x=1,3,{side},{side}"]
        )
        assert code == 0
        report = json.loads(capsys.readouterr().out)
        predicted = {n["name"]: [int(d) for d in n["shape"]] for n in report["nodes"]}
        seen: dict[str, list[int]] = {}
        hooks = [
            m.register_forward_hook(
                lambda _m, _i, out, name=name, seen=seen: seen.__setitem__(name, list(out.shape))
            )
            for name, m in model.named_modules()
            if name in predicted
        ]
        with torch.no_grad():
            y = model(torch.randn(1, 3, side, side))
        for h in hooks:
            h.remove()
        assert list(y.shape) == [int(d) for d in report["outputs"]["fc"]] == [1, 1000]
        assert len(seen) > 20  # conv1 ... layer4.1.downsample? and every block's insides
        for name, shape in seen.items():
            assert shape == predicted[name], name
        assert predicted["layer4"] == [1, 512, -(-side // 32), -(-side // 32)]


def test_gpt_attention_is_causal():
    torch.manual_seed(0)
    model = compile_file(str(ZOO / "gpt.yaml")).build().eval()
    idx = torch.randint(0, 256, (2, 16))
    later = idx.clone()
    later[:, 10:] = torch.randint(0, 256, (2, 6))
    with torch.no_grad():
        a, b = model(idx), model(later)
    torch.testing.assert_close(a[:, :10], b[:, :10])
    assert not torch.allclose(a[:, 10:], b[:, 10:])  # the negative control: later ones change


def test_gpt_trains_on_random_token_ids():
    torch.manual_seed(0)
    model = compile_file(str(ZOO / "gpt.yaml")).build().train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    data = torch.randint(0, 256, (8, 33))
    x, y = data[:, :-1], data[:, 1:]  # next-token prediction on a fixed random batch
    losses = []
    for _ in range(30):
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 256), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert abs(losses[0] - torch.log(torch.tensor(256.0)).item()) < 0.5  # starts near chance
    assert losses[-1] < losses[0] - 1.0
    assert model.wte.grad is not None  # one table serves the embedding and the tied head


def test_resnet_spec_is_short_with_one_block():
    text = (ZOO / "resnet18.yaml").read_text()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert len(lines) <= 50
    assert text.count("args: {planes: int") == 1


@pytest.mark.parametrize("spec", ZOO_SPECS, ids=lambda p: p.stem)
def test_zoo_spec_validates_summarises_and_renders(spec, capsys, tmp_path):
    assert cli.main(["validate", str(spec)]) == 0
    assert cli.main(["summary", str(spec)]) == 0
    assert "Total params" in capsys.readouterr().out
    out = tmp_path / f"{spec.stem}.dot"
    assert cli.main(["render", str(spec), "-o", str(out)]) == 0
    assert out.read_text().startswith("digraph")


SHIPPED = sorted((ZOO.parent).glob("*.yaml")) + ZOO_SPECS


def _out_of_place(value):
    """The same spec data with every `inplace: true` made false."""
    if isinstance(value, dict):
        return {k: (False if k == "inplace" else _out_of_place(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_out_of_place(v) for v in value]
    return value


def _example_inputs(compiled) -> list[torch.Tensor]:
    sizes: dict[str, int] = {}
    for t in compiled.graph.inputs:
        for d in t.out.shape:
            for s in d.free_symbols():  # 32 fits VGG's five pools; 8*h gets h = 4
                sizes.setdefault(s, 2 if s == "N" else 4 if d.coeff > 1 else 32)
    xs = []
    for t in compiled.graph.inputs:
        shape = t.out.bind(sizes)
        if t.out.dtype.startswith("int"):
            xs.append(torch.randint(0, 2, shape))
        else:
            xs.append(torch.randn(shape, dtype=getattr(torch, t.out.dtype)))
    return xs


def test_every_spec_equals_its_graph_with_every_op_out_of_place():
    """An in-place op may only ever save memory: the emitted module gives exactly what the same
    graph gives with every op out of place (E-INPLACE refuses the specs where it would not)."""
    from graphspec.compiler.pipeline import compile_document
    from graphspec.language.load import load_file

    changed = 0
    for spec in SHIPPED:
        doc = load_file(spec)
        emitted = compile_document(doc)
        plain = compile_document(doc, _out_of_place(doc.data))
        if emitted.source == plain.source:
            continue  # no in-place op: the same module (and GPT-2's 124M weights not built twice)
        changed += 1
        torch.manual_seed(0)
        a = emitted.build().eval()
        b = plain.build().eval()
        b.load_state_dict(a.state_dict(), strict=True)
        xs = _example_inputs(emitted)
        with torch.no_grad():
            ya, yb = a(*[x.clone() for x in xs]), b(*[x.clone() for x in xs])
        for u, v in zip(
            ya if isinstance(ya, tuple) else (ya,),
            yb if isinstance(yb, tuple) else (yb,),
            strict=True,
        ):
            assert torch.equal(u, v), spec.name
    assert changed >= 4  # resnet18, vgg11, mobilenet_v2, unet, ... do use inplace: true


def test_unet_seq_cnn_and_autoencoder_run_at_the_shapes_inferred():
    cases = {"unet": (1, 3, 64, 40), "seq_cnn": (3, 4, 37), "autoencoder": (2, 1, 28, 28)}
    for name, shape in cases.items():
        compiled = compile_file(str(ZOO / f"{name}.yaml"))
        from graphspec.compiler import summary

        sizes = summary.bind_inputs(compiled.graph, {"": shape})
        want = compiled.graph.outputs[0].out.bind(sizes)
        with torch.no_grad():
            y = compiled.build().eval()(torch.randn(shape))
        assert tuple(y.shape) == want, name
    assert want == (2, 1, 28, 28)  # the autoencoder gives back its input's shape
