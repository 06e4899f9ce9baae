"""Checks of the hand-written seed programs (tests/helpers/seed_programs.py) against the seed's
own claims and against torch itself. graphspec is compared against these references
elsewhere; here the references are checked, so that a wrong oracle cannot pass
silently."""

from __future__ import annotations

import math
from typing import ClassVar

import pytest
import torch
import torch.nn.functional as F
from helpers import seed_programs as sp
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.data import DataLoader, TensorDataset

# ------------------------------------------------------------------------------
# 2.1 LeNet
# ------------------------------------------------------------------------------


def test_lenet_print_equals_seed():
    assert str(sp.LeNet()) == sp.LENET_PRINT
    assert repr(sp.LeNet()).startswith("Net(\n")


def test_lenet_parameters_as_seed():
    net = sp.LeNet()
    params = list(net.parameters())
    assert len(params) == 10
    assert params[0].size() == torch.Size([6, 1, 5, 5])  # conv1's .weight
    assert sum(p.numel() for p in params) == 61706
    assert [k for k in net.state_dict()] == [
        f"{layer}.{kind}"
        for layer in ("conv1", "conv2", "fc1", "fc2", "fc3")
        for kind in ("weight", "bias")
    ]


class _ShapeRecorder(TorchFunctionMode):
    """Records the shape of what each watched function returns, in call order."""

    WATCH: ClassVar = {F.max_pool2d, torch.flatten, F.relu, F.linear}

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func in self.WATCH:
            self.calls.append((func, tuple(out.shape)))
        return out


def test_lenet_printed_shapes():
    """The six shapes the seed's forward prints, seen in the reference's forward."""
    net = sp.LeNet()
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad(), _ShapeRecorder() as rec:
        out = net(x)
    calls = rec.calls
    pools = [s for f, s in calls if f is F.max_pool2d]
    flats = [s for f, s in calls if f is torch.flatten]
    relus_after_linear = [
        calls[i][1]
        for i in range(1, len(calls))
        if calls[i][0] is F.relu and calls[i - 1][0] is F.linear
    ]
    linears = [s for f, s in calls if f is F.linear]
    printed = [*pools, *flats, *relus_after_linear, linears[-1]]
    assert printed == [
        (1, 6, 14, 14),
        (1, 16, 5, 5),
        (1, 400),
        (1, 120),
        (1, 84),
        (1, 10),
    ]
    assert tuple(out.shape) == (1, 10)


def test_lenet_forward_matches_manual_recomputation():
    torch.manual_seed(1)
    net = sp.LeNet()
    x = torch.randn(3, 1, 32, 32)
    h = F.max_pool2d(F.relu(F.conv2d(x, net.conv1.weight, net.conv1.bias)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, net.conv2.weight, net.conv2.bias)), 2)
    h = h.reshape(3, -1)
    h = F.relu(h @ net.fc1.weight.T + net.fc1.bias)
    h = F.relu(h @ net.fc2.weight.T + net.fc2.bias)
    h = h @ net.fc3.weight.T + net.fc3.bias
    torch.testing.assert_close(net(x), h)


def test_lenet_step_is_one_sgd_step():
    torch.manual_seed(0)
    net = sp.LeNet()
    x = torch.randn(1, 1, 32, 32)
    target = torch.randn(10)  # as the seed draws it; lenet_step views it as (1, 10)
    before = {k: v.clone() for k, v in net.state_dict().items()}

    # The seed's "without an optimizer" version: manual f -= lr * grad.
    manual = sp.LeNet()
    manual.load_state_dict(before)
    loss = F.mse_loss(manual(x), target.view(1, -1))
    manual.zero_grad()
    loss.backward()
    with torch.no_grad():
        for f in manual.parameters():
            f.sub_(f.grad * 0.01)

    losses = sp.lenet_step(net, x, target, lr=0.01)
    assert len(losses) == 1 and isinstance(losses[0], float)
    assert losses[0] == pytest.approx(loss.item(), rel=1e-6)
    for k, v in net.state_dict().items():
        assert not torch.equal(v, before[k]), k  # every tensor moved
        torch.testing.assert_close(v, manual.state_dict()[k])


# ------------------------------------------------------------------------------
# 2.2 CIFAR-10 net
# ------------------------------------------------------------------------------


def test_cifar_net_print_and_forward():
    net = sp.CifarNet()
    text = str(net)
    assert text.startswith("Net(\n")
    assert text.count("MaxPool2d") == 1
    assert (
        "(pool): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)" in text
    )
    assert "(conv1): Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1))" in text
    assert list(dict(net.named_children())) == [
        "conv1",
        "pool",
        "conv2",
        "fc1",
        "fc2",
        "fc3",
    ]
    assert sum(p.numel() for p in net.parameters()) == 62006
    out = net(torch.randn(4, 3, 32, 32))
    assert out.shape == (4, 10)


