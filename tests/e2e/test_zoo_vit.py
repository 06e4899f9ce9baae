"""specs/zoo/vit_b_16.yaml is torchvision's ViT-B/16, its class token a `[1, 1, 768]` param
expanded to the model's own batch size (`{op: expand, size: [N, -1, -1]}`).

The default run checks the full-size model without building it (parameter count, every
state_dict key and shape against torchvision's, built on the meta device) and the whole path --
strict load, equal eval outputs at two batch sizes -- on the same spec at a small width; the
full-size equal-output check is a soak.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from helpers.runhelp import compile_with_constants

from graphspec.compiler.state import state_table

SPEC = Path(__file__).resolve().parents[2] / "specs" / "zoo" / "vit_b_16.yaml"
SMALL = {"hidden": 32, "heads": 4, "mlp_dim": 64, "image": 32, "classes": 10}


def _compiled(constants: dict | None = None):
    return compile_with_constants(SPEC, constants)


def _reference(small: bool):
    from torchvision.models import vision_transformer as vt

    if not small:
        return vt.vit_b_16(weights=None)
    return vt.VisionTransformer(
        image_size=32, patch_size=16, num_layers=12, num_heads=4, hidden_dim=32, mlp_dim=64,
        num_classes=10,
    )  # fmt: skip


def _randomised(model: torch.nn.Module) -> torch.nn.Module:
    """torchvision starts the class token and the head at zero: make every weight count."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in ("class_token", "heads.head.weight", "heads.head.bias") or "ln" in name:
                p.add_(torch.randn(p.shape, generator=g) * 0.1)
    return model.eval()


def _agree(small: bool, batches: tuple[int, ...]) -> float:
    torch.manual_seed(0)
    reference = _randomised(_reference(small))
    model = _compiled(SMALL if small else None).build().eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    side = 32 if small else 224
    worst = 0.0
    for n in batches:
        x = torch.randn(n, 3, side, side, generator=torch.Generator().manual_seed(n))
        with torch.no_grad():
            want, got = reference(x), model(x)
        assert got.shape == (n, 10 if small else 1000)
        assert want.abs().mean() > 1e-3
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
        worst = max(worst, (got - want).abs().max().item())
    return worst


def test_full_size_vit_b_16_has_torchvisions_parameters_keys_and_shapes():
    with torch.device("meta"):
        reference = _reference(small=False)
    compiled = _compiled()
    count = sum(p.numel() for p in reference.parameters())
    assert count == compiled.graph.total_params == 86_567_656
    want = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert {k: e.shape for k, e in state_table(compiled.graph).items()} == want


def test_small_vit_loads_torchvisions_state_dict_strict_and_outputs_agree_at_any_batch():
    _agree(small=True, batches=(1, 3))


def test_the_class_token_follows_the_batch_size_read_off_the_input():
    source = _compiled(SMALL).source
    assert "self.class_token.expand(x.size(0), -1, -1)" in source


@pytest.mark.soak
def test_full_size_vit_b_16_outputs_agree_with_torchvision():
    start = time.perf_counter()
    worst = _agree(small=False, batches=(1, 2))
    print(f"vit_b_16 full size: max |diff| {worst:.2e}, {time.perf_counter() - start:.1f} s")
