r"""Attention from scratch: scaled dot-product attention, multi-head attention, positions.

Explained on the page [Attention](../architectures/attention.md).

**Scaled dot-product attention.** Each of $L$ queries $q_i \in \mathbb{R}^{d_k}$ is compared
with each of $S$ keys $k_j \in \mathbb{R}^{d_k}$ by a dot product; a softmax over the keys turns
the scores into weights, and the output is the weighted mean of the values $v_j$. With the
queries, keys and values as the rows of $Q$ $(L, d_k)$, $K$ $(S, d_k)$ and $V$ $(S, d_v)$:

$$
\begin{aligned}
A &= \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}} + M\right), \\
\mathrm{Attention}(Q, K, V) &= A V.
\end{aligned}
$$

The softmax runs along each row, so each row of the weights $A$ $(L, S)$ sums to one. The
division by $\sqrt{d_k}$ keeps the scores' variance at one: for $q$ and $k$ with independent
entries of mean 0 and variance 1, $q \cdot k$ has variance $d_k$, and unscaled scores that large
saturate the softmax (one weight near one, gradients near zero).

**Masks.** $M$ $(L, S)$ is added to the scores: $0$ where query $i$ may look at key $j$,
$-\infty$ where it may not (its weight becomes exactly zero). A causal mask forbids $j > i$
(no looking at the future); a padding mask forbids the keys that are padding. The two torch
functions this module mirrors write a *boolean* mask with opposite meanings:

- ``scaled_dot_product_attention`` (like ``torch.nn.functional.scaled_dot_product_attention``):
  ``True`` means *may attend*.
- ``MultiHeadAttention`` (like ``torch.nn.MultiheadAttention``): ``True`` means *masked out*.

A floating-point mask is added to the scores in both.

**Multi-head attention.** $h$ heads attend in parallel, each in its own subspace of size
$d = E / h$ of the embedding size $E$. Head $i$ projects the inputs with its own
$W_i^Q, W_i^K, W_i^V$ $(E, d)$; the heads' outputs are concatenated and mixed by $W^O$ $(E, E)$,
with $\mathrm{Attn}$ the scaled dot-product attention above:

$$
\begin{aligned}
\mathrm{head}_i &= \mathrm{Attn}(Q W_i^Q, K W_i^K, V W_i^V), \\
\mathrm{MHA} &= [\mathrm{head}_1, \dots, \mathrm{head}_h]\, W^O,
\end{aligned}
$$

The cost is the same as one head of size $E$; the heads can attend to different positions.
In self-attention $Q$, $K$ and $V$ are the same sequence; in cross-attention the keys and values
come from another one (the encoder's output, in a translation model).

**Sinusoidal positional encoding.** Attention is blind to order (permuting the keys and values
permutes nothing in the output), so Vaswani et al. (2017) add to the embedding at position $p$

$$
\begin{aligned}
\mathrm{PE}_{p, 2i} &= \sin\!\left(p / 10000^{2i/d}\right), \\
\mathrm{PE}_{p, 2i+1} &= \cos\!\left(p / 10000^{2i/d}\right),
\end{aligned}
$$

sines and cosines of wavelengths from $2\pi$ to $10000 \cdot 2\pi$; $\mathrm{PE}_{p+k}$ is a
linear function (a rotation in each pair of columns) of $\mathrm{PE}_p$.

Everything here is checked against ``torch.nn.functional.scaled_dot_product_attention`` and
``torch.nn.MultiheadAttention(..., batch_first=True)`` in the tests, values and gradients in
float64, including both mask conventions and ``load_state_dict`` in both directions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dlref import checks
from dlref.init import xavier_uniform_

__all__ = [
    "MultiHeadAttention",
    "scaled_dot_product_attention",
    "sinusoidal_positional_encoding",
]


def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    *,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Attention of each query over the keys: $\mathrm{softmax}(QK^\top/\sqrt{d_k} + M)\,V$.

    Follows ``torch.nn.functional.scaled_dot_product_attention``, whose output it equals, and
    returns the attention weights too.

    Args:
        query: Queries, shape $(\ldots, L, d_k)$.
        key: Keys, shape $(\ldots, S, d_k)$.
        value: Values, shape $(\ldots, S, d_v)$.
        attn_mask: A mask broadcastable to $(\ldots, L, S)$. Boolean: ``True`` means the query
            *may attend* to the key (torch's convention for this function). Floating point:
            added to the scores (``-inf`` forbids).
        is_causal: Forbid each query $i$ to attend to keys $j > i$ (top-left aligned, as torch).
            Cannot be combined with ``attn_mask``.
        dropout_p: Probability of zeroing an attention weight (the rest are scaled by
            $1/(1-p)$), as in training; ``0`` by default.

    Returns:
        The output, shape $(\ldots, L, d_v)$, and the weights $A$, shape $(\ldots, L, S)$ (after
        dropout, the ones that multiplied the values). A query with every key masked out gets
        NaN, as with PyTorch's softmax.

    Raises:
        TypeError: If an input is not a floating-point tensor, or the mask neither boolean nor
            floating point.
        ValueError: If the shapes do not fit together, or a mask is given with ``is_causal``.

    Examples:
        >>> import torch
        >>> from dlref.attention import scaled_dot_product_attention
        >>> q, k, v = torch.randn(2, 5, 8), torch.randn(2, 7, 8), torch.randn(2, 7, 3)
        >>> output, weights = scaled_dot_product_attention(q, k, v)
        >>> output.shape, weights.shape
        (torch.Size([2, 5, 3]), torch.Size([2, 5, 7]))
    """
    mask = _sdpa_mask("scaled_dot_product_attention", query, key, value, attn_mask, is_causal)
    return _attend(query, key, value, mask, dropout_p)


