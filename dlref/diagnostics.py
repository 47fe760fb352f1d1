"""Look inside a network while it trains: per-layer gradient norms and activation statistics.

These are the measurements behind vanishing and exploding gradients: if the gradient norm shrinks
(or grows) by a roughly constant factor per layer, early layers learn far slower (or faster) than
late ones; if a ReLU layer outputs mostly exact zeros, or a tanh/sigmoid layer mostly saturated
values, its units pass back little or no gradient.

The gradient norm of a parameter $W$ with gradient $G = \\partial L / \\partial W$ is
$\\lVert G \rVert_2 = \\sqrt{\\sum_{ij} G_{ij}^2}$; plotted against depth, the norms show whether
gradients vanish (shrink towards the input) or explode (grow towards it). `gradient_norms` reads
them from ``.grad`` after one ``backward()``. `GradientNormRecorder` records them at every
backward pass with a hook on each parameter, which sees the gradient that one ``backward()``
computes before it is added to ``.grad``, so its record is right whether or not ``.grad`` is
zeroed between steps. Both track only the parameters with two or more dimensions (the weight
matrices of ``Linear`` layers, the kernels of convolutions) unless ``weights_only=False`` adds
the biases and normalisation parameters.

Explained on the page
[Vanishing and exploding gradients](../foundations/vanishing-exploding-gradients.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import nn

from dlref.activations import ACTIVATIONS

__all__ = [
    "ACTIVATION_TYPES",
    "ActivationStats",
    "ActivationSummary",
    "GradientNormRecorder",
    "gradient_norms",
    "summarize_activation",
]

#: Activation modules whose outputs ``ActivationStats`` records by default.
ACTIVATION_TYPES: tuple[type[nn.Module], ...] = tuple(spec.module for spec in ACTIVATIONS.values())

#: How close to its bounds a tanh or sigmoid output must be to count as saturated.
SATURATION_MARGIN = 0.01


# --8<-- [start:gradient-norms]
def _tracked_parameters(model: nn.Module, weights_only: bool) -> Iterator[tuple[str, nn.Parameter]]:
    """Yield ``(name, parameter)`` of the trainable parameters, in registration order."""
    for name, param in model.named_parameters():
        if param.requires_grad and (param.dim() >= 2 or not weights_only):  # ≥ 2: W, kernels
            yield name, param


def gradient_norms(model: nn.Module, *, weights_only: bool = True) -> dict[str, float]:
    r"""$\lVert \partial L / \partial W \rVert_2$ of each parameter after ``loss.backward()``.

    Returns ``{name: norm}`` in layer order, e.g. ``{"0.weight": 0.31, "3.weight": 0.12}``; raises
    ``ValueError`` if no tracked parameter has a gradient (``backward`` was not called).
    """
    norms = {
        name: param.grad.detach().norm().item()
        for name, param in _tracked_parameters(model, weights_only)
        if param.grad is not None
    }
    if not norms:
        raise ValueError(
            "gradient_norms found no gradients: call loss.backward() before gradient_norms(model)"
        )
    return norms


# --8<-- [end:gradient-norms]


@dataclass(frozen=True)
class ActivationSummary:
    """Statistics of one layer's output over one forward pass (all samples and units).

    Attributes:
        mean: Mean of the outputs.
        std: Standard deviation of the outputs (unbiased, as ``Tensor.std``).
        zero_fraction: Fraction of outputs exactly 0; for a ReLU, the inactive ("dead") units.
        saturated_fraction: For ``nn.Tanh`` the fraction with $|y| > 0.99$, for ``nn.Sigmoid``
            the fraction with $y < 0.01$ or $y > 0.99$; ``None`` for other layers.
    """

    mean: float
    std: float
    zero_fraction: float
    saturated_fraction: float | None


_HooksT = TypeVar("_HooksT", bound="_Hooks")


class _Hooks:
    """Owns hook handles: removes them on ``remove()`` or when its ``with`` block ends.

    What the hooks recorded stays on the object after removal.
    """

    _handles: list[torch.utils.hooks.RemovableHandle]

    def remove(self) -> None:
        """Remove the hooks; what they recorded is kept."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self: _HooksT) -> _HooksT:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


