"""dlref.attention against torch: values, gradients, both mask conventions, state, errors."""

import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlref.attention import (
    MultiHeadAttention,
    scaled_dot_product_attention,
    sinusoidal_positional_encoding,
)
from tests.dlref.compare import F64, TOL, assert_same_state


def _leaves(*tensors):
    return [t.detach().clone().requires_grad_() for t in tensors]


def _assert_sdpa_matches_torch(q, k, v, **kwargs):
    """Output and gradients of query, key and value agree with F.scaled_dot_product_attention."""
    ours_in, theirs_in = _leaves(q, k, v), _leaves(q, k, v)
    out, weights = scaled_dot_product_attention(*ours_in, **kwargs)
    out_ref = F.scaled_dot_product_attention(*theirs_in, **kwargs)
    torch.testing.assert_close(out, out_ref, **TOL)
    upstream = torch.randn_like(out_ref)
    grads = torch.autograd.grad(out, ours_in, upstream)
    grads_ref = torch.autograd.grad(out_ref, theirs_in, upstream)
    for name, g, g_ref in zip("qkv", grads, grads_ref, strict=True):
        torch.testing.assert_close(g, g_ref, **TOL, msg=lambda m, n=name: f"grad of {n}: {m}")
    return weights


def _qkv(shape_q, shape_k, d_v, seed=0):
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn(*shape_q, generator=generator, dtype=F64)
    k = torch.randn(*shape_k, generator=generator, dtype=F64)
    v = torch.randn(*shape_k[:-1], d_v, generator=generator, dtype=F64)
    return q, k, v


@pytest.mark.parametrize(
    ("shape_q", "shape_k", "d_v"),
    [((5, 8), (7, 8), 3), ((2, 5, 8), (2, 7, 8), 4), ((2, 3, 6, 4), (2, 3, 6, 4), 4)],
)
def test_sdpa_matches_torch(shape_q, shape_k, d_v):
    q, k, v = _qkv(shape_q, shape_k, d_v)
    weights = _assert_sdpa_matches_torch(q, k, v)
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1], dtype=F64))
    expected = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    torch.testing.assert_close(weights, expected, **TOL)


@pytest.mark.parametrize(("L", "S"), [(6, 6), (4, 6), (6, 4)])
def test_sdpa_causal_matches_torch(L, S):
    q, k, v = _qkv((2, 3, L, 8), (2, 3, S, 8), 5, seed=1)
    weights = _assert_sdpa_matches_torch(q, k, v, is_causal=True)
    future = ~torch.ones(L, S, dtype=torch.bool).tril()
    assert (weights[..., future] == 0).all()


def test_sdpa_boolean_mask_true_means_may_attend():
    q, k, v = _qkv((2, 5, 8), (2, 6, 8), 3, seed=2)
    generator = torch.Generator().manual_seed(3)
    mask = torch.rand(2, 5, 6, generator=generator) > 0.4
    mask[..., 0] = True  # every query may attend to something
    weights = _assert_sdpa_matches_torch(q, k, v, attn_mask=mask)
    assert (weights[~mask] == 0).all() and (weights[mask] > 0).all()


@pytest.mark.parametrize("shape", [(6,), (5, 6), (1, 5, 6), (2, 1, 6)])
def test_sdpa_boolean_mask_broadcasts_like_torch(shape):
    q, k, v = _qkv((2, 5, 8), (2, 6, 8), 3, seed=4)
    mask = torch.ones(shape, dtype=torch.bool)
    mask[..., -2:] = False
    _assert_sdpa_matches_torch(q, k, v, attn_mask=mask)


def test_sdpa_additive_mask_matches_torch():
    q, k, v = _qkv((2, 5, 8), (2, 6, 8), 3, seed=5)
    mask = torch.randn(5, 6, dtype=F64)
    mask[:, 3] = -math.inf
    weights = _assert_sdpa_matches_torch(q, k, v, attn_mask=mask)
    assert (weights[..., 3] == 0).all()


def test_sdpa_dropout_zeroes_and_rescales_weights():
    q, k, v = _qkv((4, 16, 8), (4, 16, 8), 3, seed=6)
    torch.manual_seed(0)
    out, weights = scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    _, clean = scaled_dot_product_attention(q, k, v)
    kept = weights != 0
    assert 0.3 < kept.double().mean() < 0.7
    torch.testing.assert_close(weights[kept], 2 * clean[kept], **TOL)
    torch.testing.assert_close(out, weights @ v, **TOL)


