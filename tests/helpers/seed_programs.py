"""Hand-written reference versions of the five seed programs (seed/pytorch-notes.md).

These are the programs of the seed written as a careful PyTorch user would write them,
with the seed's bugs fixed. Tests use them as the oracle that graphspec's generated
modules and training loops are compared against: same weights and same data in, same
numbers out.

Nothing here prints or trains at import time. Training loops take already-built objects
(a model, tensors, a loader) so that a test can hand identical weights and data to this
module and to graphspec, and they return the per-step (or per-log) loss values as Python
floats.

Fixes relative to the seed:

- 2.1 ``Net``: the ``print(x.shape)`` debugging calls are gone (the shapes they printed
  are the test's business); ``out.backward`` on an undefined ``out`` is not reproduced.
- 2.2: ``dataiter.next()`` (removed from DataLoader iterators) and ``torch.load(PATH)``
  with an undefined ``PATH`` are not reproduced; evaluation follows the tutorial's
  accuracy code.
- 3 BERT: ``seg_len`` -> ``seq_len``; ``get_attn_mask`` is named ``get_attn_pad_mask``;
  the class is ``MultiHeadAttention`` (the seed declares ``MultiheadAttention`` but
  calls ``super(MultiHeadAttention, ...)``); K and V are projected from K and V (the
  seed projects Q three times); ``d_q`` -> ``d_k``; scores use the projected
  ``qs``/``ks`` (the seed uses the raw ``Q``/``K``); the undefined ``v`` -> ``vs``; the
  mask is broadcast over the heads; the output projection ``fc`` and the ``norm``
  LayerNorm are built once in ``__init__`` (the seed builds fresh, untrained, CPU-only
  modules on every ``forward``); ``np.sqrt`` -> ``math.sqrt``.
- 4: matplotlib plotting is left out of the loops.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn, optim

__all__ = [
    "CIFAR_CLASSES",
    "LENET_PRINT",
    "BertEmbedding",
    "CifarNet",
    "LeNet",
    "MultiHeadAttention",
    "Net",
    "RegressionNet",
    "ScaledDotProductAttention",
    "bert_attention",
    "cifar_evaluate",
    "cifar_train",
    "get_attn_pad_mask",
    "lenet_step",
    "regression_data",
    "regression_loop",
    "sin_data",
    "sin_fit_loop",
]

# ------------------------------------------------------------------------------
# 2.1 LeNet (the 60-minute blitz "Net")
# ------------------------------------------------------------------------------

#: ``print(net)`` as published in the seed, section 2.1 (verbatim).
LENET_PRINT = """\
Net(
  (conv1): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))
  (conv2): Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1))
  (fc1): Linear(in_features=400, out_features=120, bias=True)
  (fc2): Linear(in_features=120, out_features=84, bias=True)
  (fc3): Linear(in_features=84, out_features=10, bias=True)
)"""


class Net(nn.Module):
    """Seed 2.1 ``Net`` (LeNet-5 for a 1x32x32 input), without the debugging prints."""

    def __init__(self):
        super().__init__()
        # 1 input image channel, 6 output channels, 5x5 square convolution kernel
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        # an affine operation: y = Wx + b
        self.fc1 = nn.Linear(16 * 5 * 5, 120)  # 5*5 from image dimension
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        # Max pooling over a (2, 2) window
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        # If the size is a square, you can specify with a single number
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)  # flatten all dimensions except the batch dimension
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


LeNet = Net


def lenet_step(
    net: nn.Module, input: torch.Tensor, target: torch.Tensor, lr: float = 0.01
) -> list[float]:
    """Seed 2.1 "完整版本": MSELoss, SGD(lr), one optimizer step.

    ``target`` may be given as the seed draws it (shape ``(10,)``); it is then viewed as
    ``(1, -1)`` "to make it the same shape as output", as the seed does. Returns
    ``[loss]``, the loss computed before the step.
    """
    if target.dim() == 1:
        target = target.view(1, -1)  # make it the same shape as output
    criterion = nn.MSELoss()
    optimizer = optim.SGD(net.parameters(), lr=lr)

    optimizer.zero_grad()  # zero the gradient buffers
    output = net(input)
    loss = criterion(output, target)
    loss.backward()
    optimizer.step()  # Does the update
    return [loss.item()]


# ------------------------------------------------------------------------------
# 2.2 CIFAR-10 tutorial
# ------------------------------------------------------------------------------

CIFAR_CLASSES = (
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


class CifarNet(nn.Module):
    """Seed 2.2 ``Net``: one ``MaxPool2d`` module used twice. Prints as ``Net(...)``."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


