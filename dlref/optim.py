r"""Optimizers written out: SGD with momentum, RMSprop, Adam and AdamW.

Each optimizer is a `torch.optim.Optimizer` subclass, so param groups, `add_param_group`,
`zero_grad`, `state_dict` / `load_state_dict` and `torch.optim.lr_scheduler` all work as with
PyTorch's own. Only `step` is new: a plain loop over the parameters of each group, one line per
equation, with the per-parameter state (momentum buffers, moment estimates) in `self.state[p]`
under the same keys PyTorch uses, so the state dicts of the two are interchangeable.

Notation (the site's, shared by every optimizer): $\theta_t$ the parameters after step $t$,
$g_t = \nabla_\theta f(\theta_{t-1})$ the gradient, $\eta$ the learning rate, $\rho$ the
momentum coefficient, $\lambda$ the weight decay (PyTorch's documentation uses other letters for
the first two). Operations on vectors ($g_t^2$, $\sqrt{v_t}$, division) are elementwise.
"""

import math
from collections.abc import Callable

import torch
from torch.optim import Optimizer
from torch.optim.optimizer import ParamsT


def _check_hyperparameter(owner: str, name: str, value: float, upper: float = math.inf) -> None:
    """Raise unless ``value`` is a real number in ``[0, upper)``.

    Args:
        owner: The optimizer's name, for the message.
        name: The argument's name, for the message.
        value: The value to check.
        upper: The exclusive upper bound (none by default).

    Raises:
        TypeError: If ``value`` is not an int or a float.
        ValueError: If ``value`` is outside ``[0, upper)`` (NaN included).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{owner} expects {name} to be a float, got {type(value).__name__}")
    if not 0.0 <= value < upper:
        wanted = ">= 0" if upper == math.inf else f"in [0, {upper:g})"
        raise ValueError(f"{owner} expects {name} {wanted}, got {value!r}")


def _evaluate_closure(closure: Callable[[], float] | None) -> float | None:
    """Re-evaluate the loss with ``closure``, with autograd on (``step`` itself runs without it).

    Args:
        closure: A function that zeroes the gradients, computes the loss, calls ``backward`` and
            returns the loss; or ``None``.

    Returns:
        The closure's loss, or ``None`` when there is no closure.
    """
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional (Nesterov) momentum and weight decay.

    Plain SGD steps against the gradient, $\theta_t = \theta_{t-1} - \eta g_t$. Momentum keeps a
    running sum of past gradients $b_t$ (a velocity) and steps along it instead, which damps the
    zig-zag across a narrow valley and speeds up the walk along it. Nesterov's variant steps along
    the gradient plus the velocity, a look-ahead that reacts sooner when the valley turns.

    Args:
        params: The tensors to optimize, or dicts defining param groups.
        lr: Learning rate $\eta$.
        momentum: Momentum coefficient $\rho$ (0 turns momentum off).
        dampening: Dampening $\tau$: the share of each new gradient left out of the velocity.
        weight_decay: L2 penalty $\lambda$, added to the gradient as $\lambda \theta$. With
            momentum it enters the velocity like the rest of the gradient, so it is not the same
            as shrinking the weights by $1 - \eta\lambda$ per step (decoupled decay).
        nesterov: Use Nesterov momentum (needs ``momentum > 0`` and ``dampening = 0``).

    Raises:
        TypeError: If a hyperparameter is not a number.
        ValueError: If ``lr``, ``momentum``, ``dampening`` or ``weight_decay`` is negative, or
            ``nesterov`` is set without momentum or with dampening.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
    ) -> None:
        for name, value in [
            ("lr", lr),
            ("momentum", momentum),
            ("dampening", dampening),
            ("weight_decay", weight_decay),
        ]:
            _check_hyperparameter("SGD", name, value)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                "SGD with nesterov=True needs momentum > 0 and dampening = 0, "
                f"got momentum={momentum!r}, dampening={dampening!r}"
            )
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults)

    # --8<-- [start:sgd-step]
    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        r"""Update every parameter that has a gradient, once.

        $$
        \begin{aligned}
        g_t &\leftarrow \nabla_\theta f(\theta_{t-1}) + \lambda \theta_{t-1} \\
        b_t &\leftarrow \begin{cases} g_t & t = 1 \\
            \rho b_{t-1} + (1 - \tau) g_t & t > 1 \end{cases} \\
        d_t &\leftarrow \begin{cases} g_t + \rho b_t & \text{nesterov} \\
            b_t & \text{otherwise} \end{cases} \\
        \theta_t &\leftarrow \theta_{t-1} - \eta d_t
        \end{aligned}
        $$

        With $\rho = 0$ there is no buffer and $d_t = g_t$. The buffer $b_t$ is
        ``self.state[p]["momentum_buffer"]``.

        Args:
            closure: Optional function that re-evaluates the model and returns the loss.

        Returns:
            The loss returned by ``closure``, or ``None``.
        """
        loss = _evaluate_closure(closure)
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])  # g + λθ
                if momentum != 0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = grad.clone()  # b_1 = g_1
                    else:
                        state["momentum_buffer"].mul_(momentum).add_(grad, alpha=1 - dampening)
                    buf = state["momentum_buffer"]
                    grad = grad.add(buf, alpha=momentum) if group["nesterov"] else buf
                p.add_(grad, alpha=-lr)  # θ ← θ - η d
        return loss

    # --8<-- [end:sgd-step]


class RMSprop(Optimizer):
    r"""RMSprop: divide each coordinate's step by a running root mean square of its gradients.

    Coordinates with large gradients get small steps and those with small gradients large ones,
    so one learning rate suits parameters of very different scales. The centered variant divides
    by a running estimate of the gradient's standard deviation instead of its RMS.

    Args:
        params: The tensors to optimize, or dicts defining param groups.
        lr: Learning rate $\eta$.
        alpha: Smoothing constant $\alpha$ of the running averages, in $[0, 1)$.
        eps: $\epsilon$, added to the denominator for numerical stability.
        weight_decay: L2 penalty $\lambda$, added to the gradient as $\lambda \theta$.
        momentum: Momentum coefficient $\rho$ (0 turns momentum off).
        centered: Normalize by the estimated variance of the gradient instead of its second
            moment.

    Raises:
        TypeError: If a hyperparameter is not a number.
        ValueError: If ``lr``, ``eps``, ``weight_decay`` or ``momentum`` is negative, or
            ``alpha`` is outside $[0, 1)$.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
    ) -> None:
        for name, value in [
            ("lr", lr),
            ("eps", eps),
            ("weight_decay", weight_decay),
            ("momentum", momentum),
        ]:
            _check_hyperparameter("RMSprop", name, value)
        _check_hyperparameter("RMSprop", "alpha", alpha, upper=1.0)
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
        }
        super().__init__(params, defaults)

    # --8<-- [start:rmsprop-step]
    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        r"""Update every parameter that has a gradient, once.

        $$
        \begin{aligned}
        g_t &\leftarrow \nabla_\theta f(\theta_{t-1}) + \lambda \theta_{t-1} \\
        v_t &\leftarrow \alpha v_{t-1} + (1 - \alpha) g_t^2 \\
        \bar g_t &\leftarrow \alpha \bar g_{t-1} + (1 - \alpha) g_t \\
        \tilde v_t &\leftarrow \begin{cases} v_t - \bar g_t^2 & \text{centered} \\
            v_t & \text{otherwise} \end{cases} \\
        b_t &\leftarrow \rho b_{t-1} + g_t / (\sqrt{\tilde v_t} + \epsilon) \\
        \theta_t &\leftarrow \theta_{t-1} - \eta b_t
        \end{aligned}
        $$

        All running averages start at 0; $\bar g_t$, the running mean of the gradient, is kept
        only when centered. With $\rho = 0$ the step is
        $\theta_t = \theta_{t-1} - \eta g_t / (\sqrt{\tilde v_t} + \epsilon)$. State keys (as
        in PyTorch): ``step``, ``square_avg`` ($v$), ``grad_avg`` ($\bar g$, centered only),
        ``momentum_buffer`` ($b$, momentum only).

        Args:
            closure: Optional function that re-evaluates the model and returns the loss.

        Returns:
            The loss returned by ``closure``, or ``None``.
        """
        loss = _evaluate_closure(closure)
        for group in self.param_groups:
            lr, alpha, momentum = group["lr"], group["alpha"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:  # first step: every running average starts at 0
                    state["step"] = torch.zeros(())
                    state["square_avg"] = torch.zeros_like(p)
                    if momentum > 0:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    if group["centered"]:
                        state["grad_avg"] = torch.zeros_like(p)
                state["step"] += 1
                grad = p.grad
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])  # g + λθ
                square_avg = state["square_avg"]
                square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)  # v
                if group["centered"]:
                    grad_avg = state["grad_avg"]
                    grad_avg.lerp_(grad, 1 - alpha)  # ḡ
                    denom = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()  # √(v - ḡ²)
                else:
                    denom = square_avg.sqrt()  # √v
                denom.add_(group["eps"])
                if momentum > 0:
                    buf = state["momentum_buffer"]
                    buf.mul_(momentum).addcdiv_(grad, denom)  # b ← ρb + g / (√ṽ + ε)
                    p.add_(buf, alpha=-lr)
                else:
                    p.addcdiv_(grad, denom, value=-lr)  # θ ← θ - η g / (√ṽ + ε)
        return loss

    # --8<-- [end:rmsprop-step]