def _pair(embed_dim=8, num_heads=2, bias=True, seed=0):
    """Our MultiHeadAttention and torch's, float64, with the same (random) weights."""
    torch.manual_seed(seed)
    theirs = nn.MultiheadAttention(embed_dim, num_heads, bias=bias, batch_first=True).double()
    with torch.no_grad():
        for p in theirs.parameters():  # biases are zero at start: make them count
            p.copy_(torch.randn_like(p) * 0.5)
    ours = MultiHeadAttention(embed_dim, num_heads, bias=bias).double()
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _assert_mha_matches_torch(ours, theirs, query, key, value, **kwargs):
    """Outputs, head-averaged weights and all gradients (inputs and parameters) agree."""
    self_attention = key is query
    ins = _leaves(query, key, value)
    ins_ref = _leaves(query, key, value)
    if self_attention:
        ins[1] = ins[2] = ins[0]
        ins_ref[1] = ins_ref[2] = ins_ref[0]
    out, weights = ours(*ins, **kwargs)
    out_ref, weights_ref = theirs(*ins_ref, **kwargs)
    torch.testing.assert_close(out, out_ref, **TOL, msg=lambda m: f"output: {m}")
    if weights_ref is None:
        assert weights is None
    else:
        torch.testing.assert_close(weights, weights_ref, **TOL, msg=lambda m: f"weights: {m}")
    upstream = torch.randn_like(out_ref)
    leaves = ins[:1] if self_attention else ins
    leaves_ref = ins_ref[:1] if self_attention else ins_ref
    params = dict(ours.named_parameters())
    params_ref = dict(theirs.named_parameters())
    assert params.keys() == params_ref.keys()
    grads = torch.autograd.grad(out, [*leaves, *params.values()], upstream)
    grads_ref = torch.autograd.grad(out_ref, [*leaves_ref, *params_ref.values()], upstream)
    names = [*"qkv"[: len(leaves)], *params]
    for name, g, g_ref in zip(names, grads, grads_ref, strict=True):
        torch.testing.assert_close(g, g_ref, **TOL, msg=lambda m, n=name: f"grad of {n}: {m}")