# print() shows type(self).__name__; __qualname__ is kept so pickling still resolves.
CifarNet.__name__ = "Net"


def cifar_train(
    net: nn.Module,
    loader: Iterable,
    epochs: int = 2,
    lr: float = 0.001,
    momentum: float = 0.9,
    log_every: int = 2000,
    print_fn: Callable[[str], None] | None = None,
) -> list[float]:
    """The tutorial's training loop: CrossEntropyLoss, SGD(lr, momentum), epochs.

    Returns the values the tutorial prints (``running_loss / log_every`` after every
    ``log_every`` mini-batches of an epoch), in order. Pass ``print_fn=print`` to get
    the tutorial's ``[epoch,  batch] loss: x.xxx`` lines and ``Finished Training``.
    """
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    logged: list[float] = []

    for epoch in range(epochs):  # loop over the dataset multiple times
        running_loss = 0.0
        for i, data in enumerate(loader, 0):
            # get the inputs; data is a list of [inputs, labels]
            inputs, labels = data

            # zero the parameter gradients
            optimizer.zero_grad()

            # forward + backward + optimize
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()

            # print statistics
            running_loss += loss.item()
            if i % log_every == log_every - 1:  # print every log_every mini-batches
                value = running_loss / log_every
                logged.append(value)
                if print_fn is not None:
                    print_fn(f"[{epoch + 1}, {i + 1:5d}] loss: {value:.3f}")
                running_loss = 0.0

    if print_fn is not None:
        print_fn("Finished Training")
    return logged


def cifar_evaluate(
    net: nn.Module, loader: Iterable, classes: Sequence[str] = CIFAR_CLASSES
) -> tuple[float, dict[str, float]]:
    """The tutorial's test-set evaluation.

    Returns ``(accuracy, per_class)``: the overall accuracy in percent (a float, not the
    tutorial's floor-divided integer) and ``{class name: accuracy in percent}`` for
    every class that has at least one example in ``loader`` (the tutorial would divide
    by zero otherwise).
    """
    correct = 0
    total = 0
    correct_pred = {name: 0 for name in classes}
    total_pred = {name: 0 for name in classes}
    # since we're not training, we don't need to calculate the gradients for our outputs
    with torch.no_grad():
        for images, labels in loader:
            # calculate outputs by running images through the network
            outputs = net(images)
            # the class with the highest energy is what we choose as prediction
            _, predicted = torch.max(outputs, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
            for label, prediction in zip(labels.tolist(), predicted.tolist(), strict=True):
                if label == prediction:
                    correct_pred[classes[label]] += 1
                total_pred[classes[label]] += 1

    accuracy = 100.0 * correct / total if total else float("nan")
    per_class = {
        name: 100.0 * correct_pred[name] / total_pred[name]
        for name in classes
        if total_pred[name] > 0
    }
    return accuracy, per_class


# ------------------------------------------------------------------------------
# 3 BERT embedding and multi-head attention
# ------------------------------------------------------------------------------

BERT_VOCAB_SIZE = 30522  # BERT-base; the seed leaves vocab_size undefined
BERT_MAXLEN = 512
BERT_N_SEGMENTS = 2
BERT_D_MODEL = 768
BERT_N_HEADS = 12
BERT_D_K = 64
BERT_D_V = 64


class BertEmbedding(nn.Module):
    """Seed 3 ``Embedding``: token + position + segment embeddings, then LayerNorm."""

    def __init__(
        self,
        vocab_size: int = BERT_VOCAB_SIZE,
        maxlen: int = BERT_MAXLEN,
        n_segments: int = BERT_N_SEGMENTS,
        d_model: int = BERT_D_MODEL,
    ):
        super().__init__()
        self.token_embed = nn.Embedding(vocab_size, d_model)
        self.pos_embed = nn.Embedding(maxlen, d_model)
        self.seg_embed = nn.Embedding(n_segments, d_model)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x, seg):
        seq_len = x.size(1)
        pos = torch.arange(seq_len, dtype=torch.long, device=x.device)
        pos = pos.unsqueeze(0).expand_as(x)  # (seq_len,) -> (batch_size, seq_len)
        embedding = self.token_embed(x) + self.pos_embed(pos) + self.seg_embed(seg)
        return self.norm(embedding)


