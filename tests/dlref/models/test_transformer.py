"""Tests of dlref.models.transformer against nn.TransformerEncoderLayer, and of GPT's behaviour."""

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlref.models.transformer import GPT, TransformerBlock, TransformerClassifier, causal_mask
from tests.dlref.compare import F64, TOL, forward_and_grads


def _pair(d_model=12, nhead=3, dim_feedforward=20, dropout=0.0, seed=0):
    """Our block and torch's, with the same random (not default) weights, in float64."""
    torch.manual_seed(seed)
    theirs = nn.TransformerEncoderLayer(
        d_model,
        nhead,
        dim_feedforward,
        dropout,
        activation="gelu",
        batch_first=True,
        norm_first=True,
        dtype=F64,
    )
    with torch.no_grad():  # not the default ones and zeros: the norms are compared too
        for p in theirs.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    ours = TransformerBlock(d_model, nhead, dim_feedforward, dropout).to(F64)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def test_block_has_the_state_dict_layout_of_torchs_encoder_layer():
    ours, theirs = _pair()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()
    }
    theirs.load_state_dict(ours.state_dict())  # and the other way round


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("mask", [None, "causal", "float", "padding"])
def test_block_matches_torch_values_and_gradients(mode, mask):
    ours, theirs = _pair()
    for module in (ours, theirs):
        module.train(mode == "train")
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(3, 5, 12, generator=generator, dtype=F64)  # (B, T, C)
    kwargs = {}
    if mask == "causal":
        kwargs["attn_mask"] = causal_mask(5)
    elif mask == "float":
        kwargs["attn_mask"] = torch.randn(5, 5, generator=generator, dtype=F64)
    elif mask == "padding":
        kwargs["key_padding_mask"] = torch.tensor([[False] * 5, [False] * 3 + [True] * 2] * 2)[:3]
    upstream = torch.randn(3, 5, 12, generator=generator, dtype=F64)
    y, dx, dp = forward_and_grads(ours, x, upstream, **kwargs)
    torch_kwargs = {"src_" + name.replace("attn_", ""): m for name, m in kwargs.items()}
    y_ref, dx_ref, dp_ref = forward_and_grads(theirs, x, upstream, **torch_kwargs)
    torch.testing.assert_close(y, y_ref, **TOL)
    torch.testing.assert_close(dx, dx_ref, **TOL)
    assert dp.keys() == dp_ref.keys()
    for name in dp:
        torch.testing.assert_close(dp[name], dp_ref[name], **TOL, msg=lambda m, n=name: f"{n}: {m}")


def test_block_drops_units_in_train_mode_only():
    ours, theirs = _pair(dropout=0.3)
    x = torch.randn(2, 4, 12, dtype=F64)
    assert not torch.allclose(ours(x), ours(x))  # a fresh dropout mask per call
    ours.eval()
    theirs.eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), **TOL)


def test_cached_block_equals_the_masked_one():
    ours, _ = _pair()
    ours.eval()
    x = torch.randn(2, 6, 12, dtype=F64)
    full = ours(x, attn_mask=causal_mask(6))
    first, cache = ours.forward_cached(x[:, :4], None)
    rest, cache = ours.forward_cached(x[:, 4:], cache)
    torch.testing.assert_close(torch.cat([first, rest], 1), full, **TOL)
    assert cache[0].shape == (2, 3, 6, 4)


def _gpt(seed=0, **kwargs):
    torch.manual_seed(seed)
    config = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16) | kwargs
    return GPT(**config).to(F64).eval()


def test_gpt_is_causal():
    model = _gpt()
    idx = torch.randint(0, 11, (2, 8))
    logits, _ = model(idx)
    for t in range(7):
        changed = idx.clone()
        changed[:, t + 1 :] = (changed[:, t + 1 :] + 1 + t) % 11  # change every later token
        torch.testing.assert_close(model(changed)[0][:, : t + 1], logits[:, : t + 1], **TOL)
        assert not torch.allclose(model(changed)[0][:, t + 1 :], logits[:, t + 1 :])


