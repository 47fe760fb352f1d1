"""Checks for the exercises of the batch normalization page.

Explained on the page [Batch normalization](../foundations/batch-normalization.md#exercises).

Each check computes its reference with PyTorch inside the check (``torch.nn.functional.batch_norm``
and autograd for the forward pass and its gradients, ``torch.nn.BatchNorm1d`` for the running
statistics and for evaluation mode) and compares the reader's answer with it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dlref.exercises.checking import ExerciseFailed, assert_close, call, passed

__all__ = ["check_batch_norm", "check_fold_batch_norm", "check_running_stats"]


# --- 1. batch normalization's training-mode forward pass, for any layout ---------------------


def _batch_norm_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor, float]]:
    """``(description, x, eps)`` for the forward check, float64 unless said otherwise."""
    f64 = {"dtype": torch.float64, "generator": generator}
    constant = torch.randn(16, 5, **f64)  # (B, C)
    constant[:, 2] = 3.0  # one channel whose every value is the same: variance 0
    return [
        ("features (B, C) = (32, 6)", 3 * torch.randn(32, 6, **f64) + 2, 1e-5),
        ("sequences (B, C, L) = (8, 4, 10)", torch.randn(8, 4, 10, **f64) - 1, 1e-5),
        ("images (B, C, H, W) = (4, 3, 5, 5)", 2 * torch.randn(4, 3, 5, 5, **f64), 1e-5),
        ("a batch of two, (2, 3), with eps = 0.1", torch.randn(2, 3, **f64), 0.1),
        ("(16, 5) whose channel 2 is constant (variance 0)", constant, 1e-5),
        (
            "float32 (64, 4) with mean 1000 and std 1",
            (1000 + torch.randn(64, 4, **f64)).float(),
            1e-5,
        ),
    ]


def _normalized_with_unbiased_variance(
    got: object, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float
) -> bool:
    """Whether ``got`` is batch norm computed with the unbiased variance, a common mistake."""
    if not isinstance(got, torch.Tensor) or got.shape != x.shape:
        return False
    dims = [0, *range(2, x.ndim)]  # every dim but the channels
    per_channel = (1, -1) + (1,) * (x.ndim - 2)
    x = x.double()
    x_hat = (x - x.mean(dim=dims, keepdim=True)) / torch.sqrt(
        x.var(dim=dims, correction=1, keepdim=True) + eps
    )
    unbiased = gamma.double().view(per_channel) * x_hat + beta.double().view(per_channel)
    return torch.allclose(got.detach().double(), unbiased, rtol=1e-6, atol=1e-6)


def check_batch_norm(
    batch_norm: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float], torch.Tensor],
) -> None:
    r"""Check ``batch_norm(x, gamma, beta, eps)``, batch normalization in training mode.

    ``x`` has shape ``(B, C)``, ``(B, C, L)`` or ``(B, C, H, W)``; ``gamma`` and ``beta`` have
    shape ``(C,)``. The answer must return
    $\gamma (x - \mu_\mathcal{B}) / \sqrt{\sigma^2_\mathcal{B} + \epsilon} + \beta$ with the mean
    and the *biased* variance of each channel over every dimension but dim 1, in a way autograd
    can differentiate. Its values, and the gradients of a loss with respect to ``x``, ``gamma``
    and ``beta``, are compared with ``torch.nn.functional.batch_norm(..., training=True)`` on
    the three layouts, on a batch of two, on a constant channel, and on float32 input with mean
    1000 (where the variance must be computed without catastrophic cancellation).

    Args:
        batch_norm: The reader's function.

    Raises:
        ExerciseFailed: If a value or a gradient differs from PyTorch's, or the answer crashes
            or is still a stub.
    """
    generator = torch.Generator().manual_seed(0)
    for description, x, eps in _batch_norm_cases(generator):
        channels = x.shape[1]
        gamma = (torch.rand(channels, dtype=torch.float64, generator=generator) + 0.5).to(x.dtype)
        beta = torch.randn(channels, dtype=torch.float64, generator=generator).to(x.dtype)
        upstream = torch.randn(x.shape, dtype=torch.float64, generator=generator).to(x.dtype)
        float32 = x.dtype == torch.float32
        tolerance = {"rtol": 1e-3, "atol": 1e-3} if float32 else {"rtol": 1e-7, "atol": 1e-9}

        # The reference runs in float64 even for float32 input: PyTorch's own float32 is close.
        leaves = [t.detach().double().clone().requires_grad_() for t in (x, gamma, beta)]
        expected = F.batch_norm(leaves[0], None, None, leaves[1], leaves[2], True, 0.0, eps)
        expected.backward(upstream.double())

        mine = [t.detach().clone().requires_grad_() for t in (x, gamma, beta)]
        what = f"batch_norm(x, gamma, beta, eps={eps:g}) on {description}"
        got = call(batch_norm, *mine, eps, what=what)
        try:
            assert_close(got, expected.detach().to(x.dtype), f"value of {what}", **tolerance)
        except ExerciseFailed as failure:
            if _normalized_with_unbiased_variance(got, x, gamma, beta, eps):
                raise ExerciseFailed(
                    f"{failure}; it matches normalizing with the unbiased variance (divided by "
                    "n - 1): training-mode batch norm divides by n, the number of values per "
                    "channel"
                ) from None
            raise
        if not got.requires_grad:
            raise ExerciseFailed(
                f"gradient: the output of {what} does not require grad: compute it from x, gamma "
                "and beta with differentiable tensor operations (no .detach(), no torch.no_grad())"
            )
        got.backward(upstream)
        for name, leaf, reference in zip(("x", "gamma", "beta"), mine, leaves, strict=True):
            if leaf.grad is None:
                raise ExerciseFailed(
                    f"gradient: after backward through {what}, {name}.grad is None: the output "
                    f"must depend on {name} through autograd"
                )
            assert_close(
                leaf.grad, reference.grad.to(x.dtype), f"gradient of {name} for {what}", **tolerance
            )
    passed(
        "batch_norm",
        "Values and gradients match F.batch_norm in training mode on (B, C), (B, C, L) and "
        "(B, C, H, W), on a constant channel and on float32 input with mean 1000.",
    )


# --- 2. the running statistics, step by step -------------------------------------------------


def _simulate_running_stats(
    batches: Sequence[torch.Tensor], momentum: float | None, unbiased: bool, new_weight: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Running mean and variance under one convention; used to name a reader's mistake."""
    channels = batches[0].shape[1]
    mean = torch.zeros(channels, dtype=torch.float64)
    var = torch.ones(channels, dtype=torch.float64)
    for step, batch in enumerate(batches, 1):
        rate = 1.0 / step if momentum is None else momentum
        rate = rate if new_weight else 1.0 - rate
        batch_var = batch.var(dim=0, correction=1 if unbiased else 0)
        mean = (1 - rate) * mean + rate * batch.mean(dim=0)
        var = (1 - rate) * var + rate * batch_var
    return mean, var