# --8<-- [start:attend]
def _attend(q, k, v, mask, dropout_p=0.0):
    """softmax(q k^T / sqrt(d_k) + mask) v, with an additive mask (or None)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., L, S)
    if mask is not None:
        scores = scores + mask  # -inf where a query may not look
    weights = torch.softmax(scores, dim=-1)  # each row sums to 1
    if dropout_p > 0:
        weights = F.dropout(weights, dropout_p)  # zero some weights, scale the rest
    return weights @ v, weights  # (..., L, d_v), (..., L, S)


# --8<-- [end:attend]


class MultiHeadAttention(nn.Module):
    r"""Multi-head attention with the arguments, state and masks of ``nn.MultiheadAttention``.

    Batch-first: inputs are $(B, L, E)$, as ``nn.MultiheadAttention(..., batch_first=True)``.
    It holds ``in_proj_weight`` $(3E, E)$, the query, key and value projections stacked (row
    blocks $W^Q, W^K, W^V$, each split into $h$ heads of $d = E/h$ rows), ``in_proj_bias``
    $(3E,)$, and ``out_proj``, a linear layer $E \to E$ ($W^O$): the same ``state_dict`` keys and
    shapes as PyTorch's, so ``load_state_dict`` works in both directions. They start as
    PyTorch's do (Xavier-uniform projections, zero biases); the same seed gives the same weights.

    Masks follow ``nn.MultiheadAttention``: a boolean ``True`` means *masked out* (the opposite
    of [`scaled_dot_product_attention`][dlref.attention.scaled_dot_product_attention]); a
    floating-point mask is added to the scores.

    Args:
        embed_dim: Size of each embedding, $E$.
        num_heads: Number of heads $h$; it divides ``embed_dim``.
        dropout: Probability of zeroing an attention weight in training.
        bias: Whether the projections have biases.

    Raises:
        TypeError: If a size is not an int.
        ValueError: If a size is out of range or ``num_heads`` does not divide ``embed_dim``.

    Examples:
        >>> import torch
        >>> from dlref.attention import MultiHeadAttention
        >>> mha = MultiHeadAttention(embed_dim=16, num_heads=4)
        >>> x = torch.randn(2, 5, 16)  # (B, L, E)
        >>> output, weights = mha(x, x, x)  # self-attention
        >>> output.shape, weights.shape
        (torch.Size([2, 5, 16]), torch.Size([2, 5, 5]))
    """

    def __init__(
        self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True
    ) -> None:
        super().__init__()
        checks.divisible("MultiHeadAttention", "embed_dim", embed_dim, "num_heads", num_heads)
        checks.number("MultiHeadAttention", "dropout", dropout, 0, 1)
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)  # draws as torch's does
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform ``in_proj_weight``, zero biases (``out_proj.weight`` stays as drawn)."""
        xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)

    # --8<-- [start:forward]
    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        attn_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from ``query`` (B, L, E) to ``key``/``value`` (B, S, E); weights head-averaged."""
        mask = _mha_mask(self, query, key, value, key_padding_mask, attn_mask)  # (B, h, L, S)
        B, L, E = query.shape
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)  # each (E, E)
        b_q, b_k, b_v = (None,) * 3 if self.in_proj_bias is None else self.in_proj_bias.chunk(3)

        def heads(x, w, b):  # (B, T, E) -> (B, h, T, d)
            return F.linear(x, w, b).view(B, -1, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(query, w_q, b_q), heads(key, w_k, b_k), heads(value, w_v, b_v)
        p = self.dropout if self.training else 0.0
        out, weights = _attend(q, k, v, mask, p)  # (B, h, L, d), (B, h, L, S)
        out = self.out_proj(out.transpose(1, 2).reshape(B, L, E))  # concatenate heads, mix
        return out, weights.mean(dim=1) if need_weights else None  # (B, L, E), (B, L, S)

    # --8<-- [end:forward]


def sinusoidal_positional_encoding(max_len: int, d_model: int) -> torch.Tensor:
    r"""The sinusoidal positional encodings of Vaswani et al. (2017), shape ``(max_len, d_model)``.

    Row $p$ holds $\sin(p\,\omega_i)$ in column $2i$ and $\cos(p\,\omega_i)$ in column $2i+1$,
    with frequencies $\omega_i = 10000^{-2i/d}$. An odd ``d_model`` ends with a sine column.

    Args:
        max_len: Number of positions.
        d_model: Size of each encoding.

    Raises:
        TypeError: If a size is not an int.
        ValueError: If a size is below 1.

    Examples:
        >>> from dlref.attention import sinusoidal_positional_encoding
        >>> sinusoidal_positional_encoding(3, 4)[0]  # position 0: sin 0 = 0, cos 0 = 1
        tensor([0., 1., 0., 1.])
    """
    checks.integer("sinusoidal_positional_encoding", "max_len", max_len, 1)
    checks.integer("sinusoidal_positional_encoding", "d_model", d_model, 1)
    position = torch.arange(max_len, dtype=torch.float64)[:, None]  # (max_len, 1)
    omega = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (d/2,)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * omega)  # even columns
    pe[:, 1::2] = torch.cos(position * omega[: d_model // 2])  # odd columns
    return pe.to(torch.get_default_dtype())


def _mask_tensor(caller: str, name: str, mask: object) -> torch.Tensor:
    """Check that ``mask`` is a boolean or floating-point tensor."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{caller} expects {name} to be a torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise TypeError(
            f"{caller} expects {name} to be a boolean or floating-point tensor, "
            f"got dtype {mask.dtype}"
        )
    return mask