def test_gpt_loss_is_the_cross_entropy_of_its_logits():
    model = _gpt()
    idx, targets = torch.randint(0, 11, (3, 8)), torch.randint(0, 11, (3, 8))
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 8, 11)
    torch.testing.assert_close(loss, F.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1)))
    assert model(idx)[1] is None


@pytest.mark.parametrize("top_k", [None, 3])
@pytest.mark.parametrize("prompt_len", [1, 5])
def test_cached_generation_equals_uncached(top_k, prompt_len):
    model = _gpt(seed=2)
    prompt = torch.randint(0, 11, (3, prompt_len))
    samples = []
    for use_cache in (True, False):
        generator = torch.Generator().manual_seed(7)
        samples.append(
            model.generate(
                prompt, 14, temperature=1.3, top_k=top_k, use_cache=use_cache, generator=generator
            )
        )  # 14 new tokens: past block_size = 8, so the window slides too
    assert samples[0].shape == (3, prompt_len + 14)
    assert torch.equal(samples[0][:, :prompt_len], prompt)
    assert torch.equal(samples[0], samples[1])


def test_cached_step_logits_equal_the_full_forward():
    model = _gpt(seed=3)
    idx = torch.randint(0, 11, (2, 7))
    last, cache = model._step(idx[:, :4], None, 0)
    torch.testing.assert_close(last, model(idx[:, :4])[0][:, -1], **TOL)
    for t in range(4, 7):
        last, cache = model._step(idx[:, t : t + 1], cache, t)
        torch.testing.assert_close(last, model(idx[:, : t + 1])[0][:, -1], **TOL)


def test_gpt_ties_head_and_token_embedding_and_trains():
    torch.manual_seed(0)
    model = GPT(vocab_size=5, block_size=6, n_layer=1, n_head=2, n_embd=16)
    assert model.head.weight is model.tok_emb.weight
    idx = torch.tensor([[0, 1, 2, 3, 4, 0]] * 4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(60):
        _, loss = model(idx[:, :-1], idx[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.1


def test_classifier_pools_only_unpadded_positions():
    torch.manual_seed(0)
    model = TransformerClassifier(9, 6, d_model=8, nhead=2, num_layers=2, num_classes=3).eval()
    idx = torch.randint(1, 9, (2, 4))
    padded = torch.cat([idx, torch.zeros(2, 2, dtype=torch.long)], 1)
    mask = torch.tensor([[False] * 4 + [True] * 2] * 2)
    torch.testing.assert_close(model(padded, key_padding_mask=mask), model(idx))
    assert model(idx).shape == (2, 3)


def test_errors_name_the_caller_and_say_what_came():
    message = "TransformerBlock expects d_model divisible by nhead, got d_model=10, nhead=3"
    with pytest.raises(ValueError, match=re.escape(message)):
        TransformerBlock(10, 3, 20)
    with pytest.raises(ValueError, match="GPT expects n_embd divisible by n_head"):
        GPT(5, 8, 1, 3, 16)
    model = _gpt()
    with pytest.raises(
        ValueError, match=re.escape("GPT expects a sequence of at most 8 tokens, got 9")
    ):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(TypeError, match="GPT expects idx to be an integer tensor"):
        model(torch.zeros(1, 4))
    block = TransformerBlock(8, 2, 16)
    with pytest.raises(
        ValueError, match=re.escape("expects input of shape (B, T, 8), got (2, 3, 6)")
    ):
        block(torch.randn(2, 3, 6))
    with pytest.raises(
        ValueError, match=re.escape("attn_mask of shape (3, 3) or (4, 3, 3), got (4, 4)")
    ):
        block(torch.randn(2, 3, 8), attn_mask=causal_mask(4))
    with pytest.raises(ValueError, match="key_padding_mask of shape"):
        block(torch.randn(2, 3, 8), key_padding_mask=torch.zeros(3, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="GPT.generate expects temperature > 0"):
        model.generate(torch.zeros(1, 1, dtype=torch.long), 3, temperature=0.0)