class Adam(Optimizer):
    r"""Adam: momentum on the gradient, divided by a running RMS of the gradient, bias-corrected.

    Adam keeps two exponential moving averages per coordinate: $m$ of the gradient (a direction,
    like momentum) and $v$ of its square (a scale, like RMSprop). Both start at 0, so early on
    they are biased towards 0; dividing by $1 - \beta^t$ undoes that. ``weight_decay`` here is an
    L2 penalty added to the gradient, which then gets rescaled like the rest of it; see `AdamW`
    for the decoupled version.

    Args:
        params: The tensors to optimize, or dicts defining param groups.
        lr: Learning rate $\eta$.
        betas: Decay rates $(\beta_1, \beta_2)$ of the two moving averages, each in $[0, 1)$.
        eps: $\epsilon$, added to the denominator for numerical stability.
        weight_decay: Weight decay $\lambda$.
        amsgrad: Use AMSGrad: normalize by the largest $v$ seen so far, so that the effective
            step size never grows.

    Raises:
        TypeError: If a hyperparameter is not a number.
        ValueError: If ``lr``, ``eps`` or ``weight_decay`` is negative, or ``betas`` is not a
            pair of numbers in $[0, 1)$.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
    ) -> None:
        owner = type(self).__name__
        for name, value in [("lr", lr), ("eps", eps), ("weight_decay", weight_decay)]:
            _check_hyperparameter(owner, name, value)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{owner} expects betas to be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            _check_hyperparameter(owner, f"betas[{i}]", beta, upper=1.0)
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
        }
        super().__init__(params, defaults)

    # --8<-- [start:adam-weight-decay]
    def apply_weight_decay(
        self, param: torch.Tensor, grad: torch.Tensor, lr: float, weight_decay: float
    ) -> torch.Tensor:
        r"""Adam's weight decay: an L2 penalty, added to the gradient, $g_t + \lambda\theta_{t-1}$.

        Args:
            param: The parameter $\theta_{t-1}$.
            grad: Its gradient $g_t$.
            lr: The learning rate $\eta$ (unused here; `AdamW` needs it).
            weight_decay: $\lambda$.

        Returns:
            The gradient to feed the moment estimates.
        """
        return grad.add(param, alpha=weight_decay)

    # --8<-- [end:adam-weight-decay]

    # --8<-- [start:adam-step]
    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        r"""Update every parameter that has a gradient, once.

        $$
        \begin{aligned}
        g_t &\leftarrow \nabla_\theta f(\theta_{t-1}) + \lambda \theta_{t-1} \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        v_t &\leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \tilde v_t &\leftarrow \begin{cases} \max(\tilde v_{t-1}, v_t) & \text{amsgrad} \\
            v_t & \text{otherwise} \end{cases} \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{1 - \beta_1^t} \,
            \frac{m_t}{\sqrt{\tilde v_t} / \sqrt{1 - \beta_2^t} + \epsilon}
        \end{aligned}
        $$

        $m_0 = v_0 = \tilde v_0 = 0$. In `AdamW` the first line is replaced by the decoupled decay
        $\theta_{t-1} \leftarrow (1 - \eta\lambda)\,\theta_{t-1}$, and $g_t$ is the plain gradient.
        State keys (as in PyTorch): ``step`` ($t$, a 0-dim tensor), ``exp_avg`` ($m$),
        ``exp_avg_sq`` ($v$), ``max_exp_avg_sq`` ($\tilde v$, amsgrad only).

        Args:
            closure: Optional function that re-evaluates the model and returns the loss.

        Returns:
            The loss returned by ``closure``, or ``None``.
        """
        loss = _evaluate_closure(closure)
        for group in self.param_groups:
            lr, (beta1, beta2) = group["lr"], group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:  # first step: both moments start at 0
                    state["step"] = torch.zeros(())
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"].item()
                grad = p.grad
                if group["weight_decay"] != 0:
                    grad = self.apply_weight_decay(p, grad, lr, group["weight_decay"])
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.lerp_(grad, 1 - beta1)  # m ← β1 m + (1 - β1) g
                v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)  # v ← β2 v + (1 - β2) g²
                v_hat = v
                if group["amsgrad"]:
                    v_hat = state["max_exp_avg_sq"]
                    torch.maximum(v_hat, v, out=v_hat)  # ṽ ← max(ṽ, v)
                bias_correction1 = 1 - beta1**t
                bias_correction2 = 1 - beta2**t
                denom = (v_hat.sqrt() / math.sqrt(bias_correction2)).add_(group["eps"])
                p.addcdiv_(m, denom, value=-lr / bias_correction1)
        return loss

    # --8<-- [end:adam-step]


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    In `Adam`, weight decay is added to the gradient and then divided by $\sqrt{\hat v}$, so
    coordinates with large gradients are barely decayed. AdamW shrinks the weights directly,
    $\theta \leftarrow (1 - \eta\lambda)\,\theta$, before the Adam update, so every weight
    decays at the same rate. That is the only difference: `step` is `Adam`'s.

    Args:
        params: The tensors to optimize, or dicts defining param groups.
        lr: Learning rate $\eta$.
        betas: Decay rates $(\beta_1, \beta_2)$ of the two moving averages, each in $[0, 1)$.
        eps: $\epsilon$, added to the denominator for numerical stability.
        weight_decay: Decoupled weight decay $\lambda$.
        amsgrad: Use AMSGrad (see `Adam`).

    Raises:
        TypeError: If a hyperparameter is not a number.
        ValueError: If ``lr``, ``eps`` or ``weight_decay`` is negative, or ``betas`` is not a
            pair of numbers in $[0, 1)$.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)

    # --8<-- [start:adamw-weight-decay]
    def apply_weight_decay(
        self, param: torch.Tensor, grad: torch.Tensor, lr: float, weight_decay: float
    ) -> torch.Tensor:
        r"""AdamW's weight decay: shrink the weights, $\theta \leftarrow (1 - \eta\lambda)\theta$.

        Args:
            param: The parameter $\theta_{t-1}$, decayed in place.
            grad: Its gradient $g_t$.
            lr: The learning rate $\eta$.
            weight_decay: $\lambda$.

        Returns:
            The gradient, unchanged: the decay stays out of the moment estimates.
        """
        param.mul_(1 - lr * weight_decay)
        return grad

    # --8<-- [end:adamw-weight-decay]