BertEmbedding.__name__ = "Embedding"


def get_attn_pad_mask(seq_q: torch.Tensor, seq_k: torch.Tensor) -> torch.Tensor:
    """True where the key is padding (id 0): shape (batch_size, len_q, len_k)."""
    batch_size, len_q = seq_q.size()
    batch_size, len_k = seq_k.size()
    pad_attn_mask = seq_k.eq(0).unsqueeze(1)  # batch_size * 1 * len_k
    return pad_attn_mask.expand(batch_size, len_q, len_k)  # batch_size * len_q * len_k


class ScaledDotProductAttention(nn.Module):
    """Seed 3 ``ScaledDotProductAttention`` (``v`` -> ``V``, ``d_k`` taken from Q)."""

    def forward(self, Q, K, V, attn_mask):
        d_k = Q.size(-1)
        scores = torch.matmul(Q, K.transpose(-1, -2)) / math.sqrt(d_k)
        scores = scores.masked_fill(attn_mask, -1e9)
        attn = torch.softmax(scores, dim=-1)
        context = torch.matmul(attn, V)
        return context, attn


class MultiHeadAttention(nn.Module):
    """Seed 3 ``MultiheadAttention``, fixed: post-norm residual multi-head attention.

    ``forward(Q, K, V, attn_mask)``: Q (B, len_q, d_model); K, V (B, len_k, d_model);
    ``attn_mask`` (B, len_q, len_k) bool, True = masked. Returns
    ``(LayerNorm(fc(context) + Q), attn)``, attn of shape (B, n_heads, len_q, len_k).
    """

    def __init__(
        self,
        d_model: int = BERT_D_MODEL,
        n_heads: int = BERT_N_HEADS,
        d_k: int = BERT_D_K,
        d_v: int = BERT_D_V,
    ):
        super().__init__()
        self.d_model, self.n_heads, self.d_k, self.d_v = d_model, n_heads, d_k, d_v
        self.wq = nn.Linear(d_model, d_k * n_heads)
        self.wk = nn.Linear(d_model, d_k * n_heads)
        self.wv = nn.Linear(d_model, d_v * n_heads)
        self.fc = nn.Linear(n_heads * d_v, d_model)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, Q, K, V, attn_mask):
        residual, batch_size = Q, Q.size(0)
        n_heads, d_k, d_v = self.n_heads, self.d_k, self.d_v

        # Batch_size * seq_len * model_dim => Batch_size * n_heads * seq_len * d_k,
        # (8, 30, 768) => (8, 12, 30, 64)
        qs = self.wq(Q).view(batch_size, -1, n_heads, d_k).transpose(1, 2)
        ks = self.wk(K).view(batch_size, -1, n_heads, d_k).transpose(1, 2)
        vs = self.wv(V).view(batch_size, -1, n_heads, d_v).transpose(1, 2)
        # (8, 30, 30) => (8, 1, 30, 30), broadcast over the heads
        attn_mask = attn_mask.unsqueeze(1)
        # (8, 12, 30, 64) matmul (8, 12, 64, 30) => 8, 12, 30, 30
        scores = torch.matmul(qs, ks.transpose(-1, -2)) / math.sqrt(d_k)
        scores = scores.masked_fill(attn_mask, -1e9)
        attn = torch.softmax(scores, dim=-1)
        # (8, 12, 30, 30) matmul (8, 12, 30, 64) => 8, 12, 30, 64
        context = torch.matmul(attn, vs)
        context = context.transpose(1, 2).contiguous().view(batch_size, -1, n_heads * d_v)
        output = self.fc(context)
        return self.norm(output + residual), attn


