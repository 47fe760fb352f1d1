r"""Transformers: a pre-norm block, a GPT-style language model and an encoder that classifies.

Explained on the page [Transformers](../../architectures/transformers.md).

A block keeps the shape $(B, T, C)$ of its input $x$ (batch, positions, $C$ = ``d_model``
features) and adds two sublayers to it, each applied to a layer-normalised copy (pre-norm,
Xiong et al. 2020):

$$
\begin{aligned}
h &= x + \operatorname{MHA}(\operatorname{LN}_1(x)), \\
y &= h + \operatorname{MLP}(\operatorname{LN}_2(h)),
\end{aligned}
$$

with $\operatorname{MLP}(u) = \operatorname{GELU}(u W_1^\top + b_1) W_2^\top + b_2$, $W_1$ of
shape $(F, C)$ for ``dim_feedforward`` $= F$ (usually $4C$). Attention is the only place where
positions exchange information; the MLP works on each position alone. The residual path
$x \to y$ is never normalised, so gradients reach the first block unchanged, which is why pre-norm
trains without the learning-rate warm-up a post-norm block (Vaswani et al. 2017) needs.

``GPT`` (Radford et al. 2019, after nanoGPT) turns token indices $t_1, \dots, t_T$ into
$x_i = E[t_i] + P[i]$ (learned token and position embeddings), runs causal blocks (position $i$
attends to positions $j \le i$ only), a final layer norm and a linear head to logits over the
vocabulary, and is trained to predict $t_{i+1}$ from $t_1, \dots, t_i$ with cross-entropy.
Generation samples one token at a time; a key/value cache keeps each block's keys and values of
the positions already seen, so a step computes one new row of attention instead of $T$.

``TransformerClassifier`` is the encoder: the same blocks without the causal mask (every
position sees every other), then the mean of the positions' features, then a linear classifier.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dlref import checks
from dlref.attention import MultiHeadAttention

__all__ = ["GPT", "TransformerBlock", "TransformerClassifier", "causal_mask"]

KVCache = list[tuple[torch.Tensor, torch.Tensor]]


def _check_features(caller: str, x: object, d_model: int) -> None:
    """Raise unless ``x`` is a floating tensor of shape ``(B, T, d_model)``."""
    checks.floating_tensor(caller, x)
    if x.dim() != 3 or x.shape[-1] != d_model:
        raise ValueError(f"{caller} expects input of shape (B, T, {d_model}), got {tuple(x.shape)}")


def _check_mask(caller: str, name: str, mask: torch.Tensor | None, shapes: list[tuple]) -> None:
    """Raise unless ``mask`` is ``None`` or a tensor of one of ``shapes``."""
    if mask is None:
        return
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{caller} expects {name} to be a torch.Tensor, got {type(mask).__name__}")
    if tuple(mask.shape) not in shapes:
        wanted = " or ".join(str(shape) for shape in shapes)
        raise ValueError(f"{caller} expects {name} of shape {wanted}, got {tuple(mask.shape)}")


def _check_tokens(caller: str, idx: object, max_len: int) -> None:
    """Raise unless ``idx`` is an integer tensor ``(B, T)`` with ``1 <= T <= max_len``."""
    if not isinstance(idx, torch.Tensor):
        raise TypeError(f"{caller} expects idx to be a torch.Tensor, got {type(idx).__name__}")
    if idx.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise TypeError(f"{caller} expects idx to be an integer tensor, got dtype {idx.dtype}")
    if idx.dim() != 2 or idx.shape[1] == 0:
        raise ValueError(
            f"{caller} expects idx of shape (B, T) with T >= 1, got {tuple(idx.shape)}"
        )
    if idx.shape[1] > max_len:
        raise ValueError(
            f"{caller} expects a sequence of at most {max_len} tokens, got {idx.shape[1]}"
        )


def causal_mask(size: int, device: torch.device | None = None) -> torch.Tensor:
    """The ``(size, size)`` boolean mask, ``True`` above the diagonal: the future, masked out."""
    return torch.ones(size, size, dtype=torch.bool, device=device).triu(1)


class TransformerBlock(nn.Module):
    r"""A pre-norm transformer block: self-attention and a GELU MLP, each in a residual branch.

    $h = x + \operatorname{MHA}(\operatorname{LN}_1(x))$, then
    $y = h + \operatorname{MLP}(\operatorname{LN}_2(h))$, on batch-first input $(B, T, C)$.
    Dropout (probability ``dropout``) acts on the attention weights, after the GELU and on each
    branch's output, as in PyTorch.

    The submodules are those of ``nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward,
    dropout, activation="gelu", batch_first=True, norm_first=True)``: ``self_attn``
    (multi-head attention with ``nn.MultiheadAttention``'s layout), ``linear1``, ``linear2``,
    ``norm1``, ``norm2``, so each loads the other's ``state_dict`` and computes the same thing.

    ``forward(x, attn_mask=None, key_padding_mask=None)`` takes ``x`` of shape ``(B, T, C)``,
    ``attn_mask`` of shape ``(T, T)`` or ``(B * nhead, T, T)`` (boolean ``True`` = may NOT attend,
    or a float mask added to the scores: ``nn.MultiheadAttention``'s convention) and
    ``key_padding_mask`` ``(B, T)`` (``True`` marks padding no position attends to), and returns
    ``(B, T, C)``. ``forward_cached(x, cache)`` runs the block causally on new positions only,
    attending to the keys and values ``(B, H, T_old, C / H)`` cached for the earlier ones, and
    returns the output and the extended cache; it is for generation, in eval mode (no dropout).

    Args:
        d_model: Features per position, $C$.
        nhead: Attention heads; must divide ``d_model``.
        dim_feedforward: Hidden width $F$ of the MLP (usually ``4 * d_model``).
        dropout: Dropout probability, in $[0, 1)$.

    Raises:
        TypeError: If a size is not an integer or ``dropout`` is not a number.
        ValueError: If a size is not positive, ``nhead`` does not divide ``d_model``, or
            ``dropout`` is outside $[0, 1)$.

    Example:
        >>> import torch
        >>> from dlref.models.transformer import TransformerBlock, causal_mask
        >>> block = TransformerBlock(16, 4, 64)
        >>> block(torch.randn(2, 5, 16), attn_mask=causal_mask(5)).shape
        torch.Size([2, 5, 16])
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float = 0.0):
        super().__init__()
        checks.divisible("TransformerBlock", "d_model", d_model, "nhead", nhead)
        checks.integer("TransformerBlock", "dim_feedforward", dim_feedforward, 1)
        checks.number("TransformerBlock", "dropout", dropout, 0, 1)
        self.d_model, self.nhead = d_model, nhead
        self.self_attn = MultiHeadAttention(d_model, nhead, dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)  # C -> F
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)  # F -> C
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    # --8<-- [start:block]
    def forward(
        self,
        x: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Apply the block to ``x`` ``(B, T, C)``; masks as in ``nn.MultiheadAttention``."""
        self._check_input(x, attn_mask, key_padding_mask)
        u = self.norm1(x)  # (B, T, C), normalised copy for the attention branch
        a = self.self_attn(
            u, u, u, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False
        )[0]
        x = x + self.dropout1(a)  # h = x + MHA(LN1(x))
        return x + self.mlp(self.norm2(x))  # y = h + MLP(LN2(h))

    def mlp(self, x: torch.Tensor) -> torch.Tensor:
        """The position-wise MLP, ``(B, T, C) -> (B, T, C)``."""
        h = self.dropout(F.gelu(self.linear1(x)))  # (B, T, F)
        return self.dropout2(self.linear2(h))  # (B, T, C)

    # --8<-- [end:block]

    def _check_input(self, x, attn_mask, key_padding_mask) -> None:
        """Raise unless ``x`` is ``(B, T, d_model)`` and the masks fit it."""
        _check_features("TransformerBlock", x, self.d_model)
        B, T, _ = x.shape
        _check_mask("TransformerBlock", "attn_mask", attn_mask, [(T, T), (B * self.nhead, T, T)])
        _check_mask("TransformerBlock", "key_padding_mask", key_padding_mask, [(B, T)])

    # --8<-- [start:kv-cache]
    def forward_cached(self, x: torch.Tensor, cache: tuple | None) -> tuple[torch.Tensor, tuple]:
        """The block on new positions ``x`` ``(B, T_new, C)``, keys and values cached (eval)."""
        B, T_new, C = x.shape
        H, D = self.nhead, C // self.nhead
        attn = self.self_attn
        q, k, v = F.linear(self.norm1(x), attn.in_proj_weight, attn.in_proj_bias).chunk(3, -1)
        q, k, v = (t.view(B, T_new, H, D).transpose(1, 2) for t in (q, k, v))  # (B, H, T_new, D)
        if cache is not None:  # keys and values of the earlier positions, computed once
            k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)  # (B, H, T, D)
        T = k.shape[2]
        # new position i (absolute T - T_new + i) may see keys j <= T - T_new + i
        allowed = torch.ones(T_new, T, dtype=torch.bool, device=x.device).tril(T - T_new)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(D)  # (B, H, T_new, T)
        weights = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
        a = (weights @ v).transpose(1, 2).reshape(B, T_new, C)  # heads side by side
        x = x + attn.out_proj(a)
        return x + self.mlp(self.norm2(x)), (k, v)

    # --8<-- [end:kv-cache]


def _init_gpt_weights(module: nn.Module, n_layer: int) -> None:
    """GPT-2's initialisation: N(0, 0.02) weights, zero biases, residual outputs scaled down."""
    for name, p in module.named_parameters():
        if name.endswith("bias"):
            nn.init.zeros_(p)
        elif "norm" in name or name.startswith("ln_f"):
            nn.init.ones_(p)
        else:  # linear and embedding weights, in_proj_weight included
            std = (
                0.02 / math.sqrt(2 * n_layer)
                if name.endswith(("linear2.weight", "out_proj.weight"))
                else 0.02
            )
            nn.init.normal_(p, 0.0, std)


class GPT(nn.Module):
    r"""A decoder-only transformer language model in the style of GPT-2 (and nanoGPT).

    Token indices $(B, T)$ become $x_i = E[t_i] + P[i]$, pass through ``n_layer`` causal
    ``TransformerBlock``\s (``dim_feedforward = 4 * n_embd``), a final ``LayerNorm`` and a
    linear head whose weight is the token embedding $E$ (weight tying), giving logits
    $(B, T, V)$: row $i$ scores the token that follows $t_1, \dots, t_i$. Weights are
    initialised as in GPT-2 (normal with standard deviation 0.02, the residual output
    projections scaled by $1 / \sqrt{2 L}$ for $L$ = ``n_layer``).

    ``forward(idx, targets=None)`` takes token indices ``(B, T)`` with ``T <= block_size`` and
    returns ``(logits, loss)``: logits ``(B, T, V)`` and, given ``targets`` ``(B, T)`` (the next
    token at every position, ``-1`` to ignore one), their mean cross-entropy, else ``None``.

    Args:
        vocab_size: Number of distinct tokens $V$.
        block_size: Longest context $T$ the model reads (the number of position embeddings).
        n_layer: Number of blocks $L$.
        n_head: Attention heads per block; must divide ``n_embd``.
        n_embd: Features per position $C$.
        dropout: Dropout probability, in $[0, 1)$, on the embeddings and inside the blocks.

    Raises:
        TypeError: If a size is not an integer or ``dropout`` is not a number.
        ValueError: If a size is not positive, ``n_head`` does not divide ``n_embd``, or
            ``dropout`` is outside $[0, 1)$.

    Example:
        >>> import torch
        >>> from dlref.models.transformer import GPT
        >>> model = GPT(vocab_size=10, block_size=8, n_layer=2, n_head=2, n_embd=16)
        >>> logits, loss = model(torch.zeros(3, 8, dtype=torch.long))
        >>> logits.shape, loss
        (torch.Size([3, 8, 10]), None)
    """

    def __init__(
        self,
        vocab_size: int,
        block_size: int,
        n_layer: int,
        n_head: int,
        n_embd: int,
        dropout: float = 0.0,
    ):
        super().__init__()
        for name, value in [
            ("vocab_size", vocab_size),
            ("block_size", block_size),
            ("n_layer", n_layer),
        ]:
            checks.integer("GPT", name, value, 1)
        checks.divisible("GPT", "n_embd", n_embd, "n_head", n_head)
        checks.number("GPT", "dropout", dropout, 0, 1)
        self.vocab_size, self.block_size = vocab_size, block_size
        self.tok_emb = nn.Embedding(vocab_size, n_embd)  # E: (V, C)
        self.pos_emb = nn.Embedding(block_size, n_embd)  # P: (T_max, C)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(n_embd, n_head, 4 * n_embd, dropout) for _ in range(n_layer)
        )
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)
        _init_gpt_weights(self, n_layer)
        self.head.weight = self.tok_emb.weight  # weight tying: one (V, C) matrix for both

    def _embed(self, idx: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Token plus position embeddings of ``idx`` ``(B, T)`` at positions ``start, ...``."""
        pos = torch.arange(start, start + idx.shape[1], device=idx.device)  # (T,)
        return self.drop(self.tok_emb(idx) + self.pos_emb(pos))  # (B, T, C)

    # --8<-- [start:gpt]
    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits ``(B, T, V)`` of ``idx`` ``(B, T)``; the loss against ``targets`` if given."""
        _check_tokens("GPT", idx, self.block_size)
        x = self._embed(idx)  # (B, T, C): E[t_i] + P[i]
        mask = causal_mask(idx.shape[1], idx.device)  # position i sees j <= i
        for block in self.blocks:
            x = block(x, attn_mask=mask)
        logits = self.head(self.ln_f(x))  # (B, T, V)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-1)
        return logits, loss  # targets of -1 are ignored

    # --8<-- [end:gpt]

    def _step(self, idx: torch.Tensor, cache: KVCache | None, start: int) -> tuple:
        """Logits of the last position of ``idx`` and the extended cache (no grad, eval)."""
        x = self._embed(idx, start)
        new_cache = []
        for i, block in enumerate(self.blocks):
            x, kv = block.forward_cached(x, None if cache is None else cache[i])
            new_cache.append(kv)
        return self.head(self.ln_f(x[:, -1])), new_cache  # (B, V)

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Extend ``idx`` ``(B, T)`` by ``max_new_tokens`` sampled tokens, one at a time.

        Each step samples from $\\operatorname{softmax}(z / \\tau)$ of the last position's
        logits $z$ (temperature $\\tau$), restricted to the ``top_k`` largest if given. The model
        reads at most the last ``block_size`` tokens. With ``use_cache`` each block keeps the
        keys and values of the tokens seen so far and a step runs the model on the new token
        only; once the context is full, the window slides, every position shifts, and the step
        recomputes the window. Samples are the same with and without the cache. Call
        ``model.eval()`` first, so that dropout is off.

        Args:
            idx: The prompt, ``(B, T)`` token indices, ``T >= 1``.
            max_new_tokens: How many tokens to append.
            temperature: $\\tau > 0$; below 1 sharpens, above 1 flattens the distribution.
            top_k: If given, sample only among the ``top_k`` most likely tokens.
            use_cache: Whether to keep a key/value cache.
            generator: The random generator for sampling (``None``: the global one).

        Returns:
            ``(B, T + max_new_tokens)``: the prompt followed by the samples.
        """
        _check_tokens("GPT.generate", idx, math.inf)
        checks.integer("GPT.generate", "max_new_tokens", max_new_tokens, 0)
        checks.number("GPT.generate", "temperature", temperature, 0, closed_low=False)
        if top_k is not None:
            checks.integer("GPT.generate", "top_k", top_k, 1)
        cache, cached = None, 0  # the cache and how many positions it holds
        for _ in range(max_new_tokens):
            window = idx[:, -self.block_size :]
            if use_cache and idx.shape[1] <= self.block_size:
                logits, cache = self._step(idx[:, cached:], cache, cached)
                cached = idx.shape[1]
            elif use_cache:  # the window slid: positions changed, start the cache afresh
                logits, cache = self._step(window, None, 0)
            else:
                logits = self(window)[0][:, -1]  # (B, V)
            logits = logits / temperature
            if top_k is not None:
                kth = torch.topk(logits, min(top_k, logits.shape[-1]))[0][:, -1:]  # (B, 1)
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = logits.softmax(-1)  # (B, V)
            nxt = torch.multinomial(probs, 1, generator=generator)  # (B, 1)
            idx = torch.cat([idx, nxt], 1)
        return idx


class TransformerClassifier(nn.Module):
    r"""A transformer encoder that classifies token sequences: blocks, mean pooling, a linear head.

    Token and learned position embeddings, ``num_layers`` pre-norm ``TransformerBlock``\s
    without a causal mask (each position attends to every non-padded one), a final
    ``LayerNorm``, the mean of the features over the non-padded positions, then
    ``nn.Linear(d_model, num_classes)`` to the logits.

    Args:
        vocab_size: Number of distinct tokens.
        max_len: Longest sequence (the number of position embeddings).
        d_model: Features per position.
        nhead: Attention heads; must divide ``d_model``.
        num_layers: Number of blocks.
        num_classes: Number of outputs (classes).
        dim_feedforward: Hidden width of each block's MLP (default ``4 * d_model``).
        dropout: Dropout probability, in $[0, 1)$.

    Example:
        >>> import torch
        >>> from dlref.models.transformer import TransformerClassifier
        >>> model = TransformerClassifier(20, 12, d_model=16, nhead=2, num_layers=1, num_classes=3)
        >>> model(torch.randint(0, 20, (4, 12))).shape
        torch.Size([4, 3])
    """

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        d_model: int,
        nhead: int,
        num_layers: int,
        num_classes: int,
        dim_feedforward: int | None = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        for name, value in [
            ("vocab_size", vocab_size),
            ("max_len", max_len),
            ("num_layers", num_layers),
            ("num_classes", num_classes),
        ]:
            checks.integer("TransformerClassifier", name, value, 1)
        checks.divisible("TransformerClassifier", "d_model", d_model, "nhead", nhead)
        self.max_len = max_len
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(max_len, d_model)
        self.drop = nn.Dropout(dropout)
        width = 4 * d_model if dim_feedforward is None else dim_feedforward
        self.blocks = nn.ModuleList(
            TransformerBlock(d_model, nhead, width, dropout) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def forward(
        self, idx: torch.Tensor, key_padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Class logits ``(B, num_classes)`` of the sequences ``idx`` ``(B, T)``.

        Args:
            idx: Token indices, ``(B, T)`` with ``T <= max_len``.
            key_padding_mask: ``(B, T)``, ``True`` at padding: ignored by attention and pooling.
        """
        _check_tokens("TransformerClassifier", idx, self.max_len)
        _check_mask(
            "TransformerClassifier", "key_padding_mask", key_padding_mask, [tuple(idx.shape)]
        )
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))  # (B, T, C)
        for block in self.blocks:
            x = block(x, key_padding_mask=key_padding_mask)
        x = self.norm(x)
        keep = (
            torch.ones_like(idx, dtype=x.dtype)
            if key_padding_mask is None
            else (~key_padding_mask).to(x.dtype)
        )
        pooled = (x * keep[..., None]).sum(1) / keep.sum(1, keepdim=True)  # mean over kept
        return self.head(pooled)  # (B, num_classes)
