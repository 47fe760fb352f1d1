r"""Weight initialisation that keeps signals at a steady scale through deep networks.

Explained on the page
[Vanishing and exploding gradients](../foundations/vanishing-exploding-gradients.md).

A layer computes $y_i = \sum_{j=1}^{n} W_{ij}\,x_j$ over $n = \mathrm{fan\_in}$ inputs. With
independent, zero-mean weights and inputs,

$$
\mathrm{Var}[y_i] = \mathrm{fan\_in} \cdot \mathrm{Var}[W] \cdot \mathbb{E}[x_j^2].
$$

If $\mathrm{fan\_in} \cdot \mathrm{Var}[W]$ is above 1 the activations grow geometrically with
depth, below 1 they shrink towards 0; both stall training. The schemes here pick
$\mathrm{Var}[W]$ so the scale is preserved, each with the nonlinearity's gain
([`calculate_gain`][dlref.init.calculate_gain]) applied once:

$$
\begin{aligned}
\mathrm{Var}_{\text{Xavier}}[W]
&= \mathrm{gain}^2 \cdot \frac{2}{\mathrm{fan\_in} + \mathrm{fan\_out}},
\\
\mathrm{Var}_{\text{Kaiming}}[W] &= \frac{\mathrm{gain}^2}{\mathrm{fan\_in}}.
\end{aligned}
$$

Xavier/Glorot suits symmetric activations such as tanh; Kaiming/He suits ReLU, which zeroes half
of its inputs: its gain $\sqrt 2$ makes Kaiming's variance $2/\mathrm{fan\_in}$, and that 2
*is* the gain (multiplying by it again would count it twice).

The functions match `torch.nn.init` (same gains, same fans, same arguments, and with the same
random generator state the very same numbers), fill the tensor in place without recording the
operation for autograd, and return it.
"""

import math

import torch

from dlref import checks

_LINEAR_NONLINEARITIES = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)
_NONLINEARITIES = (*_LINEAR_NONLINEARITIES, "sigmoid", "tanh", "relu", "leaky_relu", "selu")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    r"""Return the gain that offsets how much a nonlinearity shrinks the signal's scale.

    Initialisers multiply the weights' standard deviation by this gain, once: Xavier's
    $\mathrm{Var}[W] = \mathrm{gain}^2 \cdot 2/(\mathrm{fan\_in} + \mathrm{fan\_out})$,
    Kaiming's $\mathrm{Var}[W] = \mathrm{gain}^2/\mathrm{fan}$ (so ReLU's $2/\mathrm{fan\_in}$
    already holds $\mathrm{gain}^2 = 2$):

    | nonlinearity | gain |
    |---|---|
    | `linear`, `conv1d/2d/3d`, `conv_transpose1d/2d/3d`, `sigmoid` | $1$ |
    | `tanh` | $5/3$ |
    | `relu` | $\sqrt{2}$ |
    | `leaky_relu` | $\sqrt{2 / (1 + a^2)}$, $a$ = negative slope |
    | `selu` | $3/4$ |

    ReLU keeps only the positive half of a zero-mean input, so
    $\mathbb{E}[\operatorname{ReLU}(z)^2] = \tfrac{1}{2}\mathrm{Var}[z]$; a gain of $\sqrt{2}$
    (a factor 2 in variance) puts that half back. Leaky ReLU keeps $a^2$ of the other half.

    Args:
        nonlinearity: The name of the function that follows the layer, as in
            `torch.nn.functional`.
        param: The negative slope $a$ for ``"leaky_relu"`` (default $0.01$); ignored otherwise.

    Returns:
        The recommended gain.

    Raises:
        ValueError: If ``nonlinearity`` is unknown, or ``param`` is not a number.
    """
    if nonlinearity in _LINEAR_NONLINEARITIES or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            param = 0.01
        checks.number("calculate_gain", "the leaky_relu negative slope (param)", param)
        return math.sqrt(2.0 / (1 + param**2))
    if nonlinearity == "selu":
        return 3.0 / 4  # found empirically by PyTorch (pytorch/pytorch#50664)
    raise ValueError(
        f"calculate_gain expects nonlinearity to be one of {list(_NONLINEARITIES)}, "
        f"got {nonlinearity!r}"
    )


