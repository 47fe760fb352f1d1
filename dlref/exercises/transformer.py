"""Checks for the exercises of the transformers page.

Explained on the page [Transformers](../architectures/transformers.md#exercises).

``check_post_norm`` compares the reader's post-norm block with PyTorch's
``nn.TransformerEncoderLayer(..., norm_first=False)`` on the same weights, values and gradients;
``check_gpt_parameters`` compares a parameter count with the parameters of a ``GPT`` built inside
the check. When an answer is wrong, the checks name the usual mistake it matches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from dlref.exercises.checking import (
    ExerciseFailed,
    assert_close,
    call,
    first_wrong_count,
    passed,
)
from dlref.models.transformer import GPT, TransformerBlock

__all__ = ["check_gpt_parameters", "check_post_norm"]


def check_post_norm(post_norm: Callable[[TransformerBlock, torch.Tensor], torch.Tensor]) -> None:
    """Check ``post_norm(block, x)``: the post-norm block on the pre-norm block's weights.

    The reference is ``nn.TransformerEncoderLayer(..., activation="gelu", batch_first=True,
    norm_first=False)`` loaded with ``block``'s ``state_dict``, in float64.

    Raises:
        ExerciseFailed: With a hint naming what differs, if the answer is not right yet.
    """
    torch.manual_seed(0)
    block = TransformerBlock(12, 3, 24).double()
    with torch.no_grad():  # not the default ones and zeros, so a misplaced norm shows
        for p in block.parameters():
            p.add_(0.3 * torch.randn_like(p))
    ref = nn.TransformerEncoderLayer(
        12, 3, 24, 0.0, activation="gelu", batch_first=True, norm_first=False, dtype=torch.float64
    )
    ref.load_state_dict(block.state_dict())
    x = torch.randn(2, 5, 12, dtype=torch.float64, requires_grad=True)
    got = call(post_norm, block, x, what="post_norm(block, x)")
    expected = ref(x)
    pre_norm = block(x)
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and got.allclose(pre_norm):
        raise ExerciseFailed(
            "value: post_norm returned the pre-norm block's output; post-norm normalises "
            "after each residual sum: h = LN1(x + MHA(x)), y = LN2(h + MLP(h))"
        )
    assert_close(got, expected, "post_norm(block, x)", rtol=1e-7, atol=1e-9)
    upstream = torch.randn_like(expected)
    (grad,) = torch.autograd.grad(got, x, upstream)
    (grad_ref,) = torch.autograd.grad(expected, x, upstream)
    assert_close(grad, grad_ref, "the gradient with respect to x", rtol=1e-7, atol=1e-9)
    passed("post_norm", "Equal to nn.TransformerEncoderLayer(norm_first=False), with gradients.")


def _count(vocab_size: int, block_size: int, n_layer: int, n_embd: int) -> int:
    """The number of distinct parameters of a ``GPT`` (the head shares the token embedding)."""
    model = GPT(vocab_size, block_size, n_layer, 1, n_embd)
    return sum(p.numel() for p in model.parameters())


_CASES = [(11, 17, 2, 64), (65, 32, 2, 48), (50257, 1024, 12, 768), (100, 8, 1, 4)]

_MISTAKES: dict[str, Callable[[int, int, int, int], int]] = {
    "it matches counting the head apart: its weight is the token embedding (tied), counted once": (
        lambda v, t, n, c: _formula(v, t, n, c) + v * c
    ),
    "it matches leaving out the biases and the layer norms' weights": (
        lambda v, t, n, c: v * c + t * c + n * 12 * c * c
    ),
    "it matches leaving out the position embeddings, block_size x n_embd": (
        lambda v, t, n, c: _formula(v, t, n, c) - t * c
    ),
    "it matches leaving out the final layer norm (2 n_embd)": (
        lambda v, t, n, c: _formula(v, t, n, c) - 2 * c
    ),
}


def _formula(v: int, t: int, n: int, c: int) -> int:
    """Embeddings, ``n`` blocks of ``12 c^2 + 13 c``, the final layer norm."""
    return v * c + t * c + n * (12 * c * c + 13 * c) + 2 * c


def check_gpt_parameters(count: Callable[[int, int, int, int], int]) -> None:
    """Check ``count(vocab_size, block_size, n_layer, n_embd)``: the parameters of a ``GPT``.

    Raises:
        ExerciseFailed: With a hint naming what differs, if the answer is not right yet.
    """
    answers = [
        call(count, *case, what=f"count{case}") for case in _CASES[:2] + [_CASES[3]]
    ]  # the GPT-2 small case is checked by the formula only (too large to build here)
    cases = _CASES[:2] + [_CASES[3]]
    expected = [_count(*case) for case in cases]
    first_wrong_count(answers, expected, [f"count{case}" for case in cases], cases, _MISTAKES)
    gpt2 = call(count, *_CASES[2], what=f"count{_CASES[2]}")
    passed(
        "gpt_parameters",
        f"GPT-2 small (12 layers, 768 features, 50257 tokens) has {gpt2:,} parameters.",
    )
