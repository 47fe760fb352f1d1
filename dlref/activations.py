r"""Activation functions, written from their formulas, and their derivatives.

Each activation is built from elementary tensor operations (`torch.exp`, `torch.expm1`,
`torch.erf`, `torch.where`, reductions), so autograd differentiates straight through it, and each
matches its `torch.nn.functional` counterpart in value and gradient. Where the textbook formula
overflows, the code uses an equivalent form that does not: the sigmoid and tanh only ever
exponentiate $-|x|$, and the softmax subtracts the row maximum before exponentiating.

The `*_grad` functions give each elementwise derivative in closed form, for plotting next to the
activation; the tests check them against autograd.
"""

import math

import torch


def _check_floating(x: torch.Tensor, caller: str) -> None:
    """Raise a clear error unless ``x`` is a floating-point tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{caller} expects a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{caller} expects a floating-point tensor, got dtype {x.dtype}")


def _check_dim(x: torch.Tensor, dim: int, caller: str) -> None:
    """Raise a clear error unless ``dim`` indexes a dimension of ``x`` (a 0-d tensor has one)."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{caller} expects dim to be an int, got {type(dim).__name__}")
    ndim = max(x.dim(), 1)
    if not -ndim <= dim < ndim:
        raise ValueError(
            f"{caller} expects dim in [{-ndim}, {ndim - 1}] for a tensor of shape "
            f"{tuple(x.shape)}, got {dim}"
        )