def fan_in_and_fan_out(tensor: torch.Tensor) -> tuple[int, int]:
    r"""Return how many inputs feed each output unit, and how many outputs each input feeds.

    For a `Linear` weight of shape ``(out_features, in_features)`` these are ``in_features``
    and ``out_features``. For a convolution weight of shape ``(out_channels, in_channels, *k)``
    every output value sees ``in_channels`` times the kernel's receptive field $\prod k$:

    $$
    \begin{aligned}
    \mathrm{fan\_in} &= \mathrm{in\_channels} \cdot \textstyle\prod k,
    \\
    \mathrm{fan\_out} &= \mathrm{out\_channels} \cdot \textstyle\prod k.
    \end{aligned}
    $$

    Args:
        tensor: A weight with at least 2 dimensions, laid out as PyTorch's layers lay them out.

    Returns:
        ``(fan_in, fan_out)``.

    Raises:
        TypeError: If ``tensor`` is not a tensor.
        ValueError: If ``tensor`` has fewer than 2 dimensions.
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(
            f"fan_in_and_fan_out expects tensor to be a torch.Tensor, got {type(tensor).__name__}"
        )
    if tensor.dim() < 2:
        raise ValueError(
            "fan_in and fan_out need a weight with at least 2 dimensions "
            f"(out_features, in_features, *kernel_size), got shape {tuple(tensor.shape)}"
        )
    receptive_field = math.prod(tensor.shape[2:])  # 1 for a Linear weight
    fan_in = tensor.shape[1] * receptive_field
    fan_out = tensor.shape[0] * receptive_field
    return fan_in, fan_out


def _xavier_std(tensor: torch.Tensor, gain: float, caller: str) -> float:
    """The standard deviation of both Xavier initialisers (0 for an empty tensor)."""
    checks.floating_tensor(caller, tensor, "tensor")
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return gain * math.sqrt(2.0 / (fan_in + fan_out)) if tensor.numel() else 0.0


@torch.no_grad()  # filling a weight is not part of the model's computation
def _uniform_(tensor: torch.Tensor, std: float, generator: torch.Generator | None) -> torch.Tensor:
    """Fill ``tensor`` from U(-b, b) with b = √3 σ, whose standard deviation is σ."""
    bound = math.sqrt(3.0) * std  # U(-b, b) has variance b² / 3
    return tensor.uniform_(-bound, bound, generator=generator)


def xavier_uniform_(
    tensor: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Fill ``tensor`` in place from Glorot & Bengio's (2010) uniform distribution.

    Keeping the variance of the activations (forward pass) needs
    $\mathrm{fan\_in}\cdot\mathrm{Var}[W] = 1$, keeping that of the gradients (backward pass)
    needs $\mathrm{fan\_out}\cdot\mathrm{Var}[W] = 1$. Unless the layer is square both cannot
    hold, so Xavier initialisation uses the average of the two fans, times the nonlinearity's
    gain squared:

    $$
    \begin{aligned}
    \sigma^2 = \mathrm{Var}[W]
    &= \mathrm{gain}^2 \cdot \frac{2}{\mathrm{fan\_in} + \mathrm{fan\_out}},
    \\
    W &\sim \mathcal{U}(-b, b), \quad b = \sqrt{3}\,\sigma,
    \end{aligned}
    $$

    since $\mathcal{U}(-b, b)$ has variance $b^2/3$.

    Args:
        tensor: The weight to fill, at least 2-D (see
            [`fan_in_and_fan_out`][dlref.init.fan_in_and_fan_out]).
        gain: Scale for the standard deviation, e.g. ``calculate_gain("tanh")``.
        generator: The random generator to draw from; the global one when ``None``.

    Returns:
        ``tensor``, filled.

    Raises:
        TypeError: If ``tensor`` is not a floating-point tensor.
        ValueError: If ``tensor`` has fewer than 2 dimensions.
    """
    return _uniform_(tensor, _xavier_std(tensor, gain, "xavier_uniform_"), generator)