def _tiny_cifar(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, 32, 32, generator=g) * 2 - 1  # the tutorial's Normalize range
    labels = torch.randint(0, 10, (n,), generator=g)
    return TensorDataset(images, labels)


def test_cifar_train_logs_running_loss():
    torch.manual_seed(0)
    net = sp.CifarNet()
    before = [p.detach().clone() for p in net.parameters()]
    loader = DataLoader(_tiny_cifar(20), batch_size=4, shuffle=False)  # 5 batches per epoch
    lines = []
    logged = sp.cifar_train(net, loader, epochs=2, log_every=2, print_fn=lines.append)
    # i = 1 and i = 3 of each epoch; the fifth batch is never reported.
    assert len(logged) == 4
    assert all(isinstance(v, float) and math.isfinite(v) for v in logged)
    # random labels on 10 classes: the running loss is close to ln 10
    assert all(1.5 < v < 3.5 for v in logged)
    assert lines[0] == f"[1,     2] loss: {logged[0]:.3f}"
    assert lines[-2] == f"[2,     4] loss: {logged[-1]:.3f}"
    assert lines[-1] == "Finished Training"
    assert all(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_cifar_train_running_loss_is_mean_of_batch_losses():
    """Replays the tutorial loop by hand (same weights, same batches), one log."""
    torch.manual_seed(0)
    net = sp.CifarNet()
    copy = sp.CifarNet()
    copy.load_state_dict(net.state_dict())
    data = _tiny_cifar(12)
    loader = DataLoader(data, batch_size=4, shuffle=False)
    logged = sp.cifar_train(net, loader, epochs=1, log_every=3)

    opt = torch.optim.SGD(copy.parameters(), lr=0.001, momentum=0.9)
    batch_losses = []
    for inputs, labels in DataLoader(data, batch_size=4, shuffle=False):
        opt.zero_grad()
        loss = F.cross_entropy(copy(inputs), labels)
        loss.backward()
        opt.step()
        batch_losses.append(loss.item())
    assert logged == pytest.approx([sum(batch_losses) / 3], rel=1e-5)


def test_cifar_train_learns_a_tiny_set():
    torch.manual_seed(0)
    net = sp.CifarNet()
    data = _tiny_cifar(8, seed=1)
    loader = DataLoader(data, batch_size=4, shuffle=False)
    logged = sp.cifar_train(net, loader, epochs=60, lr=0.01, log_every=2)
    assert logged[-1] < 0.5 * logged[0]
    accuracy, _ = sp.cifar_evaluate(net, loader, sp.CIFAR_CLASSES)
    assert accuracy >= 75.0


class _Constant(nn.Module):
    def __init__(self, cls):
        super().__init__()
        self.cls = cls

    def forward(self, x):
        logits = torch.zeros(x.size(0), 10)
        logits[:, self.cls] = 1.0
        return logits


def test_cifar_evaluate_accuracy_and_per_class():
    images = torch.zeros(10, 3, 32, 32)
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])
    loader = DataLoader(TensorDataset(images, labels), batch_size=4)
    accuracy, per_class = sp.cifar_evaluate(_Constant(3), loader, sp.CIFAR_CLASSES)
    assert accuracy == pytest.approx(40.0)
    assert per_class == {"plane": 0.0, "car": 0.0, "bird": 0.0, "cat": 100.0}
    accuracy, per_class = sp.cifar_evaluate(_Constant(0), loader, sp.CIFAR_CLASSES)
    assert accuracy == pytest.approx(30.0)
    assert per_class["plane"] == 100.0


def test_cifar_classes():
    assert sp.CIFAR_CLASSES == (
        "plane",
        "car",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    )


# ------------------------------------------------------------------------------
# 3 BERT
# ------------------------------------------------------------------------------