def _check_approximate(approximate: str, caller: str) -> None:
    """Raise a clear error unless ``approximate`` names one of the two GELU forms."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"{caller} expects approximate='none' or 'tanh', got {approximate!r}")


# --8<-- [start:sigmoid]
def sigmoid(x: torch.Tensor) -> torch.Tensor:
    r"""Logistic sigmoid, squashing any real number into $(0, 1)$.

    $$
    \begin{aligned}
    \sigma(x) &= \frac{1}{1 + e^{-x}} = \frac{e^{x}}{1 + e^{x}}, \\
    \sigma'(x) &= \sigma(x)\,\bigl(1 - \sigma(x)\bigr).
    \end{aligned}
    $$

    The first form overflows for large negative $x$ ($e^{-x} \to \infty$), the second for large
    positive $x$. Using the first for $x \ge 0$ and the second for $x < 0$ only ever computes
    $e^{-|x|} \in (0, 1]$, so value and gradient stay finite for every $x$.

    Args:
        x: Floating-point tensor of any shape.

    Returns:
        $\sigma(x)$, same shape and dtype as ``x``.

    Raises:
        TypeError: If ``x`` is not a floating-point tensor.
    """
    _check_floating(x, "sigmoid")
    e = torch.exp(torch.where(x >= 0, -x, x))  # e^{-|x|} in (0, 1], never overflows
    return torch.where(x >= 0, 1 / (1 + e), e / (1 + e))


# --8<-- [end:sigmoid]


# --8<-- [start:sigmoid-grad]
def sigmoid_grad(x: torch.Tensor) -> torch.Tensor:
    r"""Derivative of the sigmoid, $\sigma'(x) = \sigma(x)\,(1 - \sigma(x))$, at most $1/4$.

    Args:
        x: Floating-point tensor of any shape.

    Returns:
        $\sigma'(x)$, same shape and dtype as ``x``.
    """
    _check_floating(x, "sigmoid_grad")
    s = sigmoid(x)
    return s * (1 - s)


# --8<-- [end:sigmoid-grad]


# --8<-- [start:tanh]
def tanh(x: torch.Tensor) -> torch.Tensor:
    r"""Hyperbolic tangent, a zero-centred squashing into $(-1, 1)$.

    $$
    \begin{aligned}
    \tanh(x) &= \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}} \\
    &= \operatorname{sign}(x)\,\frac{1 - e^{-2|x|}}{1 + e^{-2|x|}}, \\
    \tanh'(x) &= 1 - \tanh^2(x).
    \end{aligned}
    $$

    The second form only exponentiates $-2|x| \le 0$, so nothing overflows. Writing
    $1 - e^{-2|x|}$ as $-\operatorname{expm1}(-2|x|)$ keeps full precision for tiny $x$, where
    subtracting two numbers close to 1 would lose it.

    Args:
        x: Floating-point tensor of any shape.

    Returns:
        $\tanh(x)$, same shape and dtype as ``x``.

    Raises:
        TypeError: If ``x`` is not a floating-point tensor.
    """
    _check_floating(x, "tanh")
    m = torch.expm1(torch.where(x >= 0, -2 * x, 2 * x))  # e^{-2|x|} - 1 in (-1, 0]
    magnitude = -m / (2 + m)  # tanh(|x|) = (1 - e^{-2|x|}) / (1 + e^{-2|x|})
    return torch.where(x >= 0, magnitude, -magnitude)


# --8<-- [end:tanh]


# --8<-- [start:tanh-grad]
def tanh_grad(x: torch.Tensor) -> torch.Tensor:
    r"""Derivative of tanh, $\tanh'(x) = 1 - \tanh^2(x)$, at most $1$ (at $x = 0$).

    Args:
        x: Floating-point tensor of any shape.

    Returns:
        $\tanh'(x)$, same shape and dtype as ``x``.
    """
    _check_floating(x, "tanh_grad")
    t = tanh(x)
    return 1 - t * t


# --8<-- [end:tanh-grad]


# --8<-- [start:relu]
def relu(x: torch.Tensor) -> torch.Tensor:
    r"""Rectified linear unit: keep positive inputs, zero the rest.

    $$
    \begin{aligned}
    \operatorname{ReLU}(x) &= \max(0, x), \\
    \operatorname{ReLU}'(x) &= \begin{cases} 1 & x > 0 \\ 0 & x \le 0 \end{cases}
    \end{aligned}
    $$

    The derivative at $0$ is taken to be $0$, as PyTorch does. Written as
    ``where(x <= 0, 0, x)`` so that a NaN input stays NaN, as it does in PyTorch.

    Args:
        x: Floating-point tensor of any shape.

    Returns:
        $\max(0, x)$, same shape and dtype as ``x``.

    Raises:
        TypeError: If ``x`` is not a floating-point tensor.
    """
    _check_floating(x, "relu")
    return torch.where(x <= 0, 0.0, x)


# --8<-- [end:relu]


# --8<-- [start:relu-grad]
def relu_grad(x: torch.Tensor) -> torch.Tensor:
    r"""Derivative of ReLU: $1$ for $x > 0$, else $0$ (including at $x = 0$).

    Args:
        x: Floating-point tensor of any shape.

    Returns:
        $\operatorname{ReLU}'(x)$, same shape and dtype as ``x``.
    """
    _check_floating(x, "relu_grad")
    return (x > 0).to(x.dtype)


# --8<-- [end:relu-grad]


# --8<-- [start:leaky-relu]
def leaky_relu(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    r"""Leaky ReLU: like ReLU, but negative inputs keep a small slope, so no unit stops learning.

    $$
    \begin{aligned}
    \operatorname{LeakyReLU}(x) &= \begin{cases} x & x > 0 \\ \alpha x & x \le 0 \end{cases} \\
    \operatorname{LeakyReLU}'(x) &= \begin{cases} 1 & x > 0 \\ \alpha & x \le 0 \end{cases}
    \end{aligned}
    $$

    with $\alpha$ = ``negative_slope``.

    Args:
        x: Floating-point tensor of any shape.
        negative_slope: The slope $\alpha$ for $x \le 0$.

    Returns:
        $\operatorname{LeakyReLU}(x)$, same shape and dtype as ``x``.

    Raises:
        TypeError: If ``x`` is not a floating-point tensor.
    """
    _check_floating(x, "leaky_relu")
    return torch.where(x > 0, x, negative_slope * x)


# --8<-- [end:leaky-relu]


# --8<-- [start:leaky-relu-grad]
def leaky_relu_grad(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    r"""Derivative of leaky ReLU: $1$ for $x > 0$, else $\alpha$ = ``negative_slope``.

    Args:
        x: Floating-point tensor of any shape.
        negative_slope: The slope $\alpha$ for $x \le 0$.

    Returns:
        $\operatorname{LeakyReLU}'(x)$, same shape and dtype as ``x``.
    """
    _check_floating(x, "leaky_relu_grad")
    return torch.where(x > 0, torch.ones_like(x), negative_slope)


# --8<-- [end:leaky-relu-grad]


# --8<-- [start:elu]
def elu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    r"""Exponential linear unit: identity for positive inputs, a smooth saturation at $-\alpha$.

    $$
    \begin{aligned}
    \operatorname{ELU}(x) &= \begin{cases} x & x > 0 \\ \alpha\,(e^{x} - 1) & x \le 0 \end{cases} \\
    \operatorname{ELU}'(x) &= \begin{cases} 1 & x > 0 \\ \alpha\,e^{x} & x \le 0 \end{cases}
    \end{aligned}
    $$

    ``torch.where`` evaluates both branches everywhere, and autograd differentiates both: for
    large positive $x$ the unused branch $e^{x}$ would overflow, and its zero gradient times
    $\infty$ would give NaN. Feeding the exponential $\min(x, 0)$ keeps both branches finite;
    ``expm1`` computes $e^{x} - 1$ without losing precision for small $|x|$.

    Args:
        x: Floating-point tensor of any shape.
        alpha: The value $\alpha$ that $\operatorname{ELU}(x)$ approaches as $x \to -\infty$
            is $-\alpha$.

    Returns:
        $\operatorname{ELU}(x)$, same shape and dtype as ``x``.

    Raises:
        TypeError: If ``x`` is not a floating-point tensor.
    """
    _check_floating(x, "elu")
    negative_part = torch.where(x > 0, 0.0, x)  # min(x, 0), with gradient 1 at x = 0
    return torch.where(x > 0, x, alpha * torch.expm1(negative_part))


# --8<-- [end:elu]


# --8<-- [start:elu-grad]
def elu_grad(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    r"""Derivative of ELU: $1$ for $x > 0$, else $\alpha\,e^{x}$.

    Args:
        x: Floating-point tensor of any shape.
        alpha: The ELU's $\alpha$.

    Returns:
        $\operatorname{ELU}'(x)$, same shape and dtype as ``x``.
    """
    _check_floating(x, "elu_grad")
    return torch.where(x > 0, torch.ones_like(x), alpha * torch.exp(torch.clamp(x, max=0)))


# --8<-- [end:elu-grad]


# --8<-- [start:gelu]
def gelu(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    r"""Gaussian error linear unit: $x$ weighted by how likely a standard normal is below it.

    $$
    \begin{aligned}
    \operatorname{GELU}(x) &= x\,\Phi(x) \\
    &= \frac{x}{2}\Bigl(1 + \operatorname{erf}\bigl(x/\sqrt{2}\bigr)\Bigr), \\
    \operatorname{GELU}'(x) &= \Phi(x) + x\,\varphi(x),
    \end{aligned}
    $$

    where $\Phi$ and $\varphi = e^{-x^2/2}/\sqrt{2\pi}$ are the standard normal CDF and density.
    With ``approximate="tanh"`` (the form used by the original BERT and GPT-2 code):

    $$
    \begin{aligned}
    \operatorname{GELU}(x) &\approx \frac{x}{2}\bigl(1 + \tanh u\bigr), \\
    u &= \sqrt{2/\pi}\,\bigl(x + 0.044715\,x^3\bigr).
    \end{aligned}
    $$

    Args:
        x: Floating-point tensor of any shape.
        approximate: ``"none"`` for the exact erf form, ``"tanh"`` for the tanh approximation.

    Returns:
        $\operatorname{GELU}(x)$, same shape and dtype as ``x``.

    Raises:
        TypeError: If ``x`` is not a floating-point tensor.
        ValueError: If ``approximate`` is neither ``"none"`` nor ``"tanh"``.
    """
    _check_floating(x, "gelu")
    _check_approximate(approximate, "gelu")
    if approximate == "tanh":
        u = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
        return 0.5 * x * (1 + tanh(u))
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


# --8<-- [end:gelu]


# --8<-- [start:gelu-grad]
def gelu_grad(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    r"""Derivative of GELU, exact or of its tanh approximation.

    $$
    \begin{aligned}
    &\frac{d}{dx}\,x\,\Phi(x) = \Phi(x) + x\,\varphi(x), \\
    &\frac{d}{dx}\,\frac{x}{2}(1 + \tanh u) \\
    &\quad = \frac{1 + \tanh u}{2} + \frac{x}{2}\,(1 - \tanh^2 u)\,\frac{du}{dx}, \\
    &\frac{du}{dx} = \sqrt{2/\pi}\,(1 + 3 \cdot 0.044715\,x^2),
    \end{aligned}
    $$

    with $u$ the argument of $\tanh$ in [`gelu`][dlref.activations.gelu]'s approximation.

    Args:
        x: Floating-point tensor of any shape.
        approximate: ``"none"`` or ``"tanh"``, as in [`gelu`][dlref.activations.gelu].

    Returns:
        $\operatorname{GELU}'(x)$, same shape and dtype as ``x``.

    Raises:
        ValueError: If ``approximate`` is neither ``"none"`` nor ``"tanh"``.
    """
    _check_floating(x, "gelu_grad")
    _check_approximate(approximate, "gelu_grad")
    if approximate == "tanh":
        u = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
        du = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x**2)
        t = tanh(u)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
    cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2)))  # Phi(x)
    pdf = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)  # phi(x)
    return cdf + x * pdf


# --8<-- [end:gelu-grad]


# --8<-- [start:silu]
def silu(x: torch.Tensor) -> torch.Tensor:
    r"""Sigmoid linear unit (also called swish): $x$ gated by its own sigmoid.

    $$
    \begin{aligned}
    \operatorname{SiLU}(x) &= x\,\sigma(x), \\
    \operatorname{SiLU}'(x) &= \sigma(x)\,\bigl(1 + x\,(1 - \sigma(x))\bigr).
    \end{aligned}
    $$

    Args:
        x: Floating-point tensor of any shape.

    Returns:
        $\operatorname{SiLU}(x)$, same shape and dtype as ``x``.

    Raises:
        TypeError: If ``x`` is not a floating-point tensor.
    """
    _check_floating(x, "silu")
    return x * sigmoid(x)


# --8<-- [end:silu]


# --8<-- [start:silu-grad]
def silu_grad(x: torch.Tensor) -> torch.Tensor:
    r"""Derivative of SiLU, $\sigma(x)\,(1 + x\,(1 - \sigma(x)))$.

    Unlike ReLU's, it is smooth and dips slightly below $0$ (minimum near $x \approx -2.4$).

    Args:
        x: Floating-point tensor of any shape.

    Returns:
        $\operatorname{SiLU}'(x)$, same shape and dtype as ``x``.
    """
    _check_floating(x, "silu_grad")
    s = sigmoid(x)
    return s * (1 + x * (1 - s))


# --8<-- [end:silu-grad]


# --8<-- [start:softmax]
def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Softmax: turn scores (logits) into probabilities that sum to 1 along ``dim``.

    With $s = \operatorname{softmax}(x)$, any constant $c$ and $\mathbb{1}[i = j]$ equal to 1
    when $i = j$ and 0 otherwise:

    $$
    \begin{aligned}
    s_i &= \frac{e^{x_i}}{\sum_j e^{x_j}} = \frac{e^{x_i - c}}{\sum_j e^{x_j - c}}, \\
    \frac{\partial s_i}{\partial x_j} &= s_i\,\bigl(\mathbb{1}[i = j] - s_j\bigr).
    \end{aligned}
    $$

    Every shift $c$ gives the same result; choosing the maximum $c = \max_j x_j$ (``m`` in the
    code) makes every exponent $\le 0$, so nothing overflows (logits around $10^4$ are fine), and
    at least one term is $e^0 = 1$, so the sum never underflows to $0$.
    Entries equal to $-\infty$ (masked positions) get probability $0$, as long as their row
    has a finite entry; a row of only $-\infty$ gives NaN, as in PyTorch.

    Args:
        x: Floating-point tensor of logits, any shape.
        dim: The dimension that sums to 1.

    Returns:
        Probabilities, same shape and dtype as ``x``.

    Raises:
        TypeError: If ``x`` is not a floating-point tensor or ``dim`` is not an int.
        ValueError: If ``dim`` is out of range for ``x``.
    """
    _check_floating(x, "softmax")
    _check_dim(x, dim, "softmax")
    m = x.amax(dim=dim, keepdim=True).detach()  # the shift is a constant: the result ignores it
    e = torch.exp(x - m)  # every exponent <= 0: no overflow
    return e / e.sum(dim=dim, keepdim=True)


