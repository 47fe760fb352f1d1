r"""Metrics: how often a classifier is right.

Explained on the page [A feedforward network in PyTorch](../projects/feedforward-network.md).

A classifier's prediction for sample $i$ is its highest-scoring class, $\hat y_i = \arg\max_c
z_{ic}$. Its accuracy over $B$ samples is the fraction it gets right,
$\frac{1}{B} \sum_{i=1}^{B} \mathbb{1}[\hat y_i = y_i]$. For per-position classes (logits
``(B, C, d1, ...)``, as ``nn.CrossEntropyLoss`` accepts) every position counts as a sample.
"""

from __future__ import annotations

import torch


def count_correct(logits: torch.Tensor, targets: torch.Tensor) -> int:
    """How many samples' highest-scoring class is their target class.

    Args:
        logits: Class scores of shape ``(B, C)`` or ``(B, C, d1, ...)``.
        targets: Class indices of shape ``(B,)`` or ``(B, d1, ...)``, an integer dtype.

    Raises:
        TypeError: If ``targets`` are not integers.
        ValueError: If the shapes do not match as described.
    """
    if targets.dtype.is_floating_point or targets.dtype == torch.bool:
        raise TypeError(
            f"count_correct expects integer class indices, got targets of {targets.dtype}"
        )
    if logits.dim() < 2 or logits.shape[:1] + logits.shape[2:] != targets.shape:
        raise ValueError(
            f"count_correct expects logits of shape (B, C, ...) and targets of shape (B, ...), "
            f"got logits {tuple(logits.shape)} and targets {tuple(targets.shape)}"
        )
    return int((logits.argmax(dim=1) == targets).sum())


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """The fraction of samples whose highest-scoring class is the target class, in $[0, 1]$.

    Raises:
        TypeError: If ``targets`` are not integers.
        ValueError: If the shapes do not match, as in `count_correct`, or there are no samples.
    """
    if targets.numel() == 0:
        raise ValueError("accuracy expects at least one sample, got empty targets")
    return count_correct(logits, targets) / targets.numel()