def _additive(mask: torch.Tensor, masked_out: torch.Tensor | bool, dtype) -> torch.Tensor:
    """A mask to add to the scores: a boolean one becomes -inf where ``masked_out``, else 0."""
    if mask.dtype != torch.bool:
        return mask.to(dtype)
    zeros = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    return zeros.masked_fill(masked_out, -math.inf)


def _sdpa_mask(caller, query, key, value, attn_mask, is_causal) -> torch.Tensor | None:
    """Check the arguments of ``scaled_dot_product_attention``; return the additive mask."""
    for name, x in (("query", query), ("key", key), ("value", value)):
        checks.floating_tensor(caller, x, name)
        if x.dim() < 2:
            raise ValueError(f"{caller} expects {name} of shape (..., n, d), got {tuple(x.shape)}")
    L, S = query.shape[-2], key.shape[-2]
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(
            f"{caller} expects key of shape (..., S, {query.shape[-1]}) to match query's "
            f"last dimension, got {tuple(key.shape)}"
        )
    if value.shape[-2] != S:
        raise ValueError(
            f"{caller} expects value of shape (..., {S}, d_v), one value per key, "
            f"got {tuple(value.shape)}"
        )
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{caller} expects attn_mask=None when is_causal=True, got a mask")
        attn_mask = torch.ones(L, S, dtype=torch.bool, device=query.device).tril()
    if attn_mask is None:
        return None
    mask = _mask_tensor(caller, "attn_mask", attn_mask)
    try:
        torch.broadcast_shapes(mask.shape, (*query.shape[:-1], S))
    except RuntimeError:
        raise ValueError(
            f"{caller} expects attn_mask broadcastable to (..., L, S) = "
            f"{(*query.shape[:-1], S)}, got {tuple(mask.shape)}"
        ) from None
    return _additive(mask, ~mask if mask.dtype == torch.bool else False, query.dtype)


def _mha_mask(mha, query, key, value, key_padding_mask, attn_mask) -> torch.Tensor | None:
    """Check the inputs of ``MultiHeadAttention``; return one additive mask (B, h, L, S)."""
    caller, E, h = "MultiHeadAttention", mha.embed_dim, mha.num_heads
    for name, x in (("query", query), ("key", key), ("value", value)):
        checks.floating_tensor(caller, x, name)
    checks.shape(caller, "query", query, (None, None, E), f"(B, L, {E})")
    B, L = query.shape[:2]
    checks.shape(caller, "key", key, (B, None, E), f"({B}, S, {E})")
    S = key.shape[1]
    checks.shape(caller, "value", value, (B, S, E), f"({B}, {S}, {E}), like key")
    mask = None
    if attn_mask is not None:
        attn_mask = _mask_tensor(caller, "attn_mask", attn_mask)
        if attn_mask.dim() == 3:
            checks.shape(
                caller, "attn_mask", attn_mask, (B * h, L, S), f"({L}, {S}) or {(B * h, L, S)}"
            )
            attn_mask = attn_mask.view(B, h, L, S)  # row b * h + i is batch b, head i
        else:
            checks.shape(caller, "attn_mask", attn_mask, (L, S), f"({L}, {S}) or {(B * h, L, S)}")
        mask = _additive(attn_mask, attn_mask, query.dtype)  # True = masked out
    if key_padding_mask is not None:
        padding = _mask_tensor(caller, "key_padding_mask", key_padding_mask)
        checks.shape(caller, "key_padding_mask", padding, (B, S), f"({B}, {S})")
        padding = _additive(padding, padding, query.dtype).view(B, 1, 1, S)
        mask = padding if mask is None else mask + padding
    return mask