# --8<-- [end:softmax]


# --8<-- [start:log-softmax]
def log_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Logarithm of the softmax, computed without ever forming the (possibly tiny) probabilities.

    With $s = \operatorname{softmax}(x)$ and $c = \max_j x_j$ (the log-sum-exp trick):

    $$
    \begin{aligned}
    \log s_i &= x_i - \log \sum_j e^{x_j} \\
    &= (x_i - c) - \log \sum_j e^{x_j - c}, \\
    \frac{\partial \log s_i}{\partial x_j} &= \mathbb{1}[i = j] - s_j.
    \end{aligned}
    $$

    Taking ``log(softmax(x))`` instead would give $\log 0 = -\infty$ wherever a probability
    underflows; this form stays finite there. This is what cross-entropy losses use.

    Args:
        x: Floating-point tensor of logits, any shape.
        dim: The dimension to normalise over.

    Returns:
        Log-probabilities, same shape and dtype as ``x``.

    Raises:
        TypeError: If ``x`` is not a floating-point tensor or ``dim`` is not an int.
        ValueError: If ``dim`` is out of range for ``x``.
    """
    _check_floating(x, "log_softmax")
    _check_dim(x, dim, "log_softmax")
    shifted = x - x.amax(dim=dim, keepdim=True).detach()  # every entry <= 0
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


# --8<-- [end:log-softmax]