def _ids(batch=8, seq_len=30, vocab=30522, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (batch, seq_len), generator=g)
    lengths = torch.randint(seq_len // 2, seq_len + 1, (batch,), generator=g)
    lengths[0] = seq_len  # one row without padding
    lengths[1] = 1  # one row with a single real token
    for row, n in enumerate(lengths.tolist()):
        ids[row, n:] = 0  # trailing padding
    return ids


def test_get_attn_pad_mask():
    ids = torch.tensor([[5, 7, 0, 0], [3, 0, 0, 0]])
    mask = sp.get_attn_pad_mask(ids[:, :3], ids)
    assert mask.shape == (2, 3, 4) and mask.dtype == torch.bool
    assert mask[0].tolist() == [[False, False, True, True]] * 3
    assert mask[1].tolist() == [[False, True, True, True]] * 3


def test_bert_embedding():
    torch.manual_seed(0)
    emb = sp.BertEmbedding(vocab_size=50, maxlen=16, n_segments=2, d_model=8)
    ids = torch.randint(0, 50, (3, 7))
    seg = torch.randint(0, 2, (3, 7))
    out = emb(ids, seg)
    assert out.shape == (3, 7, 8)
    pos = torch.arange(7)
    expected = F.layer_norm(
        emb.token_embed.weight[ids] + emb.pos_embed.weight[pos][None] + emb.seg_embed.weight[seg],
        (8,),
        emb.norm.weight,
        emb.norm.bias,
    )
    torch.testing.assert_close(out, expected)
    default = sp.BertEmbedding()
    assert default.token_embed.num_embeddings == 30522
    assert default.pos_embed.num_embeddings == 512
    assert default.seg_embed.num_embeddings == 2
    assert default.norm.normalized_shape == (768,)


def test_multi_head_attention_modules_built_in_init():
    mha = sp.MultiHeadAttention()
    names = [n for n, _ in mha.named_children()]
    assert names == ["wq", "wk", "wv", "fc", "norm"]
    assert isinstance(mha.fc, nn.Linear) and (
        mha.fc.in_features,
        mha.fc.out_features,
    ) == (768, 768)
    assert isinstance(mha.norm, nn.LayerNorm)
    # 4 projections of 768*768 + 768, plus LayerNorm's 2*768
    assert sum(p.numel() for p in mha.parameters()) == 4 * (768 * 768 + 768) + 2 * 768
    # forward is deterministic: no module is created (and initialised) inside it
    x = torch.randn(2, 5, 768)
    mask = torch.zeros(2, 5, 5, dtype=torch.bool)
    with torch.no_grad():
        torch.testing.assert_close(mha(x, x, x, mask)[0], mha(x, x, x, mask)[0], rtol=0, atol=0)


def _torch_reference(mha, x_q, x_kv, key_padding_mask):
    ref = nn.MultiheadAttention(768, 12, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([mha.wq.weight, mha.wk.weight, mha.wv.weight]))
        ref.in_proj_bias.copy_(torch.cat([mha.wq.bias, mha.wk.bias, mha.wv.bias]))
        ref.out_proj.weight.copy_(mha.fc.weight)
        ref.out_proj.bias.copy_(mha.fc.bias)
    ref.eval()
    out, weights = ref(
        x_q,
        x_kv,
        x_kv,
        key_padding_mask=key_padding_mask,
        need_weights=True,
        average_attn_weights=False,
    )
    return mha.norm(out + x_q), weights


def _nontrivial_norm(mha, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        mha.norm.weight.copy_(1 + 0.1 * torch.randn(768, generator=g))
        mha.norm.bias.copy_(0.1 * torch.randn(768, generator=g))


def test_bert_attention_equals_torch_multihead_attention():
    torch.manual_seed(0)
    emb = sp.BertEmbedding()
    mha = sp.MultiHeadAttention()
    _nontrivial_norm(mha, 1)
    mha.eval()
    ids = _ids()
    assert (ids == 0).any() and (ids[0] != 0).all()
    with torch.no_grad():
        out, attn = sp.bert_attention(emb, mha, ids)
        x = emb(ids, torch.zeros_like(ids))
        ref_out, ref_attn = _torch_reference(mha, x, x, ids == 0)
    assert out.shape == (8, 30, 768)
    assert attn.shape == (8, 12, 30, 30)
    diff_out = (out - ref_out).abs().max().item()
    diff_attn = (attn - ref_attn).abs().max().item()
    assert diff_out <= 1e-5, diff_out
    assert diff_attn <= 1e-5, diff_attn
    # padded key columns get exactly zero attention; each row sums to 1
    pad = (ids == 0)[:, None, None, :].expand_as(attn)
    assert pad.any()
    assert torch.all(attn[pad] == 0)
    torch.testing.assert_close(attn.sum(-1), torch.ones(8, 12, 30))


def test_multi_head_attention_uses_k_and_v():
    """Cross attention (Q from one sequence, K/V from another) against torch: catches
    the seed's projecting Q three times."""
    torch.manual_seed(2)
    mha = sp.MultiHeadAttention().eval()
    q = torch.randn(2, 4, 768)
    kv = torch.randn(2, 6, 768)
    key_pad = torch.tensor([[False] * 6, [False] * 3 + [True] * 3])
    mask = key_pad[:, None, :].expand(2, 4, 6)
    with torch.no_grad():
        out, attn = mha(q, kv, kv, mask)
        ref_out, ref_attn = _torch_reference(mha, q, kv, key_pad)
        # K and V enter separately too
        v2 = torch.randn(2, 6, 768)
        out_v2, _ = mha(q, kv, v2, mask)
    assert out.shape == (2, 4, 768) and attn.shape == (2, 12, 4, 6)
    assert (out - ref_out).abs().max().item() <= 1e-5
    assert (attn - ref_attn).abs().max().item() <= 1e-5
    assert not torch.allclose(out, out_v2)


def test_multi_head_attention_float64_exact():
    torch.manual_seed(3)
    mha = sp.MultiHeadAttention().double().eval()
    _nontrivial_norm(mha, 4)
    x = torch.randn(3, 10, 768, dtype=torch.float64)
    key_pad = torch.zeros(3, 10, dtype=torch.bool)
    key_pad[1, 7:] = True
    with torch.no_grad():
        out, attn = mha(x, x, x, key_pad[:, None, :].expand(3, 10, 10))
        ref = nn.MultiheadAttention(768, 12, batch_first=True, dtype=torch.float64).eval()
        ref.in_proj_weight.copy_(torch.cat([mha.wq.weight, mha.wk.weight, mha.wv.weight]))
        ref.in_proj_bias.copy_(torch.cat([mha.wq.bias, mha.wk.bias, mha.wv.bias]))
        ref.out_proj.weight.copy_(mha.fc.weight)
        ref.out_proj.bias.copy_(mha.fc.bias)
        r, w = ref(x, x, x, key_padding_mask=key_pad, average_attn_weights=False)
        r = mha.norm(r + x)
    assert (out - r).abs().max().item() <= 1e-12
    assert (attn - w).abs().max().item() <= 1e-12


def test_bert_attention_backward():
    torch.manual_seed(0)
    emb = sp.BertEmbedding(vocab_size=100)
    mha = sp.MultiHeadAttention()
    ids = _ids(batch=2, seq_len=6, vocab=100)
    out, _ = sp.bert_attention(emb, mha, ids)
    out.sum().backward()
    for name, p in [*emb.named_parameters(), *mha.named_parameters()]:
        assert p.grad is not None, name


# ------------------------------------------------------------------------------
# 4 sin fit
# ------------------------------------------------------------------------------


def _sin_mse(coeffs, x, y):
    with torch.no_grad():
        return (sp.sin_predict(coeffs, x) - y).pow(2).mean().item()


def test_sin_data():
    x, y = sp.sin_data()
    assert x.shape == (2000,) and x.dtype == torch.float32
    assert x[0].item() == pytest.approx(-math.pi) and x[-1].item() == pytest.approx(math.pi)
    torch.testing.assert_close(y, torch.sin(x))


def test_sin_fit_seed_settings_do_not_converge():
    """The seed's plain gradient descent (lr 1e-6, 4000 steps, mean loss) from
    torch.randn with torch seed 0 stays far from the least-squares optimum (BASELINES:
    final MSE 31.36)."""
    x, y = sp.sin_data()
    torch.manual_seed(0)
    coeffs = [torch.randn((), dtype=torch.float, requires_grad=True) for _ in range(4)]
    start = [c.detach().clone() for c in coeffs]
    losses = sp.sin_fit_loop(coeffs, x, y, lr=1e-6, steps=4000)
    assert len(losses) == 4000
    assert all(isinstance(v, float) and math.isfinite(v) for v in losses)
    final = _sin_mse(coeffs, x, y)
    assert final > 1e-3
    assert final == pytest.approx(31.36, abs=0.01)  # BASELINES.md, torch seed 0
    assert final < losses[0]  # it does descend, just slowly
    assert final == pytest.approx(losses[-1], rel=1e-2)
    assert all(not torch.equal(c.detach(), s) for c, s in zip(coeffs, start, strict=True))


def test_sin_fit_loop_is_gradient_descent():
    """A few steps against the closed-form gradient of the mean squared error."""
    x, y = sp.sin_data(dtype=torch.float64)
    coeffs = [
        torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (0.5, -0.1, 0.01, -0.001)
    ]
    theta = torch.tensor([0.5, -0.1, 0.01, -0.001], dtype=torch.float64)
    basis = torch.stack([x, x**3, x**5, x**7], dim=1)
    expected = []
    for _ in range(3):
        r = basis @ theta - y
        expected.append(r.pow(2).mean().item())
        theta = theta - 1e-6 * (2 / len(x)) * basis.T @ r
    losses = sp.sin_fit_loop(coeffs, x, y, lr=1e-6, steps=3)
    assert losses == pytest.approx(expected, rel=1e-10)
    torch.testing.assert_close(torch.stack([c.detach() for c in coeffs]), theta)
    assert all(c.grad is None for c in coeffs)


def test_sin_fit_lr_above_stability_limit_diverges():
    """BASELINES: the mean loss at lr 1e-5 and above diverges."""
    x, y = sp.sin_data()
    torch.manual_seed(0)
    coeffs = sp.sin_init()
    losses = sp.sin_fit_loop(coeffs, x, y, lr=1e-5, steps=300)
    assert not math.isfinite(losses[-1]) or losses[-1] > 1e6


# ------------------------------------------------------------------------------
# 4 x^2 regression
# ------------------------------------------------------------------------------


def test_regression_net_print():
    net = sp.RegressionNet(n_feature=1, n_hidden=10, n_output=1)
    assert str(net) == (
        "Net(\n"
        "  (hidden): Linear(in_features=1, out_features=10, bias=True)\n"
        "  (predict): Linear(in_features=10, out_features=1, bias=True)\n"
        ")"
    )


def test_regression_data():
    x, y = sp.regression_data(torch.Generator().manual_seed(0))
    assert x.shape == (100, 1) and y.shape == (100, 1)
    assert x[0, 0].item() == -1.0 and x[-1, 0].item() == 1.0
    noise = y - x.pow(2)
    assert noise.min().item() >= 0.0 and noise.max().item() <= 0.2 + 1e-6
    assert noise.std().item() > 0.03  # U(0, 0.2) has std 0.0577
    _, y2 = sp.regression_data(torch.Generator().manual_seed(0))
    assert torch.equal(y, y2)
    torch.manual_seed(5)
    _, y3 = sp.regression_data()
    torch.manual_seed(5)
    _, y4 = sp.regression_data()
    assert torch.equal(y3, y4) and not torch.equal(y3, y)


def test_regression_loop_seed0_converges():
    """The seed's order under torch seed 0: data (torch.rand) first, then the net."""
    torch.manual_seed(0)
    x, y = sp.regression_data()
    net = sp.RegressionNet(n_feature=1, n_hidden=10, n_output=1)
    losses = sp.regression_loop(net, x, y, steps=200, lr=0.2)
    assert len(losses) == 200
    assert all(isinstance(v, float) for v in losses)
    with torch.no_grad():
        final = F.mse_loss(net(x), y).item()
    assert final < 0.02
    assert losses[-1] == pytest.approx(0.00474, abs=1e-4)  # BASELINES.md, torch seed 0
    assert final > 0.0028  # cannot beat the noise floor by much (BASELINES: 0.04/12 = 0.0033)
    # decreasing trend: each quarter's mean below the previous one
    quarters = [sum(losses[i : i + 50]) / 50 for i in range(0, 200, 50)]
    assert quarters == sorted(quarters, reverse=True)
    assert losses[-1] < 0.25 * losses[0]


def test_regression_loop_matches_manual_sgd():
    torch.manual_seed(0)
    x, y = sp.regression_data()
    net = sp.RegressionNet(1, 10, 1)
    copy = sp.RegressionNet(1, 10, 1)
    copy.load_state_dict(net.state_dict())
    losses = sp.regression_loop(net, x, y, steps=5, lr=0.2)
    expected = []
    for _ in range(5):
        loss = F.mse_loss(copy(x), y)
        copy.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in copy.parameters():
                p -= 0.2 * p.grad
        expected.append(loss.item())
    assert losses == pytest.approx(expected, rel=1e-6)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, copy.state_dict()[k])


# ------------------------------------------------------------------------------
# the module itself
# ------------------------------------------------------------------------------


def test_module_is_quiet_at_import(capsys):
    """Importing the references prints nothing (a fresh copy: sp stays as it is)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_seed_programs_fresh", sp.__file__)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert str(fresh.LeNet()) == fresh.LENET_PRINT


def test_state_dict_from_seed_net_loads_strict():
    """The reference's keys are the seed's: a seed Net state_dict loads strictly."""
    net = sp.LeNet()
    other = sp.Net()
    other.load_state_dict(net.state_dict(), strict=True)
    cifar = sp.CifarNet()
    assert list(cifar.state_dict()) == list(net.state_dict())
