"""Checks for the exercises of the attention page.

Explained on the page [Attention](../architectures/attention.md#exercises).

Each check computes its reference with PyTorch inside the check: the output of
``torch.nn.functional.scaled_dot_product_attention`` (and its gradients, by autograd), and the
boolean causal mask that ``torch.nn.MultiheadAttention`` expects. When an answer is wrong, the
check tries the usual mistakes on the same input and names the one it matches.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dlref.exercises.checking import ExerciseFailed, assert_close, call, passed

__all__ = ["check_attention", "check_causal_mask"]


# --- 1. scaled dot-product attention by hand ---------------------------------------------------

_ATTENTION_MISTAKES = {
    "it matches leaving out the scaling: divide the scores by sqrt(d_k)": (
        lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1), -1) @ v
    ),
    "it matches dividing by d_k: the scale is sqrt(d_k), the scores' standard deviation": (
        lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1], -1) @ v
    ),
    "it matches a softmax over the queries (dim=-2): each query's weights over the keys sum "
    "to one, so the softmax runs along the last dimension": (
        lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), -2) @ v
    ),
}


def check_attention(attention) -> None:
    """Check ``attention(q, k, v)``: softmax(q k^T / sqrt(d_k)) v, values and gradients.

    Compared with ``torch.nn.functional.scaled_dot_product_attention`` on batched inputs with
    more keys than queries and a value size different from the key size.

    Raises:
        ExerciseFailed: With a hint naming what differs, if the answer is not right yet.
    """
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(2, 4, 8, generator=generator, dtype=torch.float64)  # (B, L, d_k)
    k = torch.randn(2, 6, 8, generator=generator, dtype=torch.float64)  # (B, S, d_k)
    v = torch.randn(2, 6, 3, generator=generator, dtype=torch.float64)  # (B, S, d_v)
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    got = call(attention, *leaves, what="attention(q, k, v)")
    expected = F.scaled_dot_product_attention(q, k, v)
    wrong = (
        isinstance(got, torch.Tensor)
        and got.shape == expected.shape
        and not torch.allclose(got.detach().double(), expected, rtol=1e-6, atol=1e-8)
    )
    if wrong:
        for hint, mistake in _ATTENTION_MISTAKES.items():
            if torch.allclose(got.detach().double(), mistake(q, k, v), atol=1e-8):
                raise ExerciseFailed(f"value: attention(q, k, v) differs from PyTorch's; {hint}")
    assert_close(got, expected, "value of attention(q, k, v)")
    if not got.requires_grad:
        raise ExerciseFailed(
            "gradient: the output does not depend on q, k, v through autograd (did you detach, "
            "or build it from .numpy()?)"
        )
    upstream = torch.randn(expected.shape, generator=generator, dtype=torch.float64)
    grads = torch.autograd.grad(got, leaves, upstream, allow_unused=True)
    twins = [t.clone().requires_grad_() for t in (q, k, v)]
    expected_grads = torch.autograd.grad(F.scaled_dot_product_attention(*twins), twins, upstream)
    for name, g, g_ref in zip("qkv", grads, expected_grads, strict=True):
        if g is None:
            raise ExerciseFailed(f"gradient: the output does not depend on {name}")
        assert_close(g, g_ref, f"gradient with respect to {name}")
    passed("attention", "values and gradients equal PyTorch's scaled_dot_product_attention.")


# --- 2. a causal mask in nn.MultiheadAttention's convention ------------------------------------


def check_causal_mask(causal_mask) -> None:
    """Check ``causal_mask(n)``: the boolean (n, n) mask ``nn.MultiheadAttention`` expects.

    ``True`` means *masked out*: query ``i`` may not look at keys ``j > i``. Checked for several
    sizes, and by running ``nn.MultiheadAttention`` with it: a later input never changes an
    earlier output.

    Raises:
        ExerciseFailed: With a hint naming what differs, if the answer is not right yet.
    """
    for n in (5, 8, 2, 1):
        got = call(causal_mask, n, what=f"causal_mask({n})")
        expected = torch.ones(n, n, dtype=torch.bool).triu(1)
        if not isinstance(got, torch.Tensor):
            raise ExerciseFailed(
                f"causal_mask({n}): expected a torch.Tensor, got {type(got).__name__}"
            )
        if tuple(got.shape) != (n, n):
            raise ExerciseFailed(f"causal_mask({n}): shape {tuple(got.shape)}, expected ({n}, {n})")
        if got.dtype != torch.bool:
            raise ExerciseFailed(
                f"causal_mask({n}): dtype {got.dtype}, expected torch.bool (a float mask is added "
                "to the scores, so 1.0 would mask nothing)"
            )
        if torch.equal(got, torch.ones(n, n, dtype=torch.bool).triu(0)):
            raise ExerciseFailed(
                f"causal_mask({n}) masks the diagonal too: a position may attend to itself"
            )
        if torch.equal(got, ~expected):
            raise ExerciseFailed(
                f"causal_mask({n}) is the opposite mask: True means *may attend* in "
                "F.scaled_dot_product_attention but *masked out* in nn.MultiheadAttention"
            )
        if not torch.equal(got, expected):
            index = tuple(torch.nonzero(got != expected)[0].tolist())
            raise ExerciseFailed(
                f"causal_mask({n}) at index {index}: got {bool(got[index])}, expected "
                f"{bool(expected[index])} (query i may look at keys j <= i only)"
            )
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    x = torch.randn(1, 6, 8)
    changed = x.clone()
    changed[:, 4:] = torch.randn(1, 2, 8)
    mask = causal_mask(6)
    same = (
        mha(x, x, x, attn_mask=mask)[0][:, :4],
        mha(changed, changed, changed, attn_mask=mask)[0][:, :4],
    )
    assert_close(same[1], same[0], "the first 4 outputs after changing inputs 5 and 6")
    passed("causal_mask", "True above the diagonal: no position sees a later one.")