@pytest.mark.parametrize(("embed_dim", "num_heads"), [(8, 1), (8, 2), (12, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_mha_self_attention_matches_torch(embed_dim, num_heads, bias):
    ours, theirs = _pair(embed_dim, num_heads, bias)
    x = torch.randn(3, 5, embed_dim, dtype=F64)
    _assert_mha_matches_torch(ours, theirs, x, x, x)


def test_mha_cross_attention_matches_torch():
    ours, theirs = _pair(12, 3, seed=1)
    query, key, value = torch.randn(2, 4, 12, dtype=F64), *torch.randn(2, 2, 7, 12, dtype=F64)
    _assert_mha_matches_torch(ours, theirs, query, key, value)


def test_mha_without_weights_matches_torch():
    ours, theirs = _pair(8, 2, seed=2)
    x = torch.randn(2, 5, 8, dtype=F64)
    _assert_mha_matches_torch(ours, theirs, x, x, x, need_weights=False)


def test_mha_boolean_masks_true_means_masked_out():
    ours, theirs = _pair(8, 2, seed=3)
    x = torch.randn(2, 5, 8, dtype=F64)
    causal = torch.ones(5, 5, dtype=torch.bool).triu(1)  # True above the diagonal: masked out
    padding = torch.tensor([[False] * 5, [False, False, False, True, True]])
    for kwargs in (
        {"attn_mask": causal},
        {"key_padding_mask": padding},
        {"attn_mask": causal, "key_padding_mask": padding},
    ):
        _assert_mha_matches_torch(ours, theirs, x, x, x, **kwargs)
        _, weights = ours(x, x, x, **kwargs)
        if "attn_mask" in kwargs:
            assert (weights[:, causal] == 0).all()
        if "key_padding_mask" in kwargs:
            assert (weights[1, :, 3:] == 0).all()


def test_the_two_boolean_conventions_are_opposite():
    """The same boolean mask means 'may attend' to one and 'masked out' to the other."""
    ours, _ = _pair(8, 1, seed=4)
    x = torch.randn(1, 5, 8, dtype=F64)
    first_three = torch.tensor([True, True, True, False, False]).expand(5, 5)  # (L, S)
    _, weights_sdpa = scaled_dot_product_attention(x, x, x, attn_mask=first_three)
    _, weights_mha = ours(x, x, x, attn_mask=first_three)
    assert (weights_sdpa[..., 3:] == 0).all() and (weights_sdpa[..., :3] > 0).all()
    assert (weights_mha[..., :3] == 0).all() and (weights_mha[..., 3:] > 0).all()


def test_mha_additive_and_per_head_masks_match_torch():
    ours, theirs = _pair(8, 2, seed=5)
    query, key = torch.randn(2, 4, 8, dtype=F64), torch.randn(2, 6, 8, dtype=F64)
    additive = torch.randn(4, 6, dtype=F64)
    per_head = torch.rand(2 * 2, 4, 6) > 0.5
    per_head[..., 0] = False  # every query keeps a key
    padding = torch.zeros(2, 6, dtype=F64)
    padding[0, -1] = -math.inf
    for kwargs in (
        {"attn_mask": additive},
        {"attn_mask": per_head},
        {"attn_mask": additive, "key_padding_mask": padding},
        {"attn_mask": per_head, "key_padding_mask": padding == -math.inf},
    ):
        _assert_mha_matches_torch(ours, theirs, query, key, key.clone(), **kwargs)


def test_mha_state_dict_loads_both_ways_and_same_seed_same_weights():
    torch.manual_seed(7)
    theirs = nn.MultiheadAttention(12, 3, batch_first=True)
    torch.manual_seed(7)
    ours = MultiHeadAttention(12, 3)
    assert_same_state(ours, theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for bias in (True, False):
        ours, theirs = _pair(12, 3, bias=bias, seed=8)
        fresh = nn.MultiheadAttention(12, 3, bias=bias, batch_first=True).double()
        fresh.load_state_dict(ours.state_dict())
        assert_same_state(fresh, theirs)
        x = torch.randn(2, 5, 12, dtype=F64)
        torch.testing.assert_close(fresh(x, x, x)[0], ours(x, x, x)[0], **TOL)


def test_mha_dropout_acts_in_training_only():
    ours = MultiHeadAttention(8, 2, dropout=0.5)
    x = torch.randn(2, 6, 8)
    ours.eval()
    torch.testing.assert_close(ours(x, x, x)[0], ours(x, x, x)[0])
    ours.train()
    torch.manual_seed(0)
    _, weights = ours(x, x, x)
    assert not torch.allclose(weights.sum(-1), torch.ones(2, 6))


def test_sinusoidal_positional_encoding_follows_the_formula():
    pe = sinusoidal_positional_encoding(50, 16)
    assert pe.shape == (50, 16) and pe.dtype == torch.get_default_dtype()
    for p in (0, 1, 7, 49):
        for i in range(8):
            angle = p / 10000 ** (2 * i / 16)
            assert math.isclose(pe[p, 2 * i], math.sin(angle), abs_tol=1e-6)
            assert math.isclose(pe[p, 2 * i + 1], math.cos(angle), abs_tol=1e-6)
    odd = sinusoidal_positional_encoding(10, 7)  # three (sin, cos) pairs, then a sine
    assert odd.shape == (10, 7)
    for i in range(4):
        angle = 9 / 10000 ** (2 * i / 7)
        assert math.isclose(odd[9, 2 * i], math.sin(angle), abs_tol=1e-6)


def test_positional_encoding_shift_is_a_rotation():
    """PE[p + k] is the same linear map of PE[p] for every p (a rotation per column pair)."""
    pe = sinusoidal_positional_encoding(40, 8).double()
    k = 3
    rotation = torch.linalg.lstsq(pe[:-k], pe[k:]).solution  # (8, 8)
    torch.testing.assert_close(pe[:-k] @ rotation, pe[k:], rtol=1e-6, atol=1e-6)


def _raises(error, message, fn, *args, **kwargs):
    with pytest.raises(error, match=re.escape(message)):
        fn(*args, **kwargs)


def test_errors_name_the_caller_and_say_what_came():
    _raises(
        ValueError,
        "MultiHeadAttention expects embed_dim divisible by num_heads, "
        "got embed_dim=10, num_heads=3",
        MultiHeadAttention,
        10,
        3,
    )
    _raises(
        TypeError,
        "MultiHeadAttention expects embed_dim to be an int, got float 8.0",
        MultiHeadAttention,
        8.0,
        2,
    )
    _raises(
        ValueError, "MultiHeadAttention expects num_heads >= 1, got 0", MultiHeadAttention, 8, 0
    )
    _raises(
        ValueError,
        "MultiHeadAttention expects dropout in [0, 1), got 1.5",
        MultiHeadAttention,
        8,
        2,
        dropout=1.5,
    )
    mha = MultiHeadAttention(8, 2)
    x, y = torch.randn(2, 5, 8), torch.randn(2, 6, 8)
    _raises(
        ValueError,
        "MultiHeadAttention expects query of shape (B, L, 8), got (2, 5, 7)",
        mha,
        torch.randn(2, 5, 7),
        y,
        y,
    )
    _raises(
        ValueError,
        "MultiHeadAttention expects query of shape (B, L, 8), got (5, 8)",
        mha,
        torch.randn(5, 8),
        y,
        y,
    )
    _raises(
        ValueError,
        "MultiHeadAttention expects key of shape (2, S, 8), got (2, 6, 4)",
        mha,
        x,
        torch.randn(2, 6, 4),
        y,
    )
    _raises(
        ValueError,
        "MultiHeadAttention expects value of shape (2, 6, 8), like key, got (2, 5, 8)",
        mha,
        x,
        y,
        x,
    )
    _raises(
        TypeError,
        "MultiHeadAttention expects query to be a floating-point tensor",
        mha,
        torch.ones(2, 5, 8, dtype=torch.long),
        y,
        y,
    )
    _raises(
        ValueError,
        "MultiHeadAttention expects attn_mask of shape (5, 6) or (4, 5, 6), got (5, 5)",
        mha,
        x,
        y,
        y,
        attn_mask=torch.zeros(5, 5, dtype=torch.bool),
    )
    _raises(
        ValueError,
        "MultiHeadAttention expects attn_mask of shape (5, 6) or (4, 5, 6), got (2, 5, 6)",
        mha,
        x,
        y,
        y,
        attn_mask=torch.zeros(2, 5, 6, dtype=torch.bool),
    )
    _raises(
        ValueError,
        "MultiHeadAttention expects key_padding_mask of shape (2, 6), got (2, 5)",
        mha,
        x,
        y,
        y,
        key_padding_mask=torch.zeros(2, 5, dtype=torch.bool),
    )
    _raises(
        TypeError,
        "MultiHeadAttention expects key_padding_mask to be a boolean or "
        "floating-point tensor, got dtype torch.int64",
        mha,
        x,
        y,
        y,
        key_padding_mask=torch.zeros(2, 6, dtype=torch.long),
    )
    _raises(
        TypeError,
        "MultiHeadAttention expects attn_mask to be a torch.Tensor, got list",
        mha,
        x,
        y,
        y,
        attn_mask=[[True]],
    )


def test_sdpa_errors_name_the_caller_and_say_what_came():
    q, k, v = torch.randn(2, 5, 8), torch.randn(2, 6, 8), torch.randn(2, 6, 3)
    sdpa = scaled_dot_product_attention
    _raises(
        ValueError,
        "scaled_dot_product_attention expects key of shape (..., S, 8) to match "
        "query's last dimension, got (2, 6, 4)",
        sdpa,
        q,
        torch.randn(2, 6, 4),
        v,
    )
    _raises(
        ValueError,
        "scaled_dot_product_attention expects value of shape (..., 6, d_v), one "
        "value per key, got (2, 5, 3)",
        sdpa,
        q,
        k,
        torch.randn(2, 5, 3),
    )
    _raises(
        ValueError,
        "scaled_dot_product_attention expects query of shape (..., n, d), got (8,)",
        sdpa,
        torch.randn(8),
        k,
        v,
    )
    _raises(
        ValueError,
        "scaled_dot_product_attention expects attn_mask broadcastable to "
        "(..., L, S) = (2, 5, 6), got (5, 5)",
        sdpa,
        q,
        k,
        v,
        attn_mask=torch.ones(5, 5, dtype=torch.bool),
    )
    _raises(
        ValueError,
        "scaled_dot_product_attention expects attn_mask=None when is_causal=True",
        sdpa,
        q,
        k,
        v,
        attn_mask=torch.ones(5, 6, dtype=torch.bool),
        is_causal=True,
    )
    _raises(
        TypeError,
        "scaled_dot_product_attention expects value to be a floating-point tensor",
        sdpa,
        q,
        k,
        torch.ones(2, 6, 3, dtype=torch.long),
    )
    _raises(
        TypeError,
        "sinusoidal_positional_encoding expects d_model to be an int, got float 4.0",
        sinusoidal_positional_encoding,
        3,
        4.0,
    )
    _raises(
        ValueError,
        "sinusoidal_positional_encoding expects max_len >= 1, got 0",
        sinusoidal_positional_encoding,
        0,
        4,
    )