def _as_pair(result: object, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The reader's ``(running_mean, running_var)``, or a hint if it is not a pair of tensors."""
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise ExerciseFailed(
            f"{what} returned a {type(result).__name__}: return the pair "
            "(running_mean, running_var)"
        )
    if not all(isinstance(t, torch.Tensor) for t in result):
        raise ExerciseFailed(f"{what} must return two tensors, (running_mean, running_var)")
    return result[0], result[1]


def check_running_stats(
    running_stats: Callable[[list[torch.Tensor], float | None], tuple[torch.Tensor, torch.Tensor]],
) -> None:
    r"""Check ``running_stats(batches, momentum)``: BatchNorm's running averages after training.

    ``batches`` is a list of ``(B, C)`` tensors, one per training step (of different sizes $B$).
    Starting from $\mu_{\text{run}} = 0$ and $\sigma^2_{\text{run}} = 1$, the answer must update
    both with each batch at the rate $m$ = ``momentum``, the weight of the *new* batch (for
    ``momentum=None``, $m = 1/t$ at step $t$: a plain average), and return
    ``(running_mean, running_var)``, each of shape ``(C,)``. They are compared with the
    ``running_mean`` and ``running_var`` of an ``nn.BatchNorm1d`` in training mode that saw the
    same batches, for ``momentum`` 0.1, 0.5 and ``None``.

    Args:
        running_stats: The reader's function.

    Raises:
        ExerciseFailed: If a running statistic differs from ``nn.BatchNorm1d``'s (the hint says
            if it looks like the biased variance or the other momentum convention), or the
            answer crashes or is still a stub.
    """
    generator = torch.Generator().manual_seed(0)
    for momentum in (0.1, 0.5, None):
        batches = [
            3 * torch.randn(size, 4, dtype=torch.float64, generator=generator) + 2
            for size in (8, 3, 16, 5)
        ]  # 4 steps of (B, 4), B = 8, 3, 16, 5
        layer = nn.BatchNorm1d(4, momentum=momentum, dtype=torch.float64).train()
        with torch.no_grad():
            for batch in batches:
                layer(batch)
        what = f"running_stats(batches, momentum={momentum})"
        got_mean, got_var = _as_pair(
            call(running_stats, [b.clone() for b in batches], momentum, what=what), what
        )
        for name, got, expected, index in [
            ("running_mean", got_mean, layer.running_mean, 0),
            ("running_var", got_var, layer.running_var, 1),
        ]:
            try:
                assert_close(got, expected, f"{name} after {what}", rtol=1e-9, atol=1e-12)
            except ExerciseFailed as failure:
                got = got.detach().double() if isinstance(got, torch.Tensor) else got
                mistakes = {
                    "it matches the biased batch variance (divided by B): the running variance "
                    "averages the unbiased one, divided by B - 1": (momentum, False, True),
                    "it matches momentum used as the weight of the old average (the Keras "
                    "convention): in PyTorch it is the weight of the new batch": (
                        momentum,
                        True,
                        False,
                    ),
                }
                for hint, (m, unbiased, new_weight) in mistakes.items():
                    named = _simulate_running_stats(batches, m, unbiased, new_weight)[index]
                    if (
                        isinstance(got, torch.Tensor)
                        and got.shape == named.shape
                        and torch.allclose(got, named, rtol=1e-9, atol=1e-12)
                    ):
                        raise ExerciseFailed(f"{failure}; {hint}") from None
                if momentum is None:
                    raise ExerciseFailed(
                        f"{failure} (with momentum=None, step t uses the rate m = 1/t)"
                    ) from None
                raise
    passed(
        "running_stats",
        "running_mean and running_var match nn.BatchNorm1d after 4 training steps, for "
        "momentum 0.1, 0.5 and None.",
    )


# --- 3. folding an evaluation-mode batch norm into the linear layer before it ----------------


def _trained_pair(
    generator: torch.Generator, bias: bool, eps: float
) -> tuple[nn.Linear, nn.BatchNorm1d]:
    """A float64 ``Linear(12, 8)`` and a ``BatchNorm1d(8)`` with random statistics, in eval mode."""
    linear = nn.Linear(12, 8, bias=bias, dtype=torch.float64)
    bn = nn.BatchNorm1d(8, eps=eps, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(8, 12, dtype=torch.float64, generator=generator))
        if bias:
            linear.bias.copy_(torch.randn(8, dtype=torch.float64, generator=generator))
        bn.weight.copy_(torch.rand(8, dtype=torch.float64, generator=generator) + 0.5)  # gamma
        bn.bias.copy_(torch.randn(8, dtype=torch.float64, generator=generator))  # beta
        bn.running_mean.copy_(torch.randn(8, dtype=torch.float64, generator=generator))
        bn.running_var.copy_(0.02 + torch.rand(8, dtype=torch.float64, generator=generator))
    return linear, bn.eval()


def check_fold_batch_norm(
    fold_batch_norm: Callable[[nn.Linear, nn.BatchNorm1d], nn.Linear],
) -> None:
    r"""Check ``fold_batch_norm(linear, bn)``: one ``nn.Linear`` that computes ``bn(linear(x))``.

    In evaluation mode a batch norm layer is the fixed affine map
    $y = \gamma (z - \mu_{\text{run}}) / \sqrt{\sigma^2_{\text{run}} + \epsilon} + \beta$, so it
    can be merged into the ``nn.Linear`` before it. The answer must return a *new*
    ``nn.Linear`` (leaving ``linear`` and ``bn`` unchanged) whose output equals
    ``bn(linear(x))`` with ``bn`` in evaluation mode. It is compared on random inputs, for a
    ``linear`` with and without a bias, and with a large ``eps`` (0.01, so forgetting it shows).

    Args:
        fold_batch_norm: The reader's function.

    Raises:
        ExerciseFailed: If the folded layer is not an ``nn.Linear`` of the same shape, its
            output differs from ``bn(linear(x))``, the inputs were modified, or the answer
            crashes or is still a stub.
    """
    generator = torch.Generator().manual_seed(0)
    for bias, eps in [(True, 1e-5), (False, 1e-5), (True, 1e-2)]:
        linear, bn = _trained_pair(generator, bias, eps)
        x = torch.randn(32, 12, dtype=torch.float64, generator=generator)  # (B, 12)
        with torch.no_grad():
            expected = bn(linear(x))  # (B, 8)
        originals = copy.deepcopy((linear.state_dict(), bn.state_dict()))
        described = f"a Linear(12, 8, bias={bias}) and a BatchNorm1d(8, eps={eps:g})"
        what = f"fold_batch_norm(linear, bn) for {described}"
        folded = call(fold_batch_norm, linear, bn, what=what)
        if not isinstance(folded, nn.Linear):
            raise ExerciseFailed(f"{what} returned a {type(folded).__name__}: return an nn.Linear")
        if folded is linear:
            raise ExerciseFailed(f"{what} returned linear itself: build and return a new layer")
        for module, state in zip((linear, bn), originals, strict=True):
            for name, tensor in module.state_dict().items():
                if not torch.equal(tensor, state[name]):
                    raise ExerciseFailed(
                        f"value: {what} changed {type(module).__name__}.{name} in place: leave "
                        "linear and bn as they are and return a new layer"
                    )
        if folded.weight.shape != (8, 12):
            raise ExerciseFailed(
                f"shape: the folded layer's weight is {tuple(folded.weight.shape)}, expected "
                "(8, 12), like linear.weight"
            )
        if folded.bias is None:
            raise ExerciseFailed(
                f"value: the layer {what} returned has no bias, but bn's shift must go somewhere"
            )
        with torch.no_grad():
            got = folded(x)
        assert_close(got, expected, f"output of the folded layer, {described}", rtol=1e-9)
    passed(
        "fold_batch_norm",
        "The folded Linear computes bn(linear(x)) in evaluation mode, with and without a bias "
        "before the batch norm.",
    )