def bert_attention(
    embedding: BertEmbedding,
    attention: MultiHeadAttention,
    ids: torch.Tensor,
    segments: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Embed ``ids`` (B, L); one self-attention block with the padding mask of ``ids``.

    ``segments`` defaults to all zeros. Returns ``(output, attn)``: output
    (B, L, d_model), attn (B, n_heads, L, L).
    """
    if segments is None:
        segments = torch.zeros_like(ids)
    x = embedding(ids, segments)
    mask = get_attn_pad_mask(ids, ids)
    return attention(x, x, x, mask)


def torch_attention(model: nn.Module, ids: torch.Tensor, segments: torch.Tensor):
    """The BERT spec's block computed by ``torch.nn.MultiheadAttention`` with its weights.

    ``model`` is the built specs/bert_attention.yaml; returns ``(output, attn)`` like the model,
    the attention weights per head, no grad.
    """
    block = model.attention
    mha = nn.MultiheadAttention(768, 12, batch_first=True).to(ids.device).eval()
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([block.wq.weight, block.wk.weight, block.wv.weight]))
        mha.in_proj_bias.copy_(torch.cat([block.wq.bias, block.wk.bias, block.wv.bias]))
        mha.out_proj.weight.copy_(block.fc.weight)
        mha.out_proj.bias.copy_(block.fc.bias)
        x = model.embed(ids, segments)
        ctx, weights = mha(x, x, x, key_padding_mask=ids.eq(0), average_attn_weights=False)
        return block.norm(ctx + x), weights


# ------------------------------------------------------------------------------
# 4 Fitting: sin polynomial and x^2 regression
# ------------------------------------------------------------------------------


def sin_data(
    dtype: torch.dtype = torch.float, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """x = linspace(-pi, pi, 2000), y = sin(x)."""
    x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
    y = torch.sin(x)
    return x, y


def sin_init(
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float,
    device="cpu",
) -> list[torch.Tensor]:
    """The seed's a, b, c, d: four ``torch.randn(())`` scalars requiring grad."""
    return [
        torch.randn((), generator=generator, device=device, dtype=dtype).requires_grad_()
        for _ in range(4)
    ]


def sin_predict(coeffs: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    a, b, c, d = coeffs
    return a * x + b * (x**3) + c * (x**5) + d * (x**7)


def sin_fit_loop(
    coeffs: list[torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    lr: float = 1e-6,
    steps: int = 4000,
) -> list[float]:
    """Seed 4 sin fit: plain gradient descent on the mean squared error.

    ``coeffs`` are the scalars a, b, c, d (``requires_grad=True``); they are updated in
    place. Returns the loss of every step, computed before that step's update (the seed
    prints it at ``t % 100 == 99``).
    """
    a, b, c, d = coeffs
    losses: list[float] = []
    for _t in range(steps):
        y_pred = a * x + b * (x**3) + c * (x**5) + d * (x**7)

        loss = (y_pred - y).pow(2).mean()
        losses.append(loss.item())

        loss.backward()

        with torch.no_grad():
            a -= lr * a.grad
            b -= lr * b.grad
            c -= lr * c.grad
            d -= lr * d.grad

            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    return losses


def regression_data(
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """x = linspace(-1, 1, 100) as (100, 1); y = x^2 + 0.2 * U(0, 1) noise."""
    x = torch.unsqueeze(torch.linspace(-1, 1, 100), dim=1)  # x data (tensor), shape=(100, 1)
    y = x.pow(2) + 0.2 * torch.rand(x.size(), generator=generator)  # noisy y data, (100, 1)
    return x, y


class RegressionNet(nn.Module):
    """Seed 4 regression ``Net``: Linear -> relu -> Linear. Prints as ``Net(...)``."""

    def __init__(self, n_feature: int = 1, n_hidden: int = 10, n_output: int = 1):
        super().__init__()
        self.hidden = nn.Linear(n_feature, n_hidden)  # hidden layer
        self.predict = nn.Linear(n_hidden, n_output)  # output layer

    def forward(self, x):
        x = F.relu(self.hidden(x))  # activation function for hidden layer
        x = self.predict(x)  # linear output
        return x


RegressionNet.__name__ = "Net"


def regression_loop(
    net: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 200, lr: float = 0.2
) -> list[float]:
    """Seed 4 regression: SGD(lr), MSELoss, ``steps`` full-batch steps.

    Returns the loss of every step, computed before that step's update (the value the
    seed draws as ``Loss=``).
    """
    optimizer = optim.SGD(net.parameters(), lr=lr)
    loss_func = nn.MSELoss()  # this is for regression mean squared loss
    losses: list[float] = []
    for _t in range(steps):
        prediction = net(x)  # input x and predict based on x
        loss = loss_func(prediction, y)  # must be (1. nn output, 2. target)

        optimizer.zero_grad()  # clear gradients for next train
        loss.backward()  # backpropagation, compute gradients
        optimizer.step()  # apply gradients
        losses.append(loss.item())
    return losses
