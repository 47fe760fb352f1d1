r"""Batch normalisation and layer normalisation, written from their formulas.

Both layers standardise activations, $\hat x = (x - \mu) / \sqrt{\sigma^2 + \epsilon}$, and then
let the network undo that if it helps, $y = \gamma \hat x + \beta$. They differ in *which* values
$\mu$ and $\sigma^2$ are averaged over:

- **Batch norm** averages each channel over the batch (and over positions), so a sample's output
  depends on the other samples in its batch. At evaluation time it uses running averages gathered
  during training instead.
- **Layer norm** averages each sample over its own features, so it does not depend on the batch
  at all and behaves the same in training and evaluation.

The modules take the same constructor arguments and have the same ``state_dict`` keys and shapes
as ``torch.nn.BatchNorm1d``, ``torch.nn.BatchNorm2d`` and ``torch.nn.LayerNorm``, so weights load
across in both directions.

Explained on the page [Batch normalization](../foundations/batch-normalization.md).
"""

import torch
from torch import nn

from dlref import checks


class _BatchNorm(nn.Module):
    r"""Batch normalisation over every dimension except the channel dimension (dim 1).

    For each channel $c$, with $\mathcal{B}$ the $n$ values of that channel in the batch (all
    samples, and all positions $L$ or $H \times W$):

    $$
    \begin{aligned}
    \mu_\mathcal{B} &= \frac{1}{n} \sum_{i \in \mathcal{B}} x_i,
    \\
    \sigma^2_\mathcal{B} &= \frac{1}{n} \sum_{i \in \mathcal{B}} (x_i - \mu_\mathcal{B})^2,
    \\
    \hat x &= \frac{x - \mu_\mathcal{B}}{\sqrt{\sigma^2_\mathcal{B} + \epsilon}},
    \qquad y = \gamma_c \hat x + \beta_c.
    \end{aligned}
    $$

    In training the running statistics follow the batch statistics, at the rate $m$
    (``momentum``):

    $$
    \begin{aligned}
    \mu_{\text{run}} &\leftarrow (1 - m)\, \mu_{\text{run}} + m\, \mu_\mathcal{B},
    \\
    \sigma^2_{\text{run}} &\leftarrow (1 - m)\, \sigma^2_{\text{run}}
    + m\, \tfrac{n}{n-1}\, \sigma^2_\mathcal{B},
    \end{aligned}
    $$

    with the unbiased variance $\frac{n}{n-1} \sigma^2_\mathcal{B}$, since the running variance
    estimates the population's; with ``momentum=None`` the rate is $m = 1/t$ at the $t$-th batch,
    which makes the running statistics the plain average of all batches so far. In evaluation
    $\mu_\mathcal{B}$ and $\sigma^2_\mathcal{B}$ are replaced by $\mu_{\text{run}}$ and
    $\sigma^2_{\text{run}}$.

    `BatchNorm1d` and `BatchNorm2d` only say which input layouts they accept (``_layouts``).

    Args:
        num_features: The number of channels $C$.
        eps: Added to the variance before the square root, for numerical stability.
        momentum: The rate $m$ of the running averages (the weight of the new batch); ``None``
            for a cumulative average.
        affine: Whether to learn $\gamma$ (``weight``) and $\beta$ (``bias``), shape ``(C,)``.
        track_running_stats: Whether to keep ``running_mean``, ``running_var`` and
            ``num_batches_tracked``; if ``False``, batch statistics are used in every mode.
        device: Where to create the parameters and buffers.
        dtype: The floating-point type of the parameters and running statistics.
        bias: Whether to learn $\beta$ when ``affine`` is true.

    Raises:
        TypeError: If ``num_features`` is not an int or ``eps``/``momentum`` not a number.
        ValueError: If ``num_features < 1``, ``eps < 0`` or ``momentum`` is outside $[0, 1]$.
    """

    _layouts: tuple[tuple[str, ...], ...]  # accepted input layouts, "C" is the channel dimension

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        caller = type(self).__name__
        checks.integer(caller, "num_features", num_features, 1)
        checks.number(caller, "eps", eps, 0)
        if momentum is not None:
            checks.number(caller, "momentum (a rate, or None)", momentum, 0, 1, closed_high=True)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        factory = {"device": device, "dtype": dtype}
        if affine:
            self.weight = nn.Parameter(torch.empty(num_features, **factory))  # gamma: (C,)
            if bias:
                self.bias = nn.Parameter(torch.empty(num_features, **factory))  # beta: (C,)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.empty(num_features, **factory))  # (C,)
            self.register_buffer("running_var", torch.empty(num_features, **factory))  # (C,)
            self.register_buffer(
                "num_batches_tracked", torch.tensor(0, dtype=torch.long, device=device)
            )
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Reset the running mean to 0, the running variance to 1 and the batch count to 0."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1.0)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        r"""Reset the running statistics, and $\gamma$ to 1 and $\beta$ to 0 (the identity)."""
        self.reset_running_stats()
        if self.weight is not None:
            nn.init.ones_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def _check_input(self, x: torch.Tensor) -> None:
        """Raise a ValueError naming the accepted shapes unless ``x`` fits one of ``_layouts``."""
        fits = any(x.ndim == len(layout) for layout in self._layouts)
        if not fits or x.shape[1] != self.num_features:
            wanted = " or ".join(
                "(" + ", ".join(str(self.num_features) if d == "C" else d for d in layout) + ")"
                for layout in self._layouts
            )
            raise ValueError(
                f"{type(self).__name__} expects input of shape {wanted}, got {tuple(x.shape)}"
            )

    def _values_per_channel(self, x: torch.Tensor) -> int:
        """How many values each channel's batch statistics average; raise if fewer than 2."""
        n = x.numel() // self.num_features
        if n < 2:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input of shape "
                f"{tuple(x.shape)}: batch statistics of a single value are meaningless (its "
                f"variance is 0, so every output would be beta, and the unbiased variance for "
                f"the running average divides by n - 1 = 0)"
            )
        return n

    # --8<-- [start:batch-norm-forward]
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise each channel of ``x`` (shape ``(B, C, *)``) and apply the affine map."""
        self._check_input(x)
        reduce_dims = [0, *range(2, x.ndim)]  # every dim but the channels: (0,), (0, 2), (0, 2, 3)
        per_channel = (1, -1) + (1,) * (x.ndim - 2)  # view a (C,) vector as (1, C, 1, ...)

        use_batch_stats = self.training or not self.track_running_stats
        if use_batch_stats:
            n = self._values_per_channel(x)  # at least 2: one value has no variance
            var, mean = torch.var_mean(x, dim=reduce_dims, correction=0)  # (C,) σ²_B (÷ n), μ_B
            if self.training and self.track_running_stats:
                self._update_running_stats(mean, var, n)
        else:
            mean, var = self.running_mean, self.running_var  # (C,), (C,)

        x_hat = (x - mean.view(per_channel)) * torch.rsqrt(var.view(per_channel) + self.eps)  # x̂
        if self.weight is not None:
            x_hat = x_hat * self.weight.view(per_channel)  # γ x̂, per channel
        if self.bias is not None:
            x_hat = x_hat + self.bias.view(per_channel)  # + β, per channel
        return x_hat  # same shape as x

    # --8<-- [end:batch-norm-forward]

    # --8<-- [start:running-stats-update]
    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, var: torch.Tensor, n: int) -> None:
        r"""Move the running statistics towards the batch's ``mean`` and ``var`` (over n values)."""
        self.num_batches_tracked += 1
        # momentum=None: cumulative average (m = 1/t); otherwise an exponential moving average
        m = 1.0 / self.num_batches_tracked.item() if self.momentum is None else self.momentum
        unbiased_var = var * n / (n - 1)  # (C,) Bessel's correction
        self.running_mean.mul_(1 - m).add_(m * mean)  # μ_run ← (1 - m) μ_run + m μ_B
        self.running_var.mul_(1 - m).add_(
            m * unbiased_var
        )  # σ²_run ← (1 - m) σ²_run + m n/(n-1) σ²_B

    # --8<-- [end:running-stats-update]

    def extra_repr(self) -> str:
        """Summarise the settings the way ``torch.nn``'s batch norm layers do."""
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


