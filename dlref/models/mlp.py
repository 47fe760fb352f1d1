"""The multilayer perceptron: stacked affine maps with a nonlinearity in between.

Explained on the page [A feedforward network in PyTorch](../../projects/feedforward-network.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from dlref import checks
from dlref.activations import ACTIVATIONS

__all__ = ["MLP"]

_NORMS: dict[str, type[nn.Module]] = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}


class MLP(nn.Sequential):
    r"""A multilayer perceptron that maps inputs to class scores (logits).

    With $a_0 = x$ (a batch of $B$ rows), each hidden layer $l = 1, \dots, L - 1$ computes

    $$
    \begin{aligned}
    z_l &= a_{l-1} W_l^\top + b_l, \\
    a_l &= \operatorname{Dropout}\big(\phi(\operatorname{Norm}(z_l))\big),
    \end{aligned}
    $$

    and the output layer is a plain affine map, $z_L = a_{L-1} W_L^\top + b_L$: the logits, left
    without an activation so they can feed ``nn.CrossEntropyLoss``. With no hidden layers
    ($L = 1$) it is multinomial logistic regression.

    The layers live in an ``nn.Sequential`` (``Linear``, optional norm, activation, ``Dropout``
    per hidden layer, then ``Linear``), laid out like ``torchvision.ops.MLP`` so the two share
    ``state_dict`` keys: ``MLP(64, [128], 10)`` loads the weights of
    ``torchvision.ops.MLP(64, [128, 10])``. Unlike torchvision's, no dropout follows the output.

    Args:
        in_features: Features per input sample; an input of shape ``(B, ...)`` is flattened to
            ``(B, in_features)``, so ``(B, 1, 8, 8)`` images work with ``in_features=64``.
        hidden_features: Width of each hidden layer, e.g. ``[128, 64]``; empty for none.
        out_features: Number of outputs (classes).
        activation: A name from [`ACTIVATIONS`][dlref.activations.ACTIVATIONS] (``"relu"``,
            ``"tanh"``, ``"gelu"``, ...), whose ``torch.nn`` module each hidden layer gets, or a
            callable with no arguments
            that returns a module, such as an ``nn.Module`` class (``nn.Hardtanh``). It is called
            once per hidden layer, so every layer gets its own module.
        norm: ``None``, ``"batch"`` (``nn.BatchNorm1d``) or ``"layer"`` (``nn.LayerNorm``),
            applied between each hidden ``Linear`` and its activation.
        dropout: Probability of zeroing a hidden unit during training, in $[0, 1)$.
        bias: Whether the ``Linear`` layers learn a bias.

    Raises:
        TypeError: If a size is not an integer, or ``activation`` is neither a known name nor a
            callable that returns a module.
        ValueError: If a size is not positive, ``activation`` or ``norm`` is an unknown name, or
            ``dropout`` is outside $[0, 1)$.

    Examples:
        >>> import torch
        >>> from dlref.models.mlp import MLP
        >>> model = MLP(64, [128], 10)
        >>> model(torch.zeros(32, 64)).shape
        torch.Size([32, 10])
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: Sequence[int],
        out_features: int,
        activation: str | Callable[[], nn.Module] = "relu",
        norm: str | None = None,
        dropout: float = 0.0,
        bias: bool = True,
    ) -> None:
        checks.integer("MLP", "in_features", in_features, 1)
        checks.integer("MLP", "out_features", out_features, 1)
        if isinstance(hidden_features, int) or not isinstance(hidden_features, Sequence):
            raise TypeError(
                f"MLP expects hidden_features as a sequence of widths such as [128], "
                f"got {hidden_features!r}"
            )
        for width in hidden_features:
            checks.integer("MLP", "each of hidden_features", width, 1)
        checks.one_of("MLP", "norm", norm, [None, *_NORMS])
        checks.number("MLP", "dropout", dropout, 0, 1)
        make_activation = _activation_factory(activation)

        layers: list[nn.Module] = []
        width = in_features
        for hidden in hidden_features:
            layers.append(nn.Linear(width, hidden, bias=bias))  # (B, width) -> (B, hidden)
            if norm is not None:
                layers.append(_NORMS[norm](hidden))
            layers.append(make_activation())
            layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, out_features, bias=bias))  # (B, width) -> logits
        super().__init__(*layers)
        self.in_features = in_features
        self.hidden_features = tuple(hidden_features)
        self.out_features = out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the logits of a batch.

        Args:
            x: Inputs of shape ``(B, in_features)``, or ``(B, ...)`` with ``in_features``
                values per sample (such as ``(B, 1, 8, 8)`` images), which are flattened.

        Returns:
            Logits of shape ``(B, out_features)``.

        Raises:
            ValueError: If ``x`` has no batch dimension or the wrong number of features.
        """
        if x.dim() < 2 or math.prod(x.shape[1:]) != self.in_features:
            raise ValueError(
                f"MLP expects x of shape (B, {self.in_features}) or (B, ...) with "
                f"{self.in_features} values per sample, got {tuple(x.shape)}"
            )
        return super().forward(x.flatten(start_dim=1))  # (B, in_features) -> (B, out_features)

    def __getitem__(self, index: int | slice) -> nn.Module:
        """Return one layer, or a slice of layers as a plain ``nn.Sequential``.

        ``model[:2]`` gives the first hidden ``Linear`` and what follows it, handy for looking
        at hidden representations. (``nn.Sequential`` would rebuild a slice with this class's
        constructor, which takes sizes, not layers.)
        """
        if isinstance(index, slice):
            return nn.Sequential(*list(self)[index])
        return super().__getitem__(index)


def _activation_factory(activation: str | Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    """Turn ``MLP``'s ``activation`` argument into a function that builds a fresh module."""
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            names = ", ".join(repr(name) for name in ACTIVATIONS)
            raise ValueError(
                f"MLP expects activation to be one of {names} or an nn.Module class, "
                f"got {activation!r}"
            )
        return ACTIVATIONS[activation].module
    if isinstance(activation, nn.Module):
        raise TypeError(
            f"MLP expects an activation name or class, not a module instance such as "
            f"{activation!r}; pass {type(activation).__name__} (or a functools.partial of it)"
        )
    if not callable(activation):
        raise TypeError(
            f"MLP expects activation to be a name or an nn.Module class, got {activation!r}"
        )

    def make_activation() -> nn.Module:
        module = activation()
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"MLP expects activation() to return an nn.Module, got {type(module).__name__}"
            )
        return module

    return make_activation