def summarize_activation(module: nn.Module, output: torch.Tensor) -> ActivationSummary:
    """Compute the ``ActivationSummary`` of one layer's output.

    Args:
        module: The layer; its type decides whether saturation is measured (``nn.Tanh``,
            ``nn.Sigmoid``).
        output: What the layer returned, of any shape.

    Returns:
        The layer's ``ActivationSummary``.
    """
    y = output.detach()
    saturated = None
    if isinstance(module, nn.Tanh):
        saturated = (y.abs() > 1 - SATURATION_MARGIN).float().mean().item()
    elif isinstance(module, nn.Sigmoid):
        near_bound = (y < SATURATION_MARGIN) | (y > 1 - SATURATION_MARGIN)
        saturated = near_bound.float().mean().item()
    return ActivationSummary(
        mean=y.mean().item(),
        std=y.std().item(),
        zero_fraction=(y == 0).float().mean().item(),
        saturated_fraction=saturated,
    )


class ActivationStats(_Hooks):
    """Record the output statistics of chosen layers with forward hooks.

    Hooks are registered on every submodule of one of ``module_types`` when the object is
    created, and removed by ``remove()`` or on leaving a ``with`` block. After each forward pass,
    ``stats`` holds one ``ActivationSummary`` per hooked layer (the most recent pass), keyed by
    the module's name in ``model.named_modules()`` and in that order.

    Args:
        model: The model to watch.
        module_types: Module classes to hook; by default ``nn.Linear`` and ``nn.Conv2d`` (the
            pre-activations) and the activations in ``ACTIVATION_TYPES``.

    Raises:
        ValueError: If ``model`` has no submodule of these types.

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> from dlref.diagnostics import ActivationStats
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
        >>> with ActivationStats(model) as recorder:
        ...     _ = model(torch.randn(16, 4))
        >>> list(recorder.stats)
        ['0', '1', '2']
    """

    def __init__(
        self,
        model: nn.Module,
        module_types: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv2d, *ACTIVATION_TYPES),
    ) -> None:
        self.stats: dict[str, ActivationSummary] = {}
        watched = [
            (name, module)
            for name, module in model.named_modules()
            if isinstance(module, module_types)
        ]
        if not watched:
            names = ", ".join(t.__name__ for t in module_types)
            raise ValueError(f"ActivationStats found no submodule of type {names} in the model")
        self._handles = [module.register_forward_hook(self._hook(name)) for name, module in watched]

    def _hook(self, name: str) -> Callable[[nn.Module, tuple, torch.Tensor], None]:
        """Build the forward hook that summarises the output of the layer called ``name``."""

        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            if not isinstance(output, torch.Tensor):
                raise TypeError(
                    f"ActivationStats expects layer {name!r} to return a tensor, "
                    f"got {type(output).__name__}"
                )
            self.stats[name] = summarize_activation(module, output)

        return hook

    def as_table(self) -> str:
        """Format ``stats`` as a plain-text table, one row per layer."""
        rows = [f"{'layer':<12} {'mean':>9} {'std':>9} {'zeros':>7} {'saturated':>9}"]
        for name, s in self.stats.items():
            saturated = "-" if s.saturated_fraction is None else f"{s.saturated_fraction:.1%}"
            rows.append(
                f"{name:<12} {s.mean:>9.4f} {s.std:>9.4f} {s.zero_fraction:>7.1%} {saturated:>9}"
            )
        return "\n".join(rows)


# --8<-- [start:gradient-norm-recorder]
class GradientNormRecorder(_Hooks):
    r"""Record $\lVert \partial L_t / \partial W \rVert_2$ of each parameter at every backward pass.

    ``norms[name][t]`` is the norm at step $t$. Use it in a ``with`` block, or call ``remove()``.
    """

    def __init__(self, model: nn.Module, *, weights_only: bool = True) -> None:
        tracked = list(_tracked_parameters(model, weights_only))
        if not tracked:
            raise ValueError("GradientNormRecorder found no trainable parameters to track")
        self.norms: dict[str, list[float]] = {name: [] for name, _ in tracked}
        self._handles = [param.register_hook(self._hook(name)) for name, param in tracked]

    def _hook(self, name: str) -> Callable[[torch.Tensor], None]:
        """Build the hook that appends the norm of the gradient of parameter ``name``."""

        def hook(grad: torch.Tensor) -> None:
            self.norms[name].append(grad.detach().norm().item())

        return hook


# --8<-- [end:gradient-norm-recorder]