# --8<-- [start:batch-norm-1d-2d]
class BatchNorm1d(_BatchNorm):
    """Batch norm of features ``(B, C)`` or sequences ``(B, C, L)``, like ``nn.BatchNorm1d``."""

    _layouts = (("B", "C"), ("B", "C", "L"))


class BatchNorm2d(_BatchNorm):
    """Batch norm of images ``(B, C, H, W)``, like ``nn.BatchNorm2d``."""

    _layouts = (("B", "C", "H", "W"),)


# --8<-- [end:batch-norm-1d-2d]


class LayerNorm(nn.Module):
    r"""Layer normalisation over the trailing ``normalized_shape`` dims, like ``nn.LayerNorm``.

    For each sample (for a transformer: each token), with $\mathcal{N}$ the $n$ values in its
    last ``len(normalized_shape)`` dimensions:

    $$
    \begin{aligned}
    \mu &= \frac{1}{n} \sum_{i \in \mathcal{N}} x_i,
    \\
    \sigma^2 &= \frac{1}{n} \sum_{i \in \mathcal{N}} (x_i - \mu)^2,
    \\
    y &= \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta.
    \end{aligned}
    $$

    The statistics come from the sample itself, never from the rest of the batch, so there are
    no running statistics, training and evaluation compute the same thing, and a batch of one
    (or sequences of any length) is fine. $\gamma$ and $\beta$ have shape ``normalized_shape``:
    one value per normalised element, not per channel as in batch norm.

    Args:
        normalized_shape: The trailing shape to normalise over, an int or a tuple of ints.
        eps: Added to the variance before the square root, for numerical stability.
        elementwise_affine: Whether to learn $\gamma$ (``weight``) and $\beta$ (``bias``).
        bias: Whether to learn $\beta$ when ``elementwise_affine`` is true.
        device: Where to create the parameters.
        dtype: The floating-point type of the parameters.
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...] | list[int] | torch.Size,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        shape = tuple(shape)
        if not shape or not all(checks.is_integer(d) and d >= 1 for d in shape):
            raise ValueError(
                f"LayerNorm expects normalized_shape to be a positive int or a non-empty tuple of "
                f"positive ints, got {normalized_shape!r}"
            )
        checks.number("LayerNorm", "eps", eps, 0)
        self.normalized_shape = shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        factory = {"device": device, "dtype": dtype}
        if elementwise_affine:
            self.weight = nn.Parameter(torch.empty(shape, **factory))  # gamma: normalized_shape
            if bias:
                self.bias = nn.Parameter(torch.empty(shape, **factory))  # beta: normalized_shape
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Reset $\gamma$ to 1 and $\beta$ to 0 (the identity)."""
        if self.weight is not None:
            nn.init.ones_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    # --8<-- [start:layer-norm-forward]
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` of shape ``(*, *normalized_shape)`` over its trailing dimensions."""
        k = len(self.normalized_shape)
        if tuple(x.shape[-k:]) != self.normalized_shape:
            wanted = ", ".join(["*", *map(str, self.normalized_shape)])
            raise ValueError(f"LayerNorm expects input of shape ({wanted}), got {tuple(x.shape)}")
        dims = tuple(range(-k, 0))  # the trailing normalized_shape dims
        # one pass for both statistics, (*, 1, ..., 1) each: one per sample, the variance biased
        var, mean = torch.var_mean(x, dim=dims, correction=0, keepdim=True)
        x_hat = (x - mean) * torch.rsqrt(var + self.eps)  # (x - μ) / √(σ² + ε): (*, *norm_shape)
        if self.weight is not None:
            x_hat = x_hat * self.weight  # gamma: (*normalized_shape), broadcast over *
        if self.bias is not None:
            x_hat = x_hat + self.bias  # beta: (*normalized_shape)
        return x_hat

    # --8<-- [end:layer-norm-forward]

    def extra_repr(self) -> str:
        """Summarise the settings the way ``torch.nn.LayerNorm`` does."""
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )
