r"""Activation functions, written from their formulas, with their derivatives and one table of all.

Explained on the page [Neurons and activation functions](../foundations/neurons-and-activations.md).


Each activation is built from elementary tensor operations, so autograd differentiates straight
through it, and each matches its `torch.nn.functional` counterpart in value and gradient. Each
`*_grad` gives the elementwise derivative in closed form (the tests check it against autograd):

| activation | $\phi(x)$ | $\phi'(x)$ |
| --- | --- | --- |
| sigmoid | $\sigma(x) = \dfrac{1}{1 + e^{-x}}$ | $\sigma(x)\,(1 - \sigma(x))$, at most $1/4$ |
| tanh | $\dfrac{e^{x} - e^{-x}}{e^{x} + e^{-x}}$ | $1 - \tanh^2(x)$ |
| ReLU | $\max(0, x)$ | $1$ if $x > 0$, else $0$ |
| leaky ReLU | $x$ if $x > 0$, else $\alpha x$ | $1$ if $x > 0$, else $\alpha$ |
| ELU | $x$ if $x > 0$, else $\alpha\,(e^{x} - 1)$ | $1$ if $x > 0$, else $\alpha\,e^{x}$ |
| GELU | $x\,\Phi(x)$ | $\Phi(x) + x\,\varphi(x)$ |
| SiLU | $x\,\sigma(x)$ | $\sigma(x)\,\bigl(1 + x\,(1 - \sigma(x))\bigr)$ |

$\Phi$ and $\varphi$ are the standard normal CDF and density; $\alpha$ is ``negative_slope`` for
leaky ReLU and ``alpha`` for ELU. The derivative at a kink ($x = 0$) is the one PyTorch uses.
GELU's ``approximate="tanh"`` form (the original BERT and GPT-2 code) is
$\frac{x}{2}(1 + \tanh u)$ with $u = \sqrt{2/\pi}\,(x + 0.044715\,x^3)$.

**Where the textbook formula overflows, the code uses an equivalent form that does not.** The
sigmoid is $1/(1 + e^{-x}) = e^{x}/(1 + e^{x})$: the first form for $x \ge 0$, the second for
$x < 0$, so only $e^{-|x|} \in (0, 1]$ is ever computed. Tanh is
$\operatorname{sign}(x)\,(1 - e^{-2|x|})/(1 + e^{-2|x|})$, with $1 - e^{-2|x|}$ taken as
$-\operatorname{expm1}(-2|x|)$ to keep full precision for tiny $x$. ELU feeds its exponential
$\min(x, 0)$: ``torch.where`` differentiates both branches, and an overflowing unused branch
would turn the gradient into NaN.

The softmax turns scores into probabilities along ``dim``; with $s = \operatorname{softmax}(x)$,
$\mathbb{1}[i = j]$ equal to 1 when $i = j$ and 0 otherwise, and any constant $c$:

$$
\begin{aligned}
s_i &= \frac{e^{x_i}}{\sum_j e^{x_j}} = \frac{e^{x_i - c}}{\sum_j e^{x_j - c}}, \\
\frac{\partial s_i}{\partial x_j} &= s_i\,\bigl(\mathbb{1}[i = j] - s_j\bigr), \\
\log s_i &= (x_i - c) - \log \sum_j e^{x_j - c}.
\end{aligned}
$$

Choosing $c = \max_j x_j$ makes every exponent $\le 0$ (nothing overflows, even for logits of
$10^4$) and one term $e^0 = 1$ (the sum never underflows to 0). The log-softmax in this form
(the log-sum-exp trick) stays finite where ``log(softmax(x))`` would give $\log 0 = -\infty$.
Entries equal to $-\infty$ (masked positions) get probability 0 as long as their row has a
finite entry; a row of only $-\infty$ gives NaN, as in PyTorch.

`ACTIVATIONS` is the one table of hidden-layer nonlinearities the rest of `dlref` derives from:
each name with its function, its derivative and the `torch.nn` module that computes the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from dlref import checks

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _tanh_argument(x: torch.Tensor) -> torch.Tensor:
    """$u = \\sqrt{2/\\pi}\\,(x + 0.044715\\,x^3)$, the argument of GELU's tanh approximation."""
    return _SQRT_2_OVER_PI * (x + 0.044715 * x**3)


def _normal_cdf(x: torch.Tensor) -> torch.Tensor:
    """$\\Phi(x)$, the standard normal CDF."""
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


# --8<-- [start:sigmoid]
def sigmoid(x: torch.Tensor) -> torch.Tensor:
    r"""Logistic sigmoid $\sigma(x) = 1 / (1 + e^{-x})$, finite for every $x$."""
    checks.floating_tensor("sigmoid", x)
    e = torch.exp(torch.where(x >= 0, -x, x))  # e^{-|x|} in (0, 1] (slope -1 at 0, as -x's)
    return torch.where(x >= 0, 1, e) / (1 + e)  # 1/(1 + e^{-x}) for x >= 0, e^x/(1 + e^x) below


# --8<-- [end:sigmoid]


def sigmoid_grad(x: torch.Tensor) -> torch.Tensor:
    r"""$\sigma'(x)$."""
    checks.floating_tensor("sigmoid_grad", x)
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x: torch.Tensor) -> torch.Tensor:
    r"""Hyperbolic tangent, $\tanh(x) = (e^{x} - e^{-x}) / (e^{x} + e^{-x})$."""
    checks.floating_tensor("tanh", x)
    m = torch.expm1(torch.where(x >= 0, -2 * x, 2 * x))  # e^{-2|x|} - 1 in (-1, 0]
    magnitude = -m / (2 + m)  # tanh(|x|) = (1 - e^{-2|x|}) / (1 + e^{-2|x|})
    return torch.where(x >= 0, magnitude, -magnitude)


def tanh_grad(x: torch.Tensor) -> torch.Tensor:
    r"""$\tanh'(x)$."""
    checks.floating_tensor("tanh_grad", x)
    t = tanh(x)
    return 1 - t * t


def relu(x: torch.Tensor) -> torch.Tensor:
    r"""Rectified linear unit, $\max(0, x)$; a NaN input stays NaN, as in PyTorch."""
    checks.floating_tensor("relu", x)
    return torch.where(x <= 0, 0.0, x)


def relu_grad(x: torch.Tensor) -> torch.Tensor:
    r"""$\operatorname{ReLU}'(x)$."""
    checks.floating_tensor("relu_grad", x)
    return (x > 0).to(x.dtype)


def leaky_relu(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    r"""Leaky ReLU: $x$ for $x > 0$, else $\alpha x$ with $\alpha$ = ``negative_slope``."""
    checks.floating_tensor("leaky_relu", x)
    return torch.where(x > 0, x, negative_slope * x)


def leaky_relu_grad(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    r"""$\operatorname{LeakyReLU}'(x)$."""
    checks.floating_tensor("leaky_relu_grad", x)
    return torch.where(x > 0, torch.ones_like(x), negative_slope)


def elu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    r"""Exponential linear unit: $x$ for $x > 0$, else $\alpha\,(e^{x} - 1)$."""
    checks.floating_tensor("elu", x)
    negative_part = torch.where(x > 0, 0.0, x)  # min(x, 0), with gradient 1 at x = 0
    return torch.where(x > 0, x, alpha * torch.expm1(negative_part))


def elu_grad(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    r"""$\operatorname{ELU}'(x)$."""
    checks.floating_tensor("elu_grad", x)
    return torch.where(x > 0, torch.ones_like(x), alpha * torch.exp(torch.clamp(x, max=0)))


# --8<-- [start:gelu]
def gelu(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    r"""Gaussian error linear unit $x\,\Phi(x)$, exact or with ``approximate="tanh"``."""
    checks.floating_tensor("gelu", x)
    checks.one_of("gelu", "approximate", approximate, ("none", "tanh"))
    if approximate == "tanh":
        return 0.5 * x * (1 + tanh(_tanh_argument(x)))  # x/2 (1 + tanh u)
    return x * _normal_cdf(x)  # x Φ(x), Φ(x) = (1 + erf(x/√2)) / 2


# --8<-- [end:gelu]


def gelu_grad(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    r"""$\operatorname{GELU}'(x)$, exact or of the tanh approximation."""
    checks.floating_tensor("gelu_grad", x)
    checks.one_of("gelu_grad", "approximate", approximate, ("none", "tanh"))
    if approximate == "tanh":
        t = tanh(_tanh_argument(x))
        du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x**2)  # du/dx
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
    pdf = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)  # φ(x)
    return _normal_cdf(x) + x * pdf


def silu(x: torch.Tensor) -> torch.Tensor:
    r"""Sigmoid linear unit (swish), $x\,\sigma(x)$."""
    checks.floating_tensor("silu", x)
    return x * sigmoid(x)


def silu_grad(x: torch.Tensor) -> torch.Tensor:
    r"""$\operatorname{SiLU}'(x)$: smooth, and slightly below 0 for $x < 0$ (lowest near $-2.4$)."""
    checks.floating_tensor("silu_grad", x)
    s = sigmoid(x)
    return s * (1 + x * (1 - s))


# --8<-- [start:softmax]
def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Turn scores into probabilities that sum to 1 along ``dim``: $e^{x_i} / \sum_j e^{x_j}$."""
    _check_scores("softmax", x, dim)
    m = x.amax(dim=dim, keepdim=True).detach()  # c = max_j x_j, a constant: the result ignores it
    e = torch.exp(x - m)  # every exponent <= 0: no overflow
    return e / e.sum(dim=dim, keepdim=True)


# --8<-- [end:softmax]


def log_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""$\log \operatorname{softmax}(x)$ by the log-sum-exp trick: finite where softmax is 0."""
    _check_scores("log_softmax", x, dim)
    shifted = x - x.amax(dim=dim, keepdim=True).detach()  # x - c, every entry <= 0
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def _check_scores(caller: str, x: torch.Tensor, dim: int) -> None:
    """A softmax needs floating-point scores and a dimension of them to normalise over."""
    checks.floating_tensor(caller, x)
    checks.dimension(caller, x, dim)


class Activation(NamedTuple):
    r"""A hidden-layer nonlinearity $\phi$: its function, derivative and ``torch.nn`` module."""

    function: Callable[[torch.Tensor], torch.Tensor]
    derivative: Callable[[torch.Tensor], torch.Tensor]
    module: type[nn.Module]


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation(relu, relu_grad, nn.ReLU),
    "leaky_relu": Activation(leaky_relu, leaky_relu_grad, nn.LeakyReLU),
    "elu": Activation(elu, elu_grad, nn.ELU),
    "gelu": Activation(gelu, gelu_grad, nn.GELU),
    "silu": Activation(silu, silu_grad, nn.SiLU),
    "tanh": Activation(tanh, tanh_grad, nn.Tanh),
    "sigmoid": Activation(sigmoid, sigmoid_grad, nn.Sigmoid),
}
"""Every activation by name, with the defaults of its ``torch.nn`` module (slope 0.01, alpha 1)."""
