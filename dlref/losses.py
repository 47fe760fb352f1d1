r"""Loss functions: how far a network's outputs are from the targets, and their gradients.

Explained on the page [Backpropagation](../foundations/backpropagation.md).


The cross-entropy of logits $z \in \mathbb{R}^{B \times C}$ against target classes
$y \in \{0, \dots, C - 1\}^B$, with $p = \operatorname{softmax}(z)$ row by row, and its gradient:

$$
\begin{aligned}
\mathcal{L} &= -\frac{1}{B} \sum_{i=1}^{B} \log p_{i, y_i}, \\
\frac{\partial \mathcal{L}}{\partial z} &= \frac{p - \operatorname{onehot}(y)}{B}.
\end{aligned}
$$

$\log p$ comes from [`log_softmax`][dlref.activations.log_softmax] (the log-sum-exp trick), so
no exponential overflows, even for logits of $10^4$. The gradient is what hand-written
backpropagation starts from: it is the $\delta_L$ of [`dlref.backprop`][dlref.backprop].
"""

from __future__ import annotations

import torch

from dlref.activations import log_softmax


# --8<-- [start:softmax-cross-entropy]
@torch.no_grad()
def softmax_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean cross-entropy of ``logits`` (B, C) against ``targets`` (B,), and its gradient."""
    _check_classification("softmax_cross_entropy", logits, targets)
    rows = torch.arange(len(targets), device=logits.device)  # (B,)
    log_p = log_softmax(logits, dim=1)  # (B, C)
    loss = -log_p[rows, targets].mean()  # () as F.cross_entropy returns
    dlogits = log_p.exp()  # (B, C) p = softmax(z)
    dlogits[rows, targets] -= 1.0  # p - onehot(y)
    return loss, dlogits / len(targets)  # (B, C)


# --8<-- [end:softmax-cross-entropy]


def _check_classification(caller: str, logits: torch.Tensor, targets: torch.Tensor) -> None:
    """Logits ``(B, C)`` with ``B, C >= 1`` and integer targets ``(B,)`` in ``[0, C)``."""
    if not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise TypeError(
            f"{caller} expects tensors, got {type(logits).__name__} logits and "
            f"{type(targets).__name__} targets"
        )
    if logits.ndim != 2:
        raise ValueError(f"{caller} expects logits (B, C), got {tuple(logits.shape)}")
    if 0 in logits.shape:
        raise ValueError(f"{caller} expects a non-empty batch, got {tuple(logits.shape)}")
    batch, classes = logits.shape
    if targets.shape != (batch,):
        raise ValueError(
            f"{caller} expects targets of shape ({batch},), got {tuple(targets.shape)}"
        )
    if targets.dtype.is_floating_point or targets.dtype.is_complex or targets.dtype == torch.bool:
        raise TypeError(f"{caller} expects integer targets, got {targets.dtype}")
    if targets.min() < 0 or targets.max() >= classes:
        raise ValueError(
            f"{caller} expects targets in [0, {classes}), got values in "
            f"[{targets.min().item()}, {targets.max().item()}]"
        )
