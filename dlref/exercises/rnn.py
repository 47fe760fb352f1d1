"""Checks for the exercises of the recurrent networks page.

Explained on the page [Recurrent networks](../architectures/recurrent-networks.md#exercises).

Each check computes its reference with PyTorch inside the check (``torch.nn.LSTMCell`` and
``torch.nn.GRUCell``, with the same weights, and autograd) and compares the reader's step, its
values and its gradients, with it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from dlref.exercises.checking import ExerciseFailed, assert_close, call, passed

__all__ = ["check_gru_step", "check_lstm_step"]

_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _check_step(answer: Callable, cell_class: type[nn.Module], what: str, pair: bool) -> None:
    """Compare ``answer(x, state..., weights...)`` with a PyTorch cell, values and gradients."""
    generator = torch.Generator().manual_seed(0)
    f64 = {"dtype": torch.float64, "generator": generator}
    for batch, d, h in [(4, 3, 5), (1, 2, 1), (8, 6, 4)]:
        torch.manual_seed(batch)
        cell = cell_class(d, h, dtype=torch.float64)
        x = torch.randn(batch, d, **f64).requires_grad_()
        states = [torch.randn(batch, h, **f64).requires_grad_() for _ in range(1 + pair)]
        weights = [getattr(cell, name) for name in _NAMES]
        leaves = [x, *states, *weights]
        expected = cell(x, tuple(states)) if pair else cell(x, states[0])
        expected = expected if pair else (expected,)
        mine = [leaf.detach().clone().requires_grad_() for leaf in leaves]
        got = call(answer, *mine, what=what)
        got = tuple(got) if pair and isinstance(got, tuple | list) else got
        if pair and not (isinstance(got, tuple) and len(got) == 2):
            raise ExerciseFailed(f"{what}: expected the pair (h, c), got {type(got).__name__}")
        got = got if pair else (got,)
        case = f"(B, D, H) = {(batch, d, h)}"
        for name, g, e in zip(("h", "c"), got, expected, strict=False):
            assert_close(g, e, f"{what}, {case}: {name}", rtol=1e-9, atol=1e-9)
        upstream = [torch.randn(e.shape, **f64) for e in expected]
        grads = torch.autograd.grad(expected, leaves, upstream)
        if not all(isinstance(g, torch.Tensor) and g.requires_grad for g in got):
            raise ExerciseFailed(f"{what}: the result is detached; use torch operations only")
        my_grads = torch.autograd.grad(got, mine, upstream, allow_unused=True)
        labels = ["x", *("h", "c")[: 1 + pair], *_NAMES]
        for label, g, e in zip(labels, my_grads, grads, strict=True):
            g = torch.zeros_like(e) if g is None else g
            assert_close(g, e, f"{what}, {case}: gradient of {label}", rtol=1e-9, atol=1e-9)


def check_lstm_step(lstm_step: Callable) -> None:
    r"""Check ``lstm_step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh) -> (h, c)``.

    ``x`` is $(B, D)$, ``h`` and ``c`` are $(B, H)$, the weights are PyTorch's: $(4H, D)$ and
    $(4H, H)$ with the gate blocks in the order $i, f, g, o$, the biases $(4H,)$. The new
    ``(h, c)`` and the gradients of every argument are compared with ``torch.nn.LSTMCell``.

    Raises:
        ExerciseFailed: If a value or gradient differs, the answer crashes or is a stub.
    """
    _check_step(lstm_step, nn.LSTMCell, "lstm_step", pair=True)
    passed("lstm_step", "Its (h, c) and every gradient equal torch.nn.LSTMCell's.")


def check_gru_step(gru_step: Callable) -> None:
    r"""Check ``gru_step(x, h, weight_ih, weight_hh, bias_ih, bias_hh) -> h``.

    ``x`` is $(B, D)$ and ``h`` $(B, H)$; the weights are PyTorch's: $(3H, D)$ and $(3H, H)$ with
    the blocks in the order $r, z, n$, the biases $(3H,)$. The new state and the gradients of
    every argument are compared with ``torch.nn.GRUCell``.

    Raises:
        ExerciseFailed: If a value or gradient differs, the answer crashes or is a stub.
    """
    _check_step(gru_step, nn.GRUCell, "gru_step", pair=False)
    passed("gru_step", "Its new state and every gradient equal torch.nn.GRUCell's.")