def xavier_normal_(
    tensor: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Fill ``tensor`` in place from Glorot & Bengio's (2010) normal distribution.

    $W \sim \mathcal{N}(0, \sigma^2)$ with the variance of
    [`xavier_uniform_`][dlref.init.xavier_uniform_], which says why; same arguments and errors.
    """
    std = _xavier_std(tensor, gain, "xavier_normal_")
    with torch.no_grad():  # filling a weight is not part of the model's computation
        return tensor.normal_(0.0, std, generator=generator)


def kaiming_uniform_(
    tensor: torch.Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Fill ``tensor`` in place from He et al.'s (2015) uniform distribution.

    A ReLU zeroes half of a symmetric, zero-mean input $z$ (the previous layer's
    pre-activation), so its output has $\mathbb{E}[x^2] = \tfrac12\mathrm{Var}[z]$. Keeping
    $\mathrm{Var}[z]$ constant from layer to layer then needs
    $\tfrac12\,\mathrm{fan\_in}\cdot\mathrm{Var}[W] = 1$:

    $$
    \begin{aligned}
    \sigma^2 = \mathrm{Var}[W] &= \frac{\mathrm{gain}^2}{\mathrm{fan}},
    \\
    W &\sim \mathcal{U}(-b, b), \quad b = \sqrt{3}\,\sigma,
    \end{aligned}
    $$

    with the gain of ``nonlinearity`` applied once: for ReLU $\mathrm{gain}^2 = 2$, which gives
    $2/\mathrm{fan\_in}$. ``mode="fan_in"`` preserves the activations' variance in the forward pass,
    ``mode="fan_out"`` the gradients' variance in the backward pass.

    Args:
        tensor: The weight to fill, at least 2-D.
        a: Negative slope of the leaky ReLU that follows (only used with ``"leaky_relu"``).
            The defaults ``a=0, nonlinearity="leaky_relu"`` give the ReLU gain $\sqrt{2}$.
        mode: ``"fan_in"`` or ``"fan_out"``.
        nonlinearity: The function that follows the layer (see
            [`calculate_gain`][dlref.init.calculate_gain]).
        generator: The random generator to draw from; the global one when ``None``.

    Returns:
        ``tensor``, filled.

    Raises:
        TypeError: If ``tensor`` is not a floating-point tensor.
        ValueError: If ``tensor`` has fewer than 2 dimensions, ``mode`` is not ``"fan_in"`` or
            ``"fan_out"``, or ``nonlinearity`` is unknown.
    """
    return _uniform_(
        tensor, _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_"), generator
    )


# --8<-- [start:kaiming-normal]
def _kaiming_std(
    tensor: torch.Tensor, a: float, mode: str, nonlinearity: str, caller: str
) -> float:
    """The standard deviation of both Kaiming initialisers (0 for an empty tensor)."""
    checks.floating_tensor(caller, tensor, "tensor")
    checks.one_of(caller, "mode", mode, ("fan_in", "fan_out"))
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    gain = calculate_gain(nonlinearity, a)  # √2 for ReLU
    return gain / math.sqrt(fan) if tensor.numel() else 0.0  # σ = gain / √fan


def kaiming_normal_(
    tensor: torch.Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Fill ``tensor`` in place from He et al.'s (2015) normal distribution.

    $W \sim \mathcal{N}(0, \sigma^2)$ with the variance of
    [`kaiming_uniform_`][dlref.init.kaiming_uniform_], which says why; same arguments and errors.
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    with torch.no_grad():  # filling a weight is not part of the model's computation
        return tensor.normal_(0.0, std, generator=generator)


# --8<-- [end:kaiming-normal]
